"""Shopify Admin REST API client (X-Shopify-Access-Token). HTTP and Shopify's format only."""

from __future__ import annotations

from typing import Any

import requests

from app.integrations.base import (
    AuthenticationFailed,
    PlatformError,
    PlatformStateDTO,
    RemoteOrderState,
    send,
    with_retries,
)
from app.integrations.shopify.mapping import STATES, order_state

API_VERSION = "2024-10"


class ShopifyClient:
    """Calls to one shop's Admin API."""

    def __init__(self, base_url: str, access_token: str, *, session: requests.Session | None = None) -> None:
        self.base = f"{base_url.rstrip('/')}/admin/api/{API_VERSION}"
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": access_token, "Accept": "application/json",
                                     "User-Agent": "Kontor"})

    def _request(self, method: str, path: str, **kwargs) -> Any:
        response = send(self.session, method, f"{self.base}/{path.lstrip('/')}", allow_redirects=False, **kwargs)
        if response.status_code == 401:
            raise AuthenticationFailed("Shopify refused the Admin API access token (HTTP 401).", 401)
        if response.status_code >= 400:
            raise PlatformError(f"Shopify answered HTTP {response.status_code}: {response.text[:200]}",
                                response.status_code)
        try:
            return response.json()
        except ValueError as error:
            raise PlatformError("Shopify answered with something that is not JSON.") from error

    @with_retries
    def check_connection(self) -> str:
        """Read the shop record; its name proves the token works."""
        shop = self._request("GET", "shop.json").get("shop") or {}
        return f"Connected to {shop.get('name') or 'the shop'} ({shop.get('myshopify_domain') or shop.get('domain', '')})."

    def fetch_states(self) -> list[PlatformStateDTO]:
        """Shopify has no order statuses to list; Kontor derives these from each order."""
        return list(STATES)

    @with_retries
    def fetch_order(self, external_order_id: str) -> dict[str, Any]:
        """One order as Shopify has it."""
        return self._request("GET", f"orders/{external_order_id}.json").get("order") or {}

    def fetch_order_state(self, external_order_id: str) -> RemoteOrderState:
        """The state Kontor derives from the order now."""
        return RemoteOrderState(order_state(self.fetch_order(external_order_id)))

    def set_order_state(self, external_order_id: str, state_id: str, revision: str | None = None) -> None:
        """Only cancelling can be asked of Shopify; the other states follow payments and fulfilments."""
        if state_id != "cancelled":
            raise PlatformError(f"Shopify sets “{state_id}” itself (from payments and fulfilments); "
                                "Kontor can only cancel an order there.")
        self._request("POST", f"orders/{external_order_id}/cancel.json", json={})
