"""A local WooCommerce: order JSON as REST API v3 and webhooks send it, signed deliveries, and the orders API.

Order fields follow WooCommerce's REST Order resource (id, number, status, currency, date_created_gmt,
date_modified_gmt, date_paid_gmt, total, billing, shipping, line_items, shipping_lines,
payment_method_title, transaction_id, customer_note). The API answers GET /wp-json/wc/v3/orders,
GET and PUT orders/<id> (Basic auth with the consumer key and secret); every write is in `writes`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from app.webhooks.signatures import sign_base64_hmac
from tests.fakes.server import FakeServer

BASE_TIME = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def gmt(minutes: float) -> str:
    """A WooCommerce *_gmt value `minutes` after the base time (no zone, UTC)."""
    return (BASE_TIME + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


def woocommerce_order(order_id: int, *, minute: float = 0, status: str = "pending", paid: bool = False) -> dict[str, Any]:
    """One order as WooCommerce sends it; `minute` sets its date_modified_gmt."""
    return {
        "id": order_id, "parent_id": 0, "number": str(order_id), "order_key": f"wc_order_{order_id}", "status": status,
        "currency": "PLN", "date_created_gmt": gmt(-60), "date_modified_gmt": gmt(minute),
        "date_created": gmt(-60), "date_modified": gmt(minute),
        "date_paid_gmt": gmt(-30) if paid else None, "discount_total": "0.00", "shipping_total": "12.20",
        "shipping_tax": "2.80", "total": "138.00", "total_tax": "25.80", "prices_include_tax": False,
        "customer_note": "Proszę dzwonić przed dostawą", "payment_method": "bacs",
        "payment_method_title": "Przelew bankowy", "transaction_id": f"tx-{order_id}" if paid else "",
        "billing": {"first_name": "Anna", "last_name": "Nowak", "company": "", "address_1": "ul. Polna 1",
                    "address_2": "", "city": "Warszawa", "state": "", "postcode": "00-001", "country": "PL",
                    "email": "anna.nowak@example.com", "phone": "+48600700800"},
        "shipping": {"first_name": "Anna", "last_name": "Nowak", "company": "", "address_1": "ul. Polna 1",
                     "address_2": "", "city": "Warszawa", "state": "", "postcode": "00-001", "country": "PL"},
        "line_items": [{"id": order_id * 10 + 1, "name": "Czajnik elektryczny", "product_id": 93, "variation_id": 0,
                        "quantity": 2, "tax_class": "", "subtotal": "50.00", "subtotal_tax": "11.50",
                        "total": "50.00", "total_tax": "11.50", "sku": "CZA-17", "price": 25}],
        "shipping_lines": [{"id": 3, "method_title": "Kurier DPD", "method_id": "flat_rate", "total": "12.20",
                            "total_tax": "2.80"}],
    }


def delivery(payload: Any, secret: str, *, topic: str = "order.updated", delivery_id: str = "1",
             body: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """A signed webhook delivery: (raw body, headers) as WooCommerce sends them."""
    raw = body if body is not None else json.dumps(payload).encode()
    resource, event = topic.split(".", 1)
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Source": "https://shop.example.com/",
               "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
               "X-WC-Webhook-Signature": sign_base64_hmac(raw, secret), "X-WC-Webhook-ID": "12",
               "X-WC-Webhook-Delivery-ID": delivery_id}
    return raw, headers


class FakeWooCommerce(FakeServer):
    """A shop's REST API v3 for orders, with a ledger of every write Kontor makes."""

    consumer_key = "ck_test"
    consumer_secret = "cs_test"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.orders: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, Any]] = []

    @property
    def url(self) -> str:
        return self.base_url

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def handle(self, request: Request) -> Response:
        if not self._authorised(request):
            return _json({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                          "data": {"status": 401}}, 401)
        path = request.path.removeprefix("/wp-json/wc/v3/")
        if request.method == "GET" and path == "orders":
            return self._list(request)
        if path.startswith("orders/"):
            order_id = path.split("/")[1]
            if order_id not in self.orders:
                return _json({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                              "data": {"status": 404}}, 404)
            if request.method == "GET":
                return _json(self.orders[order_id])
            if request.method in ("PUT", "POST"):
                body = request.get_json(silent=True) or {}
                self.writes.append((request.method, order_id, body))
                self.orders[order_id].update({k: v for k, v in body.items() if k == "status"})
                return _json(self.orders[order_id])
        return _json({"code": "rest_no_route", "message": "No route was found.", "data": {"status": 404}}, 404)


    def _list(self, request: Request) -> Response:
        """orders?modified_after=&dates_are_gmt=true&per_page=&page=, X-WP-Total and X-WP-TotalPages headers."""
        per_page = min(int(request.args.get("per_page", 10)), 100)
        page = int(request.args.get("page", 1))
        since = request.args.get("modified_after")
        chosen = sorted((o for o in self.orders.values() if not since or o["date_modified_gmt"] > since[:19]),
                        key=lambda o: (o["date_modified_gmt"], o["id"]))
        response = _json(chosen[(page - 1) * per_page: page * per_page])
        response.headers["X-WP-Total"] = str(len(chosen))
        response.headers["X-WP-TotalPages"] = str(max(1, -(-len(chosen) // per_page)))
        return response


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")
