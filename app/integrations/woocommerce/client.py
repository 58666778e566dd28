"""WooCommerce REST API v3 client (consumer key and secret over Basic auth). HTTP and WooCommerce's format only."""

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
from app.integrations.woocommerce.mapping import STATES


class WooCommerceClient:
    """Calls to one shop's /wp-json/wc/v3."""

    def __init__(self, site_url: str, consumer_key: str, consumer_secret: str, *,
                 session: requests.Session | None = None) -> None:
        self.base = f"{site_url.rstrip('/')}/wp-json/wc/v3"
        self.session = session or requests.Session()
        self.session.auth = (consumer_key, consumer_secret)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "Kontor"})

    def _request(self, method: str, path: str, **kwargs) -> Any:
        response = send(self.session, method, f"{self.base}/{path.lstrip('/')}", allow_redirects=False, **kwargs)
        if response.status_code == 401:
            raise AuthenticationFailed("WooCommerce refused the REST API keys (HTTP 401).", 401)
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or ""
            except ValueError:
                detail = response.text[:200]
            raise PlatformError(f"WooCommerce answered HTTP {response.status_code}: {detail}", response.status_code)
        try:
            return response.json()
        except ValueError as error:
            raise PlatformError("WooCommerce answered with something that is not JSON.") from error

    @with_retries
    def check_connection(self) -> str:
        """List one order: proves the keys may read orders."""
        self._request("GET", "orders", params={"per_page": 1})
        return "Connected: the REST API keys may read orders."

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
