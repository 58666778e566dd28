"""The dashboard in a browser: charts drawn without script or inline style, each figure opens its orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.core.types import utcnow
from app.extensions import db
from tests.factories import make_order


@pytest.mark.browser
def test_dashboard_charts_open_the_orders_they_count(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        for status, source in (("paid", "allegro"), ("paid", "allegro"), ("awaiting_payment", "prestashop"),
                               ("shipped", "shopify"), ("cancelled", "allegro")):
            make_order(status, source=source)
        db.session.remove()
    sign_in(page, live_server.operator)
    page.goto(f"{live_server.url}/")
    expect(page.locator("#chart-orders svg rect.bar")).to_have_count(3)
    expect(page.locator("#kpi-orders td").first).to_have_text("5")
    screenshot(page, "dashboard")

    # The Allegro row of the orders-per-channel table opens the list of exactly those three orders.
    page.locator("#chart-orders table").get_by_role("link", name="Allegro").click()
    # The charts show the last 7 days unless another period is chosen.
    today = utcnow().date()
    week_start = (today - timedelta(days=6)).isoformat()
    expect(page).to_have_url(f"{live_server.url}/orders?date_from={week_start}&date_to={today}&source=allegro")
    expect(page.locator("#orders-table tbody tr[id^='order-row-']")).to_have_count(3)

    # The processing group of the waiting chart, clicked on the bar itself.
    page.goto(f"{live_server.url}/")
    page.locator("#chart-waiting svg a").nth(1).click()
    expect(page.locator("#extra-filters")).to_contain_text("Processing")
    expect(page.locator("#orders-table tbody tr[id^='order-row-']")).to_have_count(2)
    assert page.problems == [], "\n".join(page.problems)
