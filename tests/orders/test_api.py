"""JSON API v1: token auth, dictionaries, lists, status changes and bulk changes."""

import pytest

from app.accounts.services import create_api_token, revoke_api_token
from app.extensions import db
from app.orders.models import Order
from tests.factories import make_order, make_user


@pytest.fixture
def token(app):
    _, raw = create_api_token(make_user("operator", name="Warehouse scanner"), "scanner")
    return raw


def auth(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_requests_without_a_valid_token_are_refused(client, token):
    assert client.get("/api/v1/orders").status_code == 401
    bad = client.get("/api/v1/orders", headers=auth("kontor_nope"))
    assert bad.status_code == 401 and bad.json["error"]["code"] == "unauthorized"
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working(client, app):
    token, raw = create_api_token(make_user("operator"), "old")
    assert client.get("/api/v1/init", headers=auth(raw)).status_code == 200
    revoke_api_token(token.id)
    assert client.get("/api/v1/init", headers=auth(raw)).status_code == 401


def test_init_lists_statuses_and_dictionaries(client, token):
    data = client.get("/api/v1/init", headers=auth(token)).json
    assert [s["code"] for s in data["statuses"]][:3] == ["draft", "awaiting_payment", "paid"]
    assert {p["code"] for p in data["payment_statuses"]} == {"pending", "partially_paid", "paid", "refunded"}
    assert {"manual", "allegro", "prestashop"} <= {s["code"] for s in data["sources"]}


def test_list_orders_with_filters_and_paging(client, token):
    paid = [make_order("paid") for _ in range(3)]
    make_order("draft")
    data = client.get("/api/v1/orders?status=paid&limit=2&page=1", headers=auth(token)).json
    assert data["pagination"] == {"page": 1, "limit": 2, "total": 3, "pages": 2}
    assert {o["status"] for o in data["orders"]} == {"paid"}
    assert {o["id"] for o in data["orders"]} <= {o.id for o in paid}
    bad = client.get("/api/v1/orders?date_from=soon", headers=auth(token))
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_parameter"
    assert "not a date" in bad.json["error"]["message"]


def test_order_detail(client, token):
    order = make_order("paid", customer="Zofia Wiśniewska")
    data = client.get(f"/api/v1/orders/{order.id}", headers=auth(token)).json
    assert data["customer"]["name"] == "Zofia Wiśniewska"
    assert data["items"][0]["sku"] == "KUB-350" and data["items"][0]["total_gross"] == "59.80"
    assert data["addresses"]["shipping"]["city"] == "Warszawa"
    assert data["status_history"][0]["to"] == "paid"
    missing = client.get("/api/v1/orders/999999", headers=auth(token))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_status_change_is_recorded_as_api(client, token):
    order = make_order("awaiting_payment")
    response = client.put(f"/api/v1/orders/{order.id}/status", json={"status": "paid"}, headers=auth(token))
    assert response.status_code == 200
    assert response.json == {"id_order": order.id, "old_state": "awaiting_payment", "new_state": "paid"}
    db.session.expire_all()
    last = db.session.get(Order, order.id).history[-1]
    assert last.change_source == "api" and last.changed_by == "Warehouse scanner"


def test_refused_status_change_is_409_with_the_reason(client, token):
    order = make_order("shipped")
    response = client.put(f"/api/v1/orders/{order.id}/status", json={"status": "cancelled"}, headers=auth(token))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "transition_refused"
    assert "cannot be cancelled" in response.json["error"]["message"]


def test_malformed_bodies_are_422(client, token):
    order = make_order()
    assert client.put(f"/api/v1/orders/{order.id}/status", data="nope", headers=auth(token)).status_code == 422
    assert client.put(f"/api/v1/orders/{order.id}/status", json={}, headers=auth(token)).status_code == 422
    assert client.post("/api/v1/orders/bulk-status", json={"order_ids": "1,2", "status": "paid"},
                       headers=auth(token)).status_code == 422


def test_a_body_over_the_cap_is_refused_with_413_in_json_and_changes_nothing(client, app, token):
    order = make_order("awaiting_payment")
    huge = '{"order_ids": [' + ",".join([str(order.id)] * 2_500_000) + '], "status": "cancelled"}'
    assert len(huge) > app.config["API_MAX_BODY_BYTES"]
    response = client.post("/api/v1/orders/bulk-status", data=huge, content_type="application/json",
                           headers=auth(token))
    assert response.status_code == 413 and response.json["error"]["code"] == "request_entity_too_large"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"


def test_bulk_status_reports_successes_and_failures(client, token):
    a, b = make_order("awaiting_payment"), make_order("awaiting_payment")
    shipped = make_order("shipped")
    response = client.post("/api/v1/orders/bulk-status", headers=auth(token),
                           json={"order_ids": [a.id, b.id, shipped.id, 999999], "status": "cancelled"})
    data = response.json
    assert response.status_code == 200
    assert data["summary"] == {"total": 4, "successful_count": 2, "failed_count": 2}
    assert {s["id_order"] for s in data["successful"]} == {a.id, b.id}
    failed = {f["id_order"]: f["error"]["code"] for f in data["failed"]}
    assert failed == {shipped.id: "transition_refused", 999999: "not_found"}


def test_viewer_tokens_can_read_but_not_change(client, app):
    _, raw = create_api_token(make_user("viewer"), "read-only")
    order = make_order("awaiting_payment")
    assert client.get("/api/v1/orders", headers=auth(raw)).status_code == 200
    response = client.put(f"/api/v1/orders/{order.id}/status", json={"status": "paid"}, headers=auth(raw))
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_unknown_api_route_is_json_404(client, token):
    response = client.get("/api/v1/nothing-here", headers=auth(token))
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
