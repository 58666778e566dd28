"""WooCommerce REST API v3 client (consumer key and secret over Basic auth). HTTP and WooCommerce's format only."""

from __future__ import annotations

from datetime import datetime, timezone
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
from app.integrations.woocommerce.mapping import STATES

PAGE_SIZE = 100  # the most the REST API gives per page


class WooCommerceClient:
    """Calls to one shop's /wp-json/wc/v3."""

    def __init__(self, site_url: str, consumer_key: str, consumer_secret: str, *,
                 session: requests.Session | None = None) -> None:
        self.base = f"{site_url.rstrip('/')}/wp-json/wc/v3"
        self.session = session or requests.Session()
        self.session.auth = (consumer_key, consumer_secret)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "Kontor"})

    def _response(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call, not retried; refusals become PlatformError in words."""
        response = send(self.session, method, f"{self.base}/{path.lstrip('/')}", allow_redirects=False, **kwargs)
        if response.status_code == 401:
            raise AuthenticationFailed("WooCommerce refused the REST API keys (HTTP 401).", 401)
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or ""
            except (ValueError, AttributeError):
                detail = response.text[:200]
            raise PlatformError(f"WooCommerce answered HTTP {response.status_code}: {detail}", response.status_code)
        return response

    def _request(self, method: str, path: str, **kwargs) -> Any:
        try:
            return self._response(method, path, **kwargs).json()
        except ValueError as error:
            raise PlatformError("WooCommerce answered with something that is not JSON.") from error

    @with_retries
    def check_connection(self) -> str:
        """List one order: proves the keys may read orders."""
        self._request("GET", "orders", params={"per_page": 1})
        return "Connected: the REST API keys may read orders."

    @with_retries
    def _orders_page(self, params: dict) -> tuple[list[dict[str, Any]], int]:
        response = self._response("GET", "orders", params=params)
        try:
            orders = response.json()
            pages = int(response.headers.get("X-WP-TotalPages") or 1)
        except ValueError as error:
            raise PlatformError("WooCommerce answered with something that is not a list of orders.") from error
        if not isinstance(orders, list):
            raise PlatformError("WooCommerce answered with something that is not a list of orders.")
        return orders, pages

    def changed_orders(self, since: datetime, on_page: Callable[[list[dict[str, Any]]], None]) -> None:
        """Every order modified after `since` (raw JSON), handed over page by page, oldest change first."""
        page = 1
        while True:
            orders, pages = self._orders_page({
                "modified_after": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                "dates_are_gmt": "true", "per_page": PAGE_SIZE, "page": page, "orderby": "modified", "order": "asc"})
            on_page(orders)
            if page >= pages or not orders:
                return
            page += 1

    def fetch_states(self) -> list[PlatformStateDTO]:
        """WooCommerce's built-in order statuses."""
        return list(STATES)

    @with_retries
    def fetch_order_state(self, external_order_id: str) -> RemoteOrderState:
        """The order's status slug now."""
        order = self._request("GET", f"orders/{external_order_id}")
        return RemoteOrderState(str(order.get("status") or ""))

    def set_order_state(self, external_order_id: str, state_id: str, revision: str | None = None) -> None:
        """Set the order's status (absolute: the slug)."""
        self._request("PUT", f"orders/{external_order_id}", json={"status": state_id})
