"""Odd input never answers 500: every case an outside probe found, on pages, fragments and the API.

Each case says what Kontor answers (status and words), that the API answers JSON
{error: {code, message}}, and that nothing was saved on the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import sqlalchemy as sa

from app.accounts.services import create_api_token
from app.catalog.models import Product
from app.extensions import db
from app.integrations.models import IntegrationRun, PlatformState
from app.orders.models import Order, OrderItem, OrderNote, OrderStatusHistory
from tests.factories import make_integration, make_order, make_user

HX = {"HX-Request": "true"}
BIG = 2**31
HUGE = 2**63
NINES = "9" * 30

TABLES = (Order, OrderItem, OrderNote, OrderStatusHistory, Product, PlatformState, IntegrationRun)


@dataclass
class Ctx:
    client: Any
    csrf: str
    api: dict
    order_id: int
    integration_id: int


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[Ctx], Any]
    status: int
    says: str = ""
    check: Callable[[Any], bool] | None = field(default=None, compare=False)


def _order_form(csrf: str, **fields) -> dict:
    data = {"csrf_token": csrf, "customer_name": "Marta Krawczyk", "currency": "PLN", "payment_status": "pending",
            "fulfillment_status": "unassigned", "status": "draft", "items-0-name": "Lampka", "items-0-quantity": "1",
            "items-0-unit_price_gross": "10.00", "items-0-vat_rate": "23", "items-0-discount_gross": "0"}
    data.update(fields)
    return data


def _put_status(ctx: Ctx, body, **kwargs):
    return ctx.client.put(f"/api/v1/orders/{ctx.order_id}/status", json=body, headers=ctx.api, **kwargs)


def _bulk_api(ctx: Ctx, body):
    return ctx.client.post("/api/v1/orders/bulk-status", json=body, headers=ctx.api)


CASES = [
    # --- the probe's cases ---------------------------------------------------------------------
    Case("orders search with NUL", lambda c: c.client.get("/orders?q=%00"), 400, "NUL"),
    Case("orders search with NUL, fragment", lambda c: c.client.get("/orders?q=%00", headers=HX), 400, "NUL"),
    Case("orders status NUL", lambda c: c.client.get("/orders?status=%00"), 400, "Unknown status"),
    Case("orders status NUL, fragment", lambda c: c.client.get("/orders?status=%00", headers=HX), 400,
         "Unknown status"),
    Case("API orders search with NUL", lambda c: c.client.get("/api/v1/orders?q=%00", headers=c.api), 400, "NUL"),
    Case("products search with NUL", lambda c: c.client.get("/products?q=%00"), 400, "NUL"),
    Case("orders date_to 9999-12-31", lambda c: c.client.get("/orders?date_to=9999-12-31"), 400,
         "between 1970-01-01 and 2999-12-31"),
    Case("API date_to 9999-12-31", lambda c: c.client.get("/api/v1/orders?date_to=9999-12-31", headers=c.api), 400,
         "between"),
    # A page past the end shows the last page.
    Case("products page of 30 nines", lambda c: c.client.get(f"/products?page={NINES}"), 200, "Products"),
    Case("orders page of 30 nines", lambda c: c.client.get(f"/orders?page={NINES}"), 200, "Marta"),
    Case("order 2**31", lambda c: c.client.get(f"/orders/{BIG}"), 404, "does not exist"),
    Case("order 2**31, fragment", lambda c: c.client.get(f"/orders/{BIG}/timeline", headers=HX), 404,
         "does not exist"),
    Case("API order 2**31", lambda c: c.client.get(f"/api/v1/orders/{BIG}", headers=c.api), 404, "does not exist"),
    Case("API status of order 2**31", lambda c: c.client.put(f"/api/v1/orders/{BIG}/status", json={"status": "paid"},
                                                             headers=c.api), 404, "does not exist"),
    Case("API bulk ids 2**31", lambda c: _bulk_api(c, {"order_ids": [BIG], "status": "paid"}), 200,
         check=lambda r: r.json["failed"][0]["error"]["code"] == "not_found"
         and r.json["summary"]["failed_count"] == 1),
    Case("API sync store_id 2**63", lambda c: c.client.post(f"/api/v1/sync/prestashop?store_id={HUGE}",
                                                           headers=c.api), 404, "There is no integration"),
    Case("API sync store_id abc", lambda c: c.client.post("/api/v1/sync/prestashop?store_id=abc", headers=c.api),
         400, "whole number"),
    Case("web bulk ids 2**63", lambda c: c.client.post("/orders/bulk-status", headers=HX, data={
        "csrf_token": c.csrf, "ids": str(HUGE), "status": "paid"}), 200, "does not exist"),
    Case("web bulk ids not numbers", lambda c: c.client.post("/orders/bulk-status", headers=HX, data={
        "csrf_token": c.csrf, "ids": "1; drop", "status": "paid"}), 400, "whole number"),
    Case("note with NUL", lambda c: c.client.post(f"/orders/{c.order_id}/notes", headers=HX, data={
        "csrf_token": c.csrf, "body": "Dzwonić\x00 rano"}), 422, "NUL"),
    Case("customer name with NUL", lambda c: c.client.post("/orders/new", data=_order_form(
        c.csrf, customer_name="Anna\x00Nowak")), 422, "NUL"),
    Case("address with NUL", lambda c: c.client.post("/orders/new", data=_order_form(
        c.csrf, **{"shipping-city": "Kra\x00ków"})), 422, "NUL"),
    Case("product name with NUL", lambda c: c.client.post("/products", data={
        "csrf_token": c.csrf, "sku": "KUB-1", "name": "Kubek\x00"}), 422, "NUL"),
    Case("API comment with NUL", lambda c: _put_status(c, {"status": "paid", "comment": "ok\x00"}), 400, "NUL"),
    Case("product with a 100-character SKU", lambda c: c.client.post("/products", data={
        "csrf_token": c.csrf, "sku": "S" * 100, "name": "Kubek"}), 422, "64"),
    Case("quantity times price past numeric(12,2)", lambda c: c.client.post("/orders/new", data=_order_form(
        c.csrf, **{"items-0-quantity": "100000", "items-0-unit_price_gross": "9999999999.00"})), 422,
        "more than an order line can hold"),
    Case("a price past numeric(12,2)", lambda c: c.client.post("/orders/new", data=_order_form(
        c.csrf, **{"items-0-unit_price_gross": "1e20"})), 422, "Enter an amount up to"),
    Case("a price that is not a number", lambda c: c.client.post("/orders/new", data=_order_form(
        c.csrf, **{"items-0-unit_price_gross": "NaN"})), 422, "Enter an amount up to"),
    Case("edit: shipping past numeric(12,2)", lambda c: c.client.post(f"/orders/{c.order_id}/edit", data=_order_form(
        c.csrf, shipping_gross="99999999999")), 422, "Enter an amount up to"),
    Case("API comment of 1 MB", lambda c: _put_status(c, {"status": "paid", "comment": "x" * 1_000_000}), 400,
         "at most 500 characters"),
    # --- also checked ----------------------------------------------------------------------------
    Case("orders page -1", lambda c: c.client.get("/orders?page=-1"), 400, "at least 1"),
    Case("orders page abc, fragment", lambda c: c.client.get("/orders?page=abc", headers=HX), 400, "whole number"),
    Case("API limit 10**6", lambda c: c.client.get("/api/v1/orders?limit=1000000", headers=c.api), 400,
         "at most 200"),
    Case("orders sort unknown", lambda c: c.client.get("/orders?sort=drop"), 400, "cannot be sorted by"),
    Case("API sort unknown", lambda c: c.client.get("/api/v1/orders?sort=drop", headers=c.api), 400,
         "cannot be sorted by"),
    Case("date_from after date_to", lambda c: c.client.get("/orders?date_from=2026-02-01&date_to=2026-01-01"),
         400, "start date is after the end date"),
    Case("orders status unknown", lambda c: c.client.get("/orders?status=nope"), 400, "Unknown status"),
    Case("order abc", lambda c: c.client.get("/orders/abc"), 404, "nothing at this address"),
    Case("API order abc", lambda c: c.client.get("/api/v1/orders/abc", headers=c.api), 404),
    Case("API body not an object", lambda c: _put_status(c, [1, 2]), 422, "JSON object"),
    Case("API body not JSON", lambda c: c.client.put(f"/api/v1/orders/{c.order_id}/status", data="{status",
                                                     content_type="application/json", headers=c.api), 422,
         "JSON object"),
    Case("API order_ids as a string", lambda c: _bulk_api(c, {"order_ids": "1", "status": "paid"}), 422,
         "list of order ids"),
    Case("API order_ids of booleans", lambda c: _bulk_api(c, {"order_ids": [True], "status": "paid"}), 422,
         "list of order ids"),
    Case("API status unknown", lambda c: _put_status(c, {"status": "nope"}), 422, "There is no status"),
    Case("API bulk status unknown", lambda c: _bulk_api(c, {"order_ids": [c.order_id], "status": "nope"}), 422,
         "There is no status"),
    Case("API status as a number", lambda c: _put_status(c, {"status": 5}), 422, "status code"),
    Case("API comment as a number", lambda c: _put_status(c, {"status": "paid", "comment": 5}), 422, "as text"),
    Case("product 2**31", lambda c: c.client.get(f"/products/{BIG}"), 404),
    Case("integration 2**31", lambda c: c.client.get(f"/integrations/{BIG}"), 404),
    Case("unlink product link 2**31", lambda c: c.client.post(f"/products/links/{BIG}/delete",
                                                              data={"csrf_token": c.csrf}), 404),
    Case("item row index abc", lambda c: c.client.get("/orders/item-row?index=abc", headers=HX), 400,
         "whole number"),
    Case("products linked=maybe", lambda c: c.client.get("/products?linked=maybe"), 422, "linked=yes"),
]


def _counts() -> dict[str, int]:
    db.session.expire_all()
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in TABLES}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def ctx(client, app, login) -> Ctx:
    user = make_user("admin")
    csrf = login(user)
    _, raw = create_api_token(user, "probe")
    order = make_order("awaiting_payment", customer="Marta Krawczyk")
    integration = make_integration("prestashop")
    return Ctx(client, csrf, {"Authorization": f"Bearer {raw}"}, order.id, integration.id)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_odd_input_gets_a_clear_answer_and_saves_nothing(ctx, case):
    before = _counts()
    response = case.send(ctx)
    body = _text(response) if not response.is_json else response.get_data(as_text=True)
    assert response.status_code == case.status, body[:2000]
    if case.says:
        assert case.says in (response.json["error"]["message"] if response.is_json and response.status_code >= 400
                             else body), body[:2000]
    if case.check:
        assert case.check(response), body[:2000]
    if response.request.path.startswith("/api/"):
        assert response.is_json
        if response.status_code >= 400:
            assert set(response.json) == {"error"} and set(response.json["error"]) == {"code", "message", "message_pl"}
    assert _counts() == before
    assert db.session.get(Order, ctx.order_id).status == "awaiting_payment"


def test_an_api_crash_answers_json(ctx, app, monkeypatch):
    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr("app.orders.services.order_choices", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = ctx.client.get("/api/v1/init", headers=ctx.api)
    assert response.status_code == 500 and response.is_json
    assert response.json["error"]["code"] == "internal_error"
    assert "database went away" not in response.get_data(as_text=True)


def test_the_table_cache_keeps_warnings_to_their_own_request(ctx):
    # A table rendered for unusable filters carries a warning; the plain list must not get it.
    assert ctx.client.get("/orders?date_from=soon", headers=HX).status_code == 400
    plain = ctx.client.get("/orders", headers=HX)
    assert plain.status_code == 200 and "not a date" not in _text(plain)
