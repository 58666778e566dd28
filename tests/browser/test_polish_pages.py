"""The operations pages in Polish in a browser: health, stock, an order with its timeline, the dashboard.

Polish words run longer than English ones; each page is checked for text spilling out sideways.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import lazy_gettext as _l
from playwright.sync_api import expect

from app.accounts.models import User
from app.extensions import db
from app.inbound import ledger
from app.inbound.services import process_event
from app.integrations.models import IntegrationRun
from app.orders.services import Actor, ItemInput
from app.stock import reservations, warehouses
from tests.factories import make_integration, make_order
from tests.monitoring.conftest import stuck_push
from tests.stock.conftest import stocked

# Elements wider than the page, or wider than the cell or card that holds them.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  if (document.documentElement.scrollWidth > width + 1) wide.push('page ' + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll('.card, .btn, .pill, .subnav a, th, .stat')) {
    if (el.closest('.table-card, .table-wrap')) continue;  // tables that scroll inside their card on purpose
    if (el.scrollWidth > el.clientWidth + 2) wide.push(el.tagName + '.' + el.className + ': ' + el.textContent.trim().slice(0, 40));
  }
  return wide;
}"""


@pytest.mark.browser
def test_the_operations_pages_read_well_in_polish(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        user = db.session.get(User, live_server.admin.id)
        user.locale = "pl"
        warehouse = warehouses.add_warehouse("MAG", "Magazyn główny")
        db.session.commit()
        stocked("KUB-350", 1, warehouse, name="Kubek ceramiczny żółty")
        order = make_order("paid", items=[ItemInput(name="Kubek ceramiczny żółty", quantity=3,
                                                    unit_price_gross=Decimal("29.90"), sku="KUB-350")])
        reservations.reserve(order.id, Actor("Kontor", "automation"))
        shop = make_integration("prestashop", name="Sklep Ania")
        stuck_push(shop.id, order.id)
        run = IntegrationRun(integration_id=shop.id, kind="states_sync")  # stored with its key, said in Polish
        run.say(_l("%(count)s states", count=12))
        db.session.add(run)
        db.session.commit()
        broken = ledger.record(shop.id, "prestashop", "broken-1", b"{not json", {})
        process_event(broken.event_id)
        order_id, shop_id = order.id, shop.id
        db.session.remove()
    sign_in(page, live_server.admin)

    checks = {
        "/health": ("Stan synchronizacji", "health-pl"),
        "/stock": ("Magazyn", "stock-pl"),
        "/stock/shortages": ("Braki", "shortages-pl"),
        "/stock/sync": ("Różnice znalezione przy uzgadnianiu", "stock-sync-pl"),
        "/settings/alerts": ("Kanały", "alerts-pl"),
        "/queues": ("Kolejki", "queues-pl"),
        f"/orders/{order_id}": ("Historia", "order-pl"),
        "/": ("Pulpit", "dashboard-pl"),
        f"/integrations/{shop_id}": ("Zamówienia z PrestaShop", "integration-pl"),
        f"/integrations/{shop_id}/deliveries": ("Dostawy", "deliveries-pl"),
    }
    for path, (heading, name) in checks.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", "pl")
        expect(page.locator("body")).to_contain_text(heading)
        page.wait_for_load_state("networkidle")
        screenshot(page, name)
        assert page.evaluate(OVERFLOW) == [], f"{path} spills over"
    timeline = page.locator("#order-timeline")
    page.goto(f"{live_server.url}/orders/{order_id}")
    expect(timeline).to_contain_text("Zarezerwowano szt.: 1 w magazynie MAG; brakuje 2 (zob. Braki).")
    expect(timeline).to_contain_text("Utworzono zamówienie")
    expect(page.locator("#order-stock")).to_contain_text("brakuje 2")
    page.goto(f"{live_server.url}/integrations/{shop_id}")
    expect(page.locator("body")).to_contain_text("Statusów: 12")
    page.goto(f"{live_server.url}/integrations/{shop_id}/deliveries")
    expect(page.locator("body")).to_contain_text("Nie można odczytać dostawy (webhook): Treść nie jest poprawnym JSON-em")
    assert page.problems == [], "\n".join(page.problems)
