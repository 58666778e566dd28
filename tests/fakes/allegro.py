"""A fake Allegro: REST API (/me, checkout forms, fulfillment, tracking numbers, carriers) and OAuth
(/auth/oauth) on one port.

Bodies follow tests/fixtures/allegro: the checkout form is checkout-form.example.json; the
error bodies are the real ones in errors.examples.json (ErrorsHolder for the REST API,
error/error_description for OAuth) and the token and device bodies those in auth.examples.json.
Where the sources give no exact text (409, RETURNED, Accept/Content-Type refusals, expired
tokens, refused tracking numbers) the fake uses the same shapes with wording of its own. The
carriers list starts with the spec's example (POCZTA_POLSKA, DHL, YUN_EXPRESS, OTHER) and adds a
few common Polish carriers with ids of the same form. Every API request is checked
against the official spec (allegro_spec); violations are answered like Allegro would (406, 415,
422) and recorded in `spec_violations`.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
import uuid
from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from tests.fakes import allegro_spec
from tests.fakes.allegro_orders import OrderJournal, iso
from tests.fakes.server import FakeServer, with_retry_after

MEDIA_TYPE = allegro_spec.MEDIA_TYPE
AUTH_PREFIX = "/auth/oauth"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ACCESS_TOKEN_TTL = 43199  # what Allegro answers: 12 hours less a second
INCORRECT_DATA = "The request contains incorrect data. Contact the author of the application."  # the spec's example
CARRIERS = ({"id": "POCZTA_POLSKA", "name": "Poczta Polska"}, {"id": "DHL", "name": "DHL"},
            {"id": "YUN_EXPRESS", "name": "Yun Express"}, {"id": "INPOST", "name": "InPost"},
            {"id": "DPD", "name": "DPD"}, {"id": "UPS", "name": "UPS"}, {"id": "GLS", "name": "GLS"},
            {"id": "OTHER"})
SELLER = {"id": "46968690", "login": "Kontor_Test_Seller", "firstName": "Amadeusz", "lastName": "Iksiński",
          "email": "user-email@allegro.pl", "baseMarketplace": {"id": "allegro-pl"}}


def error_body(code: str, message: str | None, *, user_message: str | None = None, path: str | None = None) -> dict:
    """Allegro's ErrorsHolder with one error."""
    return {"errors": [{"code": code, "message": message, "details": None, "path": path,
                        "userMessage": user_message}]}


