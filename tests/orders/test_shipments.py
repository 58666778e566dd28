"""Adding a shipment on the order page and through the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.services import create_api_token
from app.extensions import db
from app.orders.models import Order, OrderShipment
from app.sync.models import SyncOperation
from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def shipments_of(order: Order) -> list[tuple[str, str, str]]:
    db.session.expire_all()
    return [(s.carrier, s.tracking_number, s.service) for s in db.session.get(Order, order.id).shipments]


def token_for(role: str) -> dict[str, str]:
    _, raw = create_api_token(make_user(role), "scanner")
    return {"Authorization": f"Bearer {raw}"}


# --- the order page ---------------------------------------------------------------------------

def test_the_order_page_adds_a_shipment_and_shows_it(client, login, app):
    login(make_user("operator"))
    order = make_order("paid")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'id="order-shipments"' in page and "Add shipment" in page

    response = client.post(f"/orders/{order.id}/shipments", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf_from(page), "carrier": " InPost ", "tracking_number": " 6000123 ", "service": "Paczkomat"})

    assert response.status_code == 200
    assert "InPost Paczkomat" in words(response) and "Tracking 6000123" in words(response)
    assert "timeline-changed" in response.headers["HX-Trigger"]
    assert shipments_of(order) == [("InPost", "6000123", "Paczkomat")]


def test_a_bad_number_is_shown_next_to_the_field_and_nothing_is_saved(client, login, app):
    login(make_user("operator"))
    order = make_order("paid")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)

    response = client.post(f"/orders/{order.id}/shipments", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf_from(page), "carrier": "DPD", "tracking_number": "12<script>"})

    assert response.status_code == 422
    assert "A tracking number holds letters, digits" in words(response)
    assert "&lt;script&gt;" in response.get_data(as_text=True)  # shown back as typed, escaped
    assert shipments_of(order) == []


def test_without_htmx_the_form_redirects_back_with_a_message(client, login, app):
    login(make_user("operator"))
    order = make_order("paid")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    response = client.post(f"/orders/{order.id}/shipments", data={
        "csrf_token": csrf_from(page), "carrier": "DPD", "tracking_number": "A-1"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/orders/{order.id}")
    assert "Shipment A-1 added." in client.get(f"/orders/{order.id}").get_data(as_text=True)


def test_a_viewer_cannot_add_a_shipment_and_a_post_needs_its_csrf_token(client, login, app):
    login(make_user("viewer"))
    order = make_order("paid")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Add shipment" not in page
    refused = client.post(f"/orders/{order.id}/shipments", data={
        "csrf_token": csrf_from(page), "carrier": "DPD", "tracking_number": "A-1"})
    assert refused.status_code == 403
    assert client.post(f"/orders/{order.id}/shipments", data={"carrier": "DPD",
                                                                "tracking_number": "A-1"}).status_code == 400
    assert shipments_of(order) == []


# --- the API ------------------------------------------------------------------------------------

def test_the_api_adds_a_shipment_and_a_platform_order_gets_a_push(client, app):
    shop = make_integration("prestashop", direction="push")
    order = make_order("paid", integration_id=shop.id, external_order_id="5")

    response = client.post(f"/api/v1/orders/{order.id}/shipments", headers=token_for("operator"),
                           json={"carrier": "DPD", "tracking_number": "6000123", "service": "Classic"})

    assert response.status_code == 201
    assert response.json["carrier"] == "DPD" and response.json["tracking_number"] == "6000123"
    [operation] = db.session.scalars(select(SyncOperation)).all()
    assert (operation.kind, operation.state, operation.payload["tracking_number"]) == ("shipment_push", "pending",
                                                                                         "6000123")
    detail = client.get(f"/api/v1/orders/{order.id}", headers=token_for("viewer")).json
    assert [s["tracking_number"] for s in detail["shipments"]] == ["6000123"]


@pytest.mark.parametrize("body, status, words_in_message", [
    ({"carrier": "DPD"}, 422, "Enter the tracking number"),
    ({"carrier": "DPD", "tracking_number": 6000123}, 422, "as a string"),
    ({"tracking_number": "6000123"}, 422, "Name the carrier"),
    ({"carrier": "DPD", "tracking_number": "x" * 65}, 422, "at most 64"),
])
def test_the_api_refuses_bad_input_in_words(client, app, body, status, words_in_message):
    order = make_order("paid")
    response = client.post(f"/api/v1/orders/{order.id}/shipments", headers=token_for("operator"), json=body)
    assert response.status_code == status
    assert words_in_message in response.json["error"]["message"]
    assert db.session.scalars(select(OrderShipment)).all() == []


def test_the_api_answers_404_for_a_missing_order_and_403_for_a_viewer(client, app):
    missing = client.post("/api/v1/orders/999/shipments", headers=token_for("operator"),
                          json={"carrier": "DPD", "tracking_number": "1"})
    assert missing.status_code == 404
    order = make_order("paid")
    viewer = client.post(f"/api/v1/orders/{order.id}/shipments", headers=token_for("viewer"),
                         json={"carrier": "DPD", "tracking_number": "1"})
    assert viewer.status_code == 403
    not_json = client.post(f"/api/v1/orders/{order.id}/shipments", headers=token_for("operator"), data="x")
    assert not_json.status_code == 422
