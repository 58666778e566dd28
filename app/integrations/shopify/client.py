"""Shopify Admin REST API client (X-Shopify-Access-Token). HTTP and Shopify's format only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

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
PAGE_SIZE = 250  # the most Shopify gives per page


class ShopifyClient:
    """Calls to one shop's Admin API."""

    def __init__(self, base_url: str, access_token: str, *, session: requests.Session | None = None) -> None:
        self.base = f"{base_url.rstrip('/')}/admin/api/{API_VERSION}"
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": access_token, "Accept": "application/json",
                                     "User-Agent": "Kontor"})

    def _response(self, method: str, url: str, **kwargs) -> requests.Response:
        """One call, not retried; refusals become PlatformError in words."""
        response = send(self.session, method, url, allow_redirects=False, **kwargs)
        if response.status_code == 401:
            raise AuthenticationFailed("Shopify refused the Admin API access token (HTTP 401).", 401)
        if response.status_code >= 400:
            raise PlatformError(f"Shopify answered HTTP {response.status_code}: {response.text[:200]}",
                                response.status_code)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise PlatformError("Shopify answered with something that is not JSON.") from error

    def _request(self, method: str, path: str, **kwargs) -> Any:
        return self._json(self._response(method, f"{self.base}/{path.lstrip('/')}", **kwargs))

    @with_retries
    def check_connection(self) -> str:
        """Read the shop record; its name proves the token works."""
        shop = self._request("GET", "shop.json").get("shop") or {}
        domain = shop.get("myshopify_domain") or shop.get("domain", "")
        return f"Connected to {shop.get('name') or 'the shop'} ({domain})."

    @with_retries
    def _orders_page(self, url: str, params: dict | None) -> tuple[list[dict[str, Any]], str | None]:
        response = self._response("GET", url, params=params)
        data = self._json(response)
        orders = data.get("orders") or [] if isinstance(data, dict) else []
        following = response.links.get("next", {}).get("url")
        if following and not following.startswith(self.base + "/"):
            raise PlatformError("Shopify's next page points to another address; polling stopped.")
        return orders, following

    def changed_orders(self, since: datetime, on_page: Callable[[list[dict[str, Any]]], None]) -> None:
        """Every order updated at or after `since` (raw JSON), handed over page by page, oldest change first."""
        url: str | None = f"{self.base}/orders.json"
        params: dict | None = {"updated_at_min": since.isoformat(), "status": "any", "limit": PAGE_SIZE,
                               "order": "updated_at asc"}
        while url:
            orders, url = self._orders_page(url, params)
            params = None  # the next page's address carries the cursor and the filters
            on_page(orders)

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
