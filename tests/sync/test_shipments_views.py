"""Shipment pushes on the order page's platform panel and the integration's undelivered list."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.orders.services import Actor
from app.orders.shipments import ShipmentInput, add_shipment
from app.sync import claims, outbox
from app.sync.models import SyncOperation
from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user

HX = {"HX-Request": "true"}


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_a_failed_shipment_push_shows_on_the_order_and_the_integration_with_retry(client, app, login):
    csrf = login(make_user("operator"))
    shop = make_integration("prestashop", direction="push", name="Sklep Ania")
    order = make_order("paid", integration_id=shop.id, external_order_id="5")
    add_shipment(order.id, ShipmentInput("DPD", "6000123"), Actor("Olga", "manual"))
    operation = db.session.scalars(select(SyncOperation)).one()

    waiting = client.get(f"/sync/orders/{order.id}", headers=HX)
    assert "Tracking 6000123 : pending" in words(waiting)
    assert 'hx-trigger="every 2s' in waiting.get_data(as_text=True)  # polls while the number is on its way

    outbox.fail(claims.claim(operation.id), "PrestaShop order 5 has no carrier (no order_carriers row), so …")
    db.session.commit()
    panel = client.get(f"/sync/orders/{order.id}", headers=HX)
    assert "Tracking 6000123 : failed" in words(panel) and "no order_carriers row" in words(panel)
    assert "Retry now" in words(panel) and "every 2s" not in panel.get_data(as_text=True)
    listing = words(client.get(f"/sync/integrations/{shop.id}/operations", headers=HX))
    assert order.number in listing and "Tracking 6000123" in listing and "failed" in listing

    retried = client.post(f"/sync/operations/{operation.id}/retry", headers={**HX, "X-CSRFToken": csrf},
                          data={"from": "order"})

    assert retried.status_code == 200 and "Tracking 6000123 : pending" in words(retried)
    db.session.expire_all()
    assert db.session.get(SyncOperation, operation.id).state == "pending"


def test_the_integration_page_offers_the_tracking_settings(client, app, login):
    login(make_user("admin"))
    shop = make_integration("prestashop", name="Sklep Ania")
    allegro = make_integration("allegro", name="Allegro Ania")
    shop_form = words(client.get(f"/integrations/{shop.id}/edit"))
    assert "E-mail the customer when the tracking number is set" in shop_form
    page = client.get(f"/integrations/{allegro.id}/edit").get_data(as_text=True)
    assert "Carriers for tracking numbers" in page

    bad = client.post(f"/integrations/{allegro.id}/edit", data={
        "csrf_token": csrf_from(page), "name": "Allegro Ania", "environment": "sandbox", "client_id": "client",
        "carriers": "Kurier Jan = DPD\nInPost"})
    assert bad.status_code == 422 and "Line 2: write it as" in words(bad)
    assert "Kurier Jan = DPD" in bad.get_data(as_text=True)  # kept as typed
    saved = client.post(f"/integrations/{allegro.id}/edit", data={
        "csrf_token": csrf_from(page), "name": "Allegro Ania", "environment": "sandbox", "client_id": "client",
        "carriers": "Kurier  Jan = dpd\n\nInPost Kurier=INPOST"})
    assert saved.status_code == 302
    db.session.expire_all()
    allegro = db.session.get(type(allegro), allegro.id)
    assert allegro.settings["carriers"] == {"Kurier Jan": "DPD", "InPost Kurier": "INPOST"}
    assert "Kurier Jan → DPD" in words(client.get(f"/integrations/{allegro.id}"))
    edit_again = client.get(f"/integrations/{allegro.id}/edit").get_data(as_text=True)
    assert "Kurier Jan = DPD\nInPost Kurier = INPOST" in edit_again