class FakeAllegro(OrderJournal, FakeServer):
    """Allegro's API and OAuth server for one seller and one application.

    State (read or change under `lock`): `orders` {checkout form id: {"status", "revision", "line_items"}},
    `fulfillment_puts` (accepted PUTs: order_id, status, revision sent, new_revision, at),
    `shipments` {checkout form id: [CheckoutFormAddWaybillCreated bodies]}, `shipment_posts` (accepted
    POSTs: order_id, waybill, carrier_id, carrier_name, line_items, at),
    `spec_violations` (method, path, violations), `refresh_count`, `requests_log`.
    """

    def __init__(self, *, client_id: str = "kontor-test-client", client_secret: str = "kontor-test-secret",
                 access_token_ttl: int = ACCESS_TOKEN_TTL, device_interval: int = 5, refresh_grace: float = 0,
                 **fault_options) -> None:
        super().__init__(**fault_options)
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.device_interval = device_interval
        self.seller = dict(SELLER)
        self.orders: dict[str, dict[str, str]] = {}
        self.fulfillment_puts: list[dict] = []
        self.shipments: dict[str, list[dict]] = {}
        self.shipment_posts: list[dict] = []
        self.spec_violations: list[dict] = []
        self.refresh_count = 0
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        # token -> False (unused) or when it was used (epoch seconds)
        self.refresh_tokens: dict[str, bool | float] = {}
        # A used refresh token is taken again this many seconds afterwards (0: strictly single-use),
        # as OAuth servers with a reuse grace do so that a client whose answer was lost can retry.
        self.refresh_grace = refresh_grace
        self.issued_from: dict[str, list[str]] = {}  # refresh token -> access tokens its use issued
        self.devices: dict[str, dict] = {}  # device_code -> {"user_code", "state", "expires_at"}
        self._init_journal()

    @property
    def api_url(self) -> str:
        """Base URL of the REST API (what api.allegro.pl is in production)."""
        return self.base_url

    @property
    def auth_url(self) -> str:
        """Base URL of OAuth (what https://allegro.pl/auth/oauth is in production)."""
        return self.base_url + AUTH_PREFIX

    # --- helpers for tests -------------------------------------------------------------------

    def add_order(self, order_id: str | None = None, status: str = "NEW", revision: str | None = None,
                  line_items: list[str] | None = None) -> str:
        """Put a checkout form on the account; returns its id (a UUID, as Allegro's are).

        `line_items` are the line item ids (default: two UUIDs derived from the order id).
        """
        with self.lock:
            order_id = order_id or str(uuid.UUID(int=self.random.getrandbits(128), version=1))
            items = line_items if line_items is not None else [
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/line-item/{n}")) for n in (1, 2)]
            self.orders[order_id] = {"status": status, "revision": revision or self._new_revision(),
                                     "line_items": list(items)}
            return order_id

    def add_waybill(self, order_id: str, waybill: str, carrier_id: str = "DPD") -> None:
        """A tracking number added elsewhere (Moje Allegro, the carrier) shows in the order's shipments."""
        with self.lock:
            self.shipments.setdefault(order_id, []).append(self._shipment_body(
                order_id, waybill, carrier_id, None, self.orders[order_id]["line_items"]))

    def waybills(self, order_id: str) -> list[str]:
        """The tracking numbers the order has, in the order they were added."""
        with self.lock:
            return [s["waybill"] for s in self.shipments.get(order_id, [])]

    def issue_tokens(self, expires_in: int | None = None) -> tuple[str, str]:
        """A fresh (access token, refresh token) pair, as if the seller had connected."""
        with self.lock:
            body = self._token_body(expires_in)
            return body["access_token"], body["refresh_token"]

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on (refresh tokens stay valid)."""
        with self.lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def confirm_device(self, user_code: str) -> None:
        """The seller confirms the user code on allegro.pl; the next token poll gets tokens."""
        self._set_device_state(user_code, "confirmed")

    def deny_device(self, user_code: str) -> None:
        """The seller declines the connection; the next token poll gets access_denied."""
        self._set_device_state(user_code, "denied")

    def _set_device_state(self, user_code: str, state: str) -> None:
        with self.lock:
            for device in self.devices.values():
                if device["user_code"] == user_code and device["state"] == "pending":
                    device["state"] = state
                    return
        raise KeyError(f"No pending device authorization with user code {user_code!r}")

    def _new_revision(self) -> str:
        return f"{self.random.getrandbits(32):08x}"

    # --- routing -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path.startswith(AUTH_PREFIX + "/"):
            return self._handle_auth(request)
        return self._handle_api(request)

    def _handle_api(self, request: Request) -> Response:
        path, method = request.path, request.method
        try:
            template = allegro_spec.find_template(method, path)
        except allegro_spec.SpecViolation as violation:
            if "no such path" in violation.violations[0]:
                return _json(404, error_body("NotFoundException", "Not found",
                                             user_message="Function not available. Contact the application author."))
            return _json(405, error_body("NotAllowedException", "The HTTP method is not allowed",
                                         user_message="An error occurred"))
        refused = self._refuse_token(request)
        if refused is not None:
            return refused
        refused = self._refuse_against_spec(request, template)
        if refused is not None:
            return refused
        if template == "/me":
            return _json(200, self.seller)
        if template == "/order/carriers":
            return _json(200, {"carriers": [dict(c) for c in CARRIERS]})
        if template == "/order/events":
            return self._get_events(request)
        if template == "/order/event-stats":
            return self._get_event_stats()
        if template == "/order/checkout-forms":
            return self._list_checkout_forms(request)
        order_id = path.split("/")[3]
        if template == "/order/checkout-forms/{id}":
            return self._get_checkout_form(order_id)
        if template == "/order/checkout-forms/{id}/fulfillment" and method == "PUT":
            return self._put_fulfillment(request, order_id)
        if template == "/order/checkout-forms/{id}/shipments" and method == "GET":
            return self._get_shipments(order_id)
        if template == "/order/checkout-forms/{id}/shipments" and method == "POST":
            return self._post_shipment(request, order_id)
        return _json(501, error_body("NotImplemented", f"FakeAllegro does not serve {method} {template}"))

    # --- API ---------------------------------------------------------------------------------

    def _refuse_token(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return _json(401, {"error": "unauthorized",
                               "error_description": "Full authentication is required to access this resource"})
        token = header[7:].strip()
        expires_at = self.access_tokens.get(token)
        if expires_at is None:
            return _json(401, {"error": "invalid_token", "error_description": "Cannot convert access token to JSON"})
        if expires_at <= time.time():
            return _json(401, {"error": "invalid_token", "error_description": f"Access token expired: {token}"})
        return None

    def _refuse_against_spec(self, request: Request, template: str) -> Response | None:
        violations = allegro_spec.http_request_violations(request.method, request.url, request.get_data(),
                                                          dict(request.headers))
        if not violations:
            return None
        self.spec_violations.append({"method": request.method, "path": request.path, "violations": violations,
                                     "at": time.time()})
        if any(v.startswith("Accept ") for v in violations):
            message = "Not acceptable representation requested. Please check 'Accept' request header"
            return _json(406, error_body("NotAcceptableException", message, user_message=INCORRECT_DATA))
        if any(v.startswith("Content-Type ") for v in violations):
            return _json(415, error_body("UnsupportedMediaTypeException", "; ".join(violations),
                                         user_message=INCORRECT_DATA))
        return _json(422, error_body("UnprocessableEntityException", "; ".join(violations), path=request.path,
                                     user_message=INCORRECT_DATA))

    def _get_checkout_form(self, order_id: str) -> Response:
        try:
            uuid.UUID(order_id)
        except ValueError:
            return _json(422, error_body("UnprocessableEntityException", f"Invalid UUID string: {order_id}",
                                         user_message="The order id is not valid."))
        order = self.orders.get(order_id)
        if order is None:
            return _json(404, error_body("NotFoundException", "Checkout form not found",
                                         user_message="The order was not found."))
        return _json(200, self.checkout_form_body(order_id))

    def _get_shipments(self, order_id: str) -> Response:
        if order_id not in self.orders:
            return _json(404, error_body("NotFoundException", "Checkout form not found",
                                         user_message="The order was not found."))
        return _json(200, {"shipments": copy.deepcopy(self.shipments.get(order_id, []))})

    def _post_shipment(self, request: Request, order_id: str) -> Response:
        path = request.path
        order = self.orders.get(order_id)
        if order is None:
            return _json(404, error_body("NotFoundException", "Checkout form not found", path=path,
                                         user_message="The order was not found."))
        body = request.get_json(force=True) or {}
        carrier_id, waybill = body["carrierId"], body["waybill"]  # required by the spec, checked before
        if carrier_id not in {c["id"] for c in CARRIERS}:
            return _json(400, error_body("IllegalArgumentException", f"Unknown carrier id: {carrier_id}",
                                         path="carrierId", user_message="The carrier is not supported."))
        carrier_name = body.get("carrierName") if carrier_id == "OTHER" else None
        if carrier_id == "OTHER" and not carrier_name:
            return _json(400, error_body("IllegalArgumentException", "carrierName is required for carrier OTHER",
                                         path="carrierName", user_message="Enter the carrier's name."))
        if not waybill.strip():
            return _json(400, error_body("IllegalArgumentException", "waybill must not be blank", path="waybill",
                                         user_message="Enter the tracking number."))
        items = [item["id"] for item in body.get("lineItems") or []] or list(order["line_items"])
        unknown = [item for item in items if item not in order["line_items"]]
        if unknown:
            return _json(400, error_body("IllegalArgumentException", f"Line items not in the order: {unknown}",
                                         path="lineItems", user_message="The items are not from this order."))
        # The spec names no refusal for a number the order already has, so the fake takes it again:
        # a client that resends after a lost answer leaves a second entry, which the tests look for.
        created = self._shipment_body(order_id, waybill, carrier_id, carrier_name, items)
        self.shipments.setdefault(order_id, []).append(created)
        self.shipment_posts.append({"order_id": order_id, "waybill": waybill, "carrier_id": carrier_id,
                                    "carrier_name": carrier_name, "line_items": items, "at": time.time()})
        return _json(201, created)

    def _shipment_body(self, order_id: str, waybill: str, carrier_id: str, carrier_name: str | None,
                       items: list[str]) -> dict:
        shipment_id = base64.b64encode(f"{carrier_id}:{waybill}:{len(self.shipment_posts)}".encode()).decode()
        body = {"id": shipment_id, "waybill": waybill, "carrierId": carrier_id,
                "lineItems": [{"id": item} for item in items],
                "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        if carrier_name:
            body["carrierName"] = carrier_name
        return body

    def _put_fulfillment(self, request: Request, order_id: str) -> Response:
        path = request.path
        order = self.orders.get(order_id)
        if order is None:
            return _json(404, error_body("NotFoundException", "Checkout form not found", path=path,
                                         user_message="The order was not found."))
        revision = request.args.get("checkoutForm.revision")
        if revision is not None and revision != order["revision"]:
            return _json(409, error_body("ConflictException", "Provided revision is outdated", path=path,
                                         user_message="The order has changed in the meantime. "
                                                      "Refresh it and try again."))
        status = (request.get_json(force=True) or {}).get("status")
        if status is None:
            return _json(422, error_body("UnprocessableEntityException", "status must not be null", path=path,
                                         user_message=INCORRECT_DATA))
        if status == "RETURNED":
            return _json(422, error_body("SellerOrdersStoreUnprocessableEntityException",
                                         "Status RETURNED cannot be set by the seller", path=path,
                                         user_message="The RETURNED status is set by Allegro only."))
        order.update(status=status, revision=self._new_revision())
        if "updated_at" in order:  # a form with a full history: the change shows in updatedAt and the journal
            order["updated_at"] = iso(datetime.now(timezone.utc))
            self.add_event(order_id, "FULFILLMENT_STATUS_CHANGED")
        self.fulfillment_puts.append({"order_id": order_id, "status": status, "revision": revision,
                                      "new_revision": order["revision"], "at": time.time()})
        return Response(status=204)

    # --- OAuth -------------------------------------------------------------------------------

    def _handle_auth(self, request: Request) -> Response:
        endpoint = request.path[len(AUTH_PREFIX):]
        if request.method != "POST" or endpoint not in ("/device", "/token"):
            return _oauth(404, {"error": "not_found", "error_description": "Not Found"})
        refused = self._refuse_client(request)
        if refused is not None:
            return refused
        if endpoint == "/device":
            return self._start_device()
        params = {**request.form.to_dict(), **request.args.to_dict()}
        grant = params.get("grant_type", "")
        if grant == DEVICE_GRANT:
            return self._device_token(params.get("device_code", ""))
        if grant == "refresh_token":
            return self._refresh(params.get("refresh_token", ""))
        return _oauth(400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"})

    def _refuse_client(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return _oauth(401, {"error": "unauthorized",
                               "error_description": "Full authentication is required to access this resource"})
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = secret = ""
        if (client_id, secret) != (self.client_id, self.client_secret):
            return _oauth(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
        return None

    def _start_device(self) -> Response:
        device_code = secrets.token_urlsafe(24)
        user_code = "".join(self.random.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(9))
        self.devices[device_code] = {"user_code": user_code, "state": "pending", "expires_at": time.time() + 3600}
        verification_uri = f"{self.base_url}/skojarz-aplikacje"
        return _oauth(200, {"device_code": device_code, "expires_in": 3600, "user_code": user_code,
                           "interval": self.device_interval, "verification_uri": verification_uri,
                           "verification_uri_complete": f"{verification_uri}?code={user_code}"})

    def _device_token(self, device_code: str) -> Response:
        device = self.devices.get(device_code)
        if device is None or device["state"] == "used":
            return _oauth(400, {"error": "invalid_grant", "error_description": f"Invalid device code: {device_code}"})
        if device["expires_at"] <= time.time():
            return _oauth(400, {"error": "expired_token", "error_description": "Device code has expired"})
        if device["state"] == "pending":
            return _oauth(400, {"error": "authorization_pending",
                               "error_description": "User has not authorized the device code yet."})
        if device["state"] == "denied":
            return _oauth(400, {"error": "access_denied", "error_description": "User denied access"})
        device["state"] = "used"
        return _oauth(200, self._token_body())

    def _refresh(self, refresh_token: str) -> Response:
        used_at = self.refresh_tokens.get(refresh_token, True)
        # Single-use: unknown or used (beyond `refresh_grace` seconds ago) is invalid_grant, with the
        # token echoed in the description as Allegro does.
        if used_at is True or (used_at is not False and time.time() - used_at > self.refresh_grace):
            return _oauth(400, {"error": "invalid_grant",
                                "error_description": f"Invalid refresh token: {refresh_token}"})
        if used_at is not False:  # taken again within the grace: only the newest pair stays valid
            for access in self.issued_from.pop(refresh_token, ()):
                self.access_tokens.pop(access, None)
        self.refresh_tokens[refresh_token] = time.time()
        self.refresh_count += 1
        body = self._token_body()
        self.issued_from[refresh_token] = [body["access_token"]]
        return _oauth(200, body)

    def _token_body(self, expires_in: int | None = None) -> dict:
        expires_in = self.access_token_ttl if expires_in is None else expires_in
        access, refresh = f"eyJ.access.{secrets.token_urlsafe(16)}", f"eyJ.refresh.{secrets.token_urlsafe(16)}"
        self.access_tokens[access] = time.time() + expires_in
        self.refresh_tokens[refresh] = False
        return {"access_token": access, "token_type": "bearer", "refresh_token": refresh, "expires_in": expires_in,
                "scope": "allegro_api", "jti": str(uuid.uuid4())}

    # --- injected failures -------------------------------------------------------------------

    def error_response(self, status: int, retry_after: float | str | None) -> Response:
        """Injected failures as ErrorsHolder bodies (the codes are the fake's own)."""
        codes = {429: "TooManyRequestsException", 503: "ServiceUnavailableException"}
        body = error_body(codes.get(status, "InternalServerErrorException"), f"Injected failure (HTTP {status})",
                          user_message="Allegro is temporarily unavailable. Try again later.")
        return with_retry_after(_json(status, body), retry_after)


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type=MEDIA_TYPE)



def _oauth(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json;charset=UTF-8")
