"""The warehouse side in a browser: reserve and issue a WZ from the order page, the stock page, the WZ print."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.orders.services import ItemInput
from app.stock import warehouses
from tests.factories import make_order
from tests.stock.conftest import stocked


@pytest.mark.browser
def test_an_operator_reserves_issues_and_prints_a_wz(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        warehouse = warehouses.add_warehouse("MAG", "Magazyn główny")
        settings = warehouses.order_settings()
        settings.seller_details = "Sklep Kontor sp. z o.o.\nul. Polna 1, 00-001 Warszawa"
        db.session.commit()
        stocked("KUB-350", 5, warehouse, name="Kubek ceramiczny żółty")
        order = make_order("paid", items=[ItemInput(name="Kubek ceramiczny żółty", quantity=2,
                                                    unit_price_gross=Decimal("29.90"), sku="KUB-350")])
        order_id = order.id
        db.session.remove()
    sign_in(page, live_server.operator)
    page.goto(f"{live_server.url}/orders/{order_id}")
    panel = page.locator("#order-stock")
    expect(panel).to_contain_text("Nothing reserved for this order.")
    panel.get_by_role("button", name="Reserve").click()
    expect(panel.locator("table")).to_contain_text("KUB-350")
    panel.get_by_role("button", name="Issue WZ").click()
    expect(panel).to_contain_text("WZ/")
    screenshot(page, "order-stock-panel")

    page.goto(f"{live_server.url}/stock")
    expect(page.locator("#stock-table")).to_contain_text("KUB-350")
    expect(page.locator("#stock-table")).to_contain_text("3")
    screenshot(page, "stock-page")

    page.goto(f"{live_server.url}/stock/documents")
    page.get_by_role("link", name="WZ/").first.click()
    expect(page.locator("h1")).to_contain_text("Goods issue (WZ) WZ/")
    expect(page.locator(".print-seller")).to_contain_text("Sklep Kontor sp. z o.o.")
    screenshot(page, "wz-print")
    assert page.problems == []
