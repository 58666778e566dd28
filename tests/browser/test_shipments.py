"""A tracking number typed on the order page reaches PrestaShop: headless Chromium, a real worker, the fake shop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.factories import make_integration, make_order

PUSH_TIMEOUT_MS = 30_000


@pytest.mark.browser
def test_a_shipment_added_on_the_order_page_reaches_the_shop(live_server, live_workers, fake_prestashop, page,
                                                             sign_in, screenshot):
    live_workers.start(1)
    external_id = fake_prestashop.add_order(state="3")
    with live_server.app.app_context():
        shop = make_integration("prestashop", direction="push", name="Sklep Kubki", settings={
            "shop_url": fake_prestashop.url, "language_id": 1, "tracking_email": True},
            credentials={"api_key": fake_prestashop.api_key})
        order = make_order("paid", customer="Anna Nowak", source="prestashop", integration_id=shop.id,
                           external_order_id=external_id)
        order_id = order.id
        db.session.remove()
    sign_in(page, live_server.operator)
    page.goto(f"{live_server.url}/orders/{order_id}")

    shipments = page.locator("#order-shipments")
    expect(shipments).to_contain_text("Not shipped yet.")
    shipments.get_by_label("Tracking number").fill("12<3")
    shipments.get_by_label("Carrier").fill("DPD")
    shipments.get_by_role("button", name="Add shipment").click()
    expect(shipments.locator(".error")).to_contain_text("A tracking number holds letters, digits")
    expect(shipments).to_contain_text("Not shipped yet.")  # nothing saved
    shipments.get_by_label("Tracking number").fill("0000111222")
    shipments.get_by_role("button", name="Add shipment").click()
    expect(shipments.locator(".tracking-number")).to_have_text("0000111222")

    panel = page.locator("#order-sync")
    expect(panel.locator(".shipment-push-state")).to_have_text("sent", timeout=PUSH_TIMEOUT_MS)
    expect(panel).to_contain_text("Tracking 0000111222 sent to Sklep Kubki (the shop asked to e-mail the customer).")
    expect(page.locator("#order-timeline")).to_contain_text("Shipment added: DPD, tracking 0000111222")
    screenshot(page, "order-shipment-pushed")
    assert fake_prestashop.tracking_numbers(external_id) == ["0000111222"]
    assert [p["sendemail"] for p in fake_prestashop.carrier_puts] == [True]
    assert page.problems == []
