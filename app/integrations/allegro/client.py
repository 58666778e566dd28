"""Allegro REST API client: orders, their event journal, fulfillment status (HTTP and Allegro's JSON only)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import requests

from app.integrations.base import (
    AuthenticationFailed,
    CarrierDTO,
    PlatformError,
    PlatformStateDTO,
    RemoteOrderState,
    RemoteShipment,
    RevisionConflict,
    send,
    with_request_retries,
)

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
ENVIRONMENTS = {
    "production": {"api": "https://api.allegro.pl", "auth": "https://allegro.pl/auth/oauth"},
    "sandbox": {"api": "https://api.allegro.pl.allegrosandbox.pl",
                "auth": "https://allegro.pl.allegrosandbox.pl/auth/oauth"},
}

# CheckoutFormFulfillmentStatus in the official spec; RETURNED is set by Allegro only.
FULFILLMENT_STATES: tuple[PlatformStateDTO, ...] = (
    PlatformStateDTO("NEW", "New"),
    PlatformStateDTO("PROCESSING", "Processing"),
    PlatformStateDTO("READY_FOR_SHIPMENT", "Ready for shipment"),
    PlatformStateDTO("READY_FOR_PICKUP", "Ready for pickup"),
    PlatformStateDTO("SENT", "Sent"),
    PlatformStateDTO("PICKED_UP", "Picked up"),
    PlatformStateDTO("CANCELLED", "Cancelled"),
    PlatformStateDTO("SUSPENDED", "Suspended"),
    PlatformStateDTO("RETURNED", "Returned", read_only=True),
)


EVENTS_PAGE = 100  # what the journal gives by default (at most 1000)
FORMS_PAGE = 100  # the most GET /order/checkout-forms gives per request


class JournalCursorRefused(PlatformError):
    """Allegro no longer has the events after the cursor (kept 60 days) or refuses the cursor."""


def allegro_time(moment: datetime) -> str:
    """A moment as Allegro writes it: UTC, milliseconds, Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_message(response: requests.Response) -> str:
    """The most useful message in an Allegro error body: userMessage, then message, then code."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        parts = []
        for error in body["errors"]:
            if isinstance(error, dict):
                parts.append(error.get("userMessage") or error.get("message") or error.get("code") or "")
        if any(parts):
            return "; ".join(p for p in parts if p)
    if isinstance(body, dict) and body.get("error"):
        return body.get("error_description") or body["error"]
    return response.reason or f"HTTP {response.status_code}"


def json_body(response: requests.Response) -> Any:
    """The answer's JSON; PlatformError in words when Allegro answered with something else."""
    try:
        return response.json()
    except ValueError as error:
        raise PlatformError(f"Allegro answered {response.request.path_url if response.request else ''} "
                            "with something that is not JSON.") from error


