"""The order API in the shape e-commerce managers expect: numeric status ids, shops' order states."""

import pytest

from app.accounts.services import create_api_token
from app.extensions import db
from app.orders.models import Order
from tests.factories import make_integration, make_order, make_user


@pytest.fixture
def token(app):
    _, raw = create_api_token(make_user("operator", name="Shop manager"), "manager")
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def shop_order(app):
    shop = make_integration("prestashop", name="Sklep", states=[("2", "Payment accepted"), ("4", "Shipped")])
    order = make_order("paid", source="prestashop", integration_id=shop.id, external_order_id="32")
    order.platform_state = "2"
    db.session.commit()
    return shop, order


def ids_by_code(client, token) -> dict[str, int]:
    return {s["code"]: s["id"] for s in client.get("/api/v1/init", headers=token).json["statuses"]}


def test_init_lists_every_shops_order_states_and_each_status_has_a_numeric_id(client, token, shop_order):
    shop, _ = shop_order
    data = client.get("/api/v1/init", headers=token).json
    assert [(s["id_store"], s["name"]) for s in data["ecommerce_order_states"]] == [
        (shop.id, "Payment accepted"), (shop.id, "Shipped")]
    assert all(isinstance(s["id_platform_state"], int) for s in data["ecommerce_order_states"])
    assert all(isinstance(s["id"], int) for s in data["statuses"])


def test_orders_carry_their_platform_state_or_null(client, token, shop_order):
    shop, order = shop_order
    manual = make_order("paid")
    listed = {o["id"]: o["ecommerce_order_state"] for o in client.get("/api/v1/orders", headers=token).json["orders"]}
    state_id = next(s.id for s in shop.states if s.external_id == "2")
    assert listed == {order.id: {"id": state_id, "state_name": "Payment accepted"}, manual.id: None}
    detail = client.get(f"/api/v1/orders/{order.id}", headers=token).json
    assert detail["ecommerce_order_state"] == {"id": state_id, "state_name": "Payment accepted"}


def test_status_change_by_numeric_id(client, token, shop_order):
    _, order = shop_order
    ids = ids_by_code(client, token)
    response = client.put(f"/api/v1/orders/{order.id}/status", headers=token, json={"id_order_state": ids["shipped"]})
    assert response.status_code == 200 and response.json["new_state"] == "shipped"
    for bad in (999999, "3x", "", True, -1, 3.5, "99999999999999999999"):
        refused = client.put(f"/api/v1/orders/{order.id}/status", headers=token, json={"id_order_state": bad})
        assert refused.status_code == 422, bad
        assert "id_order_state" in refused.get_data(as_text=True)


def test_ids_sent_as_digit_strings_work_as_php_clients_send_them(client, token, shop_order):
    _, order = shop_order
    ids = ids_by_code(client, token)
    response = client.put(f"/api/v1/orders/{order.id}/status", headers=token,
                          json={"id_order_state": str(ids["shipped"])})
    assert response.status_code == 200 and response.json["new_state"] == "shipped"
    other = make_order("awaiting_payment")
    bulk = client.post("/api/v1/orders/bulk-status", headers=token, json={"orders": [
        {"id_order": str(other.id), "id_order_state": f" {ids['paid']} "}]})
    assert bulk.status_code == 200 and bulk.json["summary"]["successful_count"] == 1
    assert db.session.get(Order, other.id).status == "paid"


def test_bulk_status_with_a_target_per_order(client, token):
    a, b, shipped = make_order("awaiting_payment"), make_order("awaiting_payment"), make_order("shipped")
    ids = ids_by_code(client, token)
    response = client.post("/api/v1/orders/bulk-status", headers=token, json={"orders": [
        {"id_order": a.id, "id_order_state": ids["paid"]}, {"id_order": b.id, "id_order_state": ids["cancelled"]},
        {"id_order": shipped.id, "id_order_state": ids["cancelled"]}, {"id_order": 999999, "id_order_state": 999999}]})
    data = response.json
    assert response.status_code == 200
    assert data["summary"] == {"total": 4, "successful_count": 2, "failed_count": 2}
    assert {(s["id_order"], s["new_state"]) for s in data["successful"]} == {(a.id, "paid"), (b.id, "cancelled")}
    assert {f["id_order"] for f in data["failed"]} == {shipped.id, 999999}
    assert db.session.get(Order, a.id).status == "paid"
    bad = client.post("/api/v1/orders/bulk-status", headers=token, json={"orders": [{"id_order": "x"}]})
    assert bad.status_code == 422
