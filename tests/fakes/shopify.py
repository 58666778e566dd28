"""A local Shopify: order JSON as the Admin REST API and webhooks send it, signed deliveries, and a tiny Admin API.

Order fields follow Shopify's REST Order resource (id, name, email, created_at, updated_at, cancelled_at,
financial_status, fulfillment_status, currency, total_price, line_items, shipping_address,
billing_address, customer, shipping_lines, fulfillments ...). The Admin API answers
GET /admin/api/<version>/shop.json and orders/<id>.json, and POST orders/<id>/cancel.json; every
write is in `writes`.
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


def at(minutes: float) -> str:
    """A Shopify timestamp `minutes` after the base time, with the shop's offset (+01:00)."""
    moment = (BASE_TIME + timedelta(minutes=minutes)).astimezone(timezone(timedelta(hours=1)))
    return moment.isoformat(timespec="seconds")


def shopify_order(order_id: int, *, minute: float = 0, financial_status: str = "pending",
                  fulfillment_status: str | None = None, cancelled: bool = False, quantity: int = 1,
                  note: str = "") -> dict[str, Any]:
    """One order as Shopify sends it; `minute` sets its updated_at."""
    price = "49.00"
    total = f"{49 * quantity + 15:.2f}"
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{order_id % 100000}",
        "order_number": order_id % 100000, "email": "jan.kowalski@example.com", "contact_email": "jan.kowalski@example.com",
        "created_at": at(-60), "updated_at": at(minute), "processed_at": at(-60),
        "cancelled_at": at(minute) if cancelled else None, "cancel_reason": "customer" if cancelled else None,
        "closed_at": None, "financial_status": financial_status, "fulfillment_status": fulfillment_status,
        "currency": "PLN", "presentment_currency": "PLN", "taxes_included": True,
        "total_price": total, "subtotal_price": f"{49 * quantity:.2f}", "total_tax": "0.00", "total_discounts": "0.00",
        "note": note, "phone": None, "payment_gateway_names": ["bogus"],
        "customer": {"id": 7001, "email": "jan.kowalski@example.com", "first_name": "Jan", "last_name": "Kowalski",
                     "phone": "+48500100200"},
        "billing_address": {"first_name": "Jan", "last_name": "Kowalski", "name": "Jan Kowalski", "company": "Kowalski sp. z o.o.",
                            "address1": "ul. Długa 5", "address2": "m. 3", "city": "Kraków", "zip": "31-001",
                            "province": None, "country": "Poland", "country_code": "PL", "phone": "+48500100200"},
        "shipping_address": {"first_name": "Jan", "last_name": "Kowalski", "name": "Jan Kowalski", "company": None,
                             "address1": "ul. Krótka 1", "address2": None, "city": "Kraków", "zip": "31-002",
                             "province": None, "country": "Poland", "country_code": "PL", "phone": "+48500100200"},
        "line_items": [{"id": order_id * 10 + 1, "variant_id": 4401, "product_id": 3301, "title": "Kubek ceramiczny",
                        "name": "Kubek ceramiczny - 350 ml", "sku": "KUB-350", "quantity": quantity, "price": price,
                        "total_discount": "0.00", "taxable": True,
                        "tax_lines": [{"title": "VAT", "rate": 0.23, "price": f"{49 * quantity * 0.23 / 1.23:.2f}"}]}],
        "shipping_lines": [{"id": 1, "title": "InPost Paczkomat", "code": "inpost", "price": "15.00"}],
        "fulfillments": [{"id": order_id * 10 + 7, "status": "success", "tracking_company": "InPost",
                          "tracking_number": f"6200{order_id}", "created_at": at(minute)}]
        if fulfillment_status == "fulfilled" else [],
    }


def shopify_refund(refund_id: int, order_id: int, amount: str = "15.00") -> dict[str, Any]:
    """A refund as refunds/create sends it."""
    return {"id": refund_id, "order_id": order_id, "created_at": at(90), "note": "Damaged in transit",
            "transactions": [{"id": refund_id * 10, "kind": "refund", "status": "success", "amount": amount,
                              "currency": "PLN"}]}


def delivery(payload: Any, secret: str, *, topic: str = "orders/updated", webhook_id: str = "wh-1",
             triggered_minute: float = 0, body: bytes | None = None) -> tuple[bytes, dict[str, str]]:
    """A signed webhook delivery: (raw body, headers) as Shopify sends them."""
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Hmac-Sha256": sign_base64_hmac(raw, secret), "X-Shopify-Shop-Domain": "kontor-test.myshopify.com",
               "X-Shopify-API-Version": "2024-10", "X-Shopify-Webhook-Id": webhook_id,
               "X-Shopify-Event-Id": f"ev-{webhook_id}",
               "X-Shopify-Triggered-At": (BASE_TIME + timedelta(minutes=triggered_minute)).isoformat()}
    return raw, headers


class FakeShopify(FakeServer):
    """A shop's Admin API: orders by id, and a ledger of every write Kontor makes."""

    token = "shpat_test_token"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.orders: dict[str, dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []

    def handle(self, request: Request) -> Response:
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return _json({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401)
        path = request.path.split("/admin/api/", 1)[-1].split("/", 1)[-1]
        if request.method == "GET" and path == "orders.json":
            return self._list(request)
        if request.method == "GET" and path == "shop.json":
            return _json({"shop": {"name": "Kontor Test", "myshopify_domain": "kontor-test.myshopify.com"}})
        if path.startswith("orders/"):
            order_id = path.split("/")[1].removesuffix(".json")
            if order_id not in self.orders:
                return _json({"errors": "Not Found"}, 404)
            if request.method == "GET":
                return _json({"order": self.orders[order_id]})
            if request.method == "POST" and path.endswith("/cancel.json"):
                self.writes.append(("cancel", order_id))
                self.orders[order_id]["cancelled_at"] = at(500)
                return _json({"order": self.orders[order_id]})
        if request.method != "GET":
            self.writes.append((request.method, path))
        return _json({"errors": "Not Found"}, 404)


    def _list(self, request: Request) -> Response:
        """orders.json?updated_at_min=&status=any&limit=, oldest change first, paged with Link: rel="next"."""
        limit = min(int(request.args.get("limit", 50)), 250)
        if "page_info" in request.args:
            # Shopify refuses filters next to page_info: they travel inside the cursor.
            since, offset = json.loads(base64.urlsafe_b64decode(request.args["page_info"]))
        else:
            since, offset = request.args.get("updated_at_min"), 0
        chosen = sorted((o for o in self.orders.values()
                         if not since or datetime.fromisoformat(o["updated_at"]) >= datetime.fromisoformat(since)),
                        key=lambda o: (datetime.fromisoformat(o["updated_at"]), o["id"]))
        page = chosen[offset:offset + limit]
        response = _json({"orders": page})
        if offset + limit < len(chosen):
            cursor = base64.urlsafe_b64encode(json.dumps([since, offset + limit]).encode()).decode()
            response.headers["Link"] = (f'<{self.base_url}{request.path}?limit={limit}&page_info={cursor}>; '
                                        'rel="next"')
        return response


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")