class AllegroClient:
    """Calls to the Allegro API with one access token."""

    def __init__(self, access_token: str, *, api_url: str, session: requests.Session | None = None) -> None:
        self.base = api_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}", "Accept": MEDIA_TYPE,
                                     "Accept-Language": "en-US", "User-Agent": "Kontor"})

    @with_request_retries
    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = send(self.session, method, f"{self.base}{path}", **kwargs)
        if response.status_code == 401:
            raise AuthenticationFailed(f"Allegro refused the access token: {error_message(response)}", 401)
        if response.status_code == 409:
            raise RevisionConflict(f"The order changed on Allegro meanwhile: {error_message(response)}", 409)
        if response.status_code >= 400:
            raise PlatformError(f"Allegro answered HTTP {response.status_code}: {error_message(response)}",
                                response.status_code)
        return response

    def check_connection(self) -> str:
        """Describe the connected account if the token works."""
        body = self._call("GET", "/me").json()
        return f"Connected to Allegro as {body.get('login') or body.get('id') or 'the seller'}."

    # --- orders coming in --------------------------------------------------------------------

    def latest_event(self) -> dict[str, Any] | None:
        """The journal's newest event ({id, occurredAt}), or None on an account that never had one."""
        stats = json_body(self._call("GET", "/order/event-stats"))
        latest = stats.get("latestEvent") if isinstance(stats, dict) else None
        return latest if isinstance(latest, dict) and latest.get("id") else None

    def order_events(self, after: str | None, limit: int = EVENTS_PAGE) -> list[dict[str, Any]]:
        """The journal's events after the event id `after` (raw OrderEvent objects), oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["from"] = after
        try:
            body = json_body(self._call("GET", "/order/events", params=params))
        except PlatformError as error:
            if error.status in (400, 404, 410, 422):
                raise JournalCursorRefused(f"Allegro refused the event journal position {after}: {error.message}",
                                           error.status) from error
            raise
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise PlatformError("Allegro's event journal answered without an “events” list.")
        return events

    def checkout_forms(self, updated_from: datetime, updated_to: datetime | None = None, *, offset: int = 0,
                       limit: int = FORMS_PAGE) -> tuple[list[dict[str, Any]], int]:
        """One page of checkout forms changed in [updated_from, updated_to], oldest change first; and the total."""
        params: dict[str, Any] = {"updatedAt.gte": allegro_time(updated_from), "sort": "updatedAt",
                                  "offset": offset, "limit": limit}
        if updated_to is not None:
            params["updatedAt.lte"] = allegro_time(updated_to)
        body = json_body(self._call("GET", "/order/checkout-forms", params=params))
        forms = body.get("checkoutForms") if isinstance(body, dict) else None
        if not isinstance(forms, list):
            raise PlatformError("Allegro's order list answered without a “checkoutForms” list.")
        total = body.get("totalCount")
        # A count that is not a number: read on while pages come full (the loop stops at a short page).
        return forms, total if isinstance(total, int) else offset + len(forms) + (len(forms) == limit)

    def checkout_form(self, external_order_id: str) -> dict[str, Any]:
        """One checkout form as Allegro has it now."""
        return json_body(self._call("GET", f"/order/checkout-forms/{external_order_id}"))

    def fetch_states(self) -> list[PlatformStateDTO]:
        """Allegro's seller fulfillment statuses (fixed by the API)."""
        return list(FULFILLMENT_STATES)

    def fetch_order_state(self, external_order_id: str) -> RemoteOrderState:
        """The order's fulfillment status and revision."""
        body = self._call("GET", f"/order/checkout-forms/{external_order_id}").json()
        status = (body.get("fulfillment") or {}).get("status") or "NEW"
        return RemoteOrderState(status, body.get("revision"))

    def set_order_state(self, external_order_id: str, state_id: str, revision: str | None = None) -> None:
        """Set the seller fulfillment status (HTTP 204 on success); 409 when `revision` is outdated."""
        params = {"checkoutForm.revision": revision} if revision else None
        # Sent once: a retry must re-read the order (its revision, and whether the write landed).
        type(self)._call.__wrapped__(self, "PUT", f"/order/checkout-forms/{external_order_id}/fulfillment",
                                     params=params, json={"status": state_id}, headers={"Content-Type": MEDIA_TYPE})

    # --- tracking numbers ---------------------------------------------------------------------

    def fetch_carriers(self) -> list[CarrierDTO]:
        """The carriers Allegro accepts as `carrierId` (OTHER among them)."""
        body = self._call("GET", "/order/carriers").json()
        return [CarrierDTO(str(c.get("id") or ""), str(c.get("name") or c.get("id") or ""))
                for c in body.get("carriers") or [] if c.get("id")]

    def fetch_line_item_ids(self, external_order_id: str) -> list[str]:
        """The ids of the checkout form's line items (what a parcel is attached to)."""
        body = self._call("GET", f"/order/checkout-forms/{external_order_id}").json()
        return [str(item["id"]) for item in body.get("lineItems") or [] if item.get("id")]

    def fetch_shipments(self, external_order_id: str) -> list[RemoteShipment]:
        """The tracking numbers the order has on Allegro, from any channel."""
        body = self._call("GET", f"/order/checkout-forms/{external_order_id}/shipments").json()
        return [RemoteShipment(str(s.get("waybill") or ""), str(s.get("carrierId") or ""),
                               str(s.get("carrierName") or "")) for s in body.get("shipments") or []]

    def add_shipment(self, external_order_id: str, carrier_id: str, waybill: str, *, carrier_name: str = "",
                     line_item_ids: list[str] | tuple[str, ...] = ()) -> None:
        """Add a tracking number to the order's line items (HTTP 201). Sent once, never retried here.

        A lost answer may hide an applied write: the caller re-reads the order's shipments first.
        """
        body: dict = {"carrierId": carrier_id, "waybill": waybill}
        if carrier_id == "OTHER":
            body["carrierName"] = carrier_name[:30].strip()
        if line_item_ids:
            body["lineItems"] = [{"id": item_id} for item_id in line_item_ids]
        try:
            type(self)._call.__wrapped__(self, "POST", f"/order/checkout-forms/{external_order_id}/shipments",
                                         json=body, headers={"Content-Type": MEDIA_TYPE})
        except RevisionConflict as conflict:
            # On this resource 409 means the number is used in too many orders, not a stale revision.
            raise PlatformError(f"Allegro refused tracking number {waybill}: it is already used in too many "
                                "orders (HTTP 409).", conflict.status) from conflict
