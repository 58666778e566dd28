"""Switching the language in the profile: the order list and an order page speak Polish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from tests.factories import make_order


@pytest.mark.browser
def test_a_user_switches_to_polish_and_sees_orders_in_polish(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        order = make_order("awaiting_payment", customer="Zofia Wójcik")
        order.total_gross = 1060.99
        db.session.commit()
        order_id, number = order.id, order.number
        db.session.remove()
    sign_in(page, live_server.operator)
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()

    page.locator("#profile-link").click()
    page.get_by_label("Language").select_option(label="Polski")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_have_text("Twoje ustawienia zostały zapisane.")
    expect(page.locator("html")).to_have_attribute("lang", "pl")

    page.get_by_role("link", name="Zamówienia").first.click()
    expect(page.get_by_role("heading", name="Zamówienia")).to_be_visible()
    expect(page.get_by_role("link", name="Nowe zamówienie")).to_be_visible()
    row = page.locator(f"#order-row-{order_id}")
    expect(row).to_contain_text("Oczekuje na płatność")
    expect(row).to_contain_text("1\u00a0060,99\u00a0zł")
    screenshot(page, "orders-in-polish")

    row.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=f"Zamówienie {number}")).to_be_visible()
    expect(page.get_by_role("heading", name="Pozycje")).to_be_visible()
    expect(page.get_by_role("heading", name="Historia")).to_be_visible()
    expect(page.get_by_role("button", name="Zmień status")).to_be_visible()
    screenshot(page, "order-in-polish")
    assert page.problems == [], "\n".join(page.problems)
