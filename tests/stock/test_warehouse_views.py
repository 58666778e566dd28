"""Warehouse pages: roles, settings, stock page filters, order panel, print view and PDF."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.orders.services import ItemInput
from app.stock import documents, warehouses
from app.stock.models import StockLevel
from tests.conftest import csrf_from
from tests.factories import make_order, make_user
from tests.stock.conftest import KEEPER, stocked


def test_every_page_needs_login(client, warehouse):
    for url in ("/stock", "/stock/shortages", "/stock/documents", "/stock/warehouses", "/settings/orders"):
        assert client.get(url).status_code == 302


def test_the_stock_page_filters_and_a_receipt_is_posted(client, login, warehouse):
    stocked("KUB-350", 3, warehouse, name="Kubek")
    stocked("TAL-1", 9, warehouse, name="Talerz")
    level = db.session.scalar(select(StockLevel).join(StockLevel.product).where(StockLevel.on_hand == 3))
    level.minimum = 5
    db.session.commit()
    csrf = login(make_user("operator"))
    page = client.get("/stock?filter=below_minimum").get_data(as_text=True)
    assert "KUB-350" in page and "TAL-1" not in page and "below minimum" in page
    response = client.post("/stock/receive", data={"csrf_token": csrf, "warehouse_id": warehouse.id, "sku": "TAL-1",
                                                   "quantity": "4", "note": "delivery"})
    assert response.status_code == 302
    assert "PZ/" in client.get("/stock").get_data(as_text=True)
    assert warehouses.available(level.product_id, warehouse.id) == 3
    response = client.post("/stock/correct", data={"csrf_token": csrf, "warehouse_id": warehouse.id, "sku": "NOPE",
                                                   "quantity": "99999999999999999999"}, follow_redirects=True)
    assert response.status_code == 200 and "Nothing was changed" in response.get_data(as_text=True)


def test_a_viewer_cannot_post_stock(client, login, warehouse):
    stocked("KUB-350", 3, warehouse)
    csrf = login(make_user("viewer"))
    response = client.post("/stock/receive", data={"csrf_token": csrf, "warehouse_id": warehouse.id,
                                                   "sku": "KUB-350", "quantity": "4"})
    assert response.status_code == 403


def test_settings_orders_are_saved_by_an_admin(client, login, warehouse):
    second = warehouses.add_warehouse("B2", "Second")
    csrf = login(make_user("admin"))
    page = client.get("/settings/orders").get_data(as_text=True)
    assert "Default warehouse" in page
    response = client.post("/settings/orders", data={
        "csrf_token": csrf, "default_warehouse_id": second.id, "reserve": "y", "reservation_hours": "24",
        "issue_wz_on": "ready_for_shipment", "release_on_cancel": "y", "seller_details": "Sklep Kontor\nul. Polna 1"})
    assert response.status_code == 302
    settings = warehouses.order_settings()
    assert (settings.default_warehouse_id, settings.reservation_hours, settings.issue_wz_on) == (
        second.id, 24, "ready_for_shipment")
    assert warehouses.default_warehouse().code == "B2"


def test_the_order_panel_reserves_and_issues_and_the_wz_prints(client, login, warehouse):
    stocked("KUB-350", 5, warehouse)
    settings = warehouses.order_settings()
    settings.seller_details = "Sklep Żółty\nul. Polna 1"
    db.session.commit()
    order = make_order("paid", items=[ItemInput(name="Kubek żółty", quantity=2, unit_price_gross=Decimal("10"),
                                                sku="KUB-350")])
    csrf = login(make_user("operator"))
    headers = {"X-CSRFToken": csrf, "HX-Request": "true"}
    panel = client.post(f"/stock/orders/{order.id}/reserve", headers=headers).get_data(as_text=True)
    assert 'id="order-stock"' in panel and ">2<" in panel
    panel = client.post(f"/stock/orders/{order.id}/wz", headers=headers).get_data(as_text=True)
    wz = documents.order_wz(order.id)
    assert wz.state == "posted" and wz.number in panel
    printed = client.get(f"/stock/documents/{wz.id}").get_data(as_text=True)
    assert "Sklep Żółty" in printed and "Kubek żółty" in printed and "Received by (signature)" in printed
    pdf = client.get(f"/stock/documents/{wz.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_an_order_panel_error_is_shown_in_place(client, login, warehouse):
    order = make_order("paid", items=[ItemInput(name="Nic", quantity=1, unit_price_gross=Decimal("1"), sku="NONE")])
    csrf = login(make_user("operator"))
    response = client.post(f"/stock/orders/{order.id}/wz", headers={"X-CSRFToken": csrf, "HX-Request": "true"})
    assert response.status_code == 200 and "nothing to issue" in response.get_data(as_text=True)


def test_the_product_page_shows_stock_per_warehouse(client, login, warehouse):
    mug = stocked("KUB-350", 5, warehouse)
    login(make_user("viewer"))
    assert 'id="product-stock"' in client.get(f"/products/{mug.id}").get_data(as_text=True)
    fragment = client.get(f"/stock/products/{mug.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "MAG" in fragment and ">5<" in fragment and "pz" in fragment.lower()


def test_the_channel_sync_page_lists_updates_and_differences(client, login, warehouse):
    from app.catalog.models import ProductLink
    from app.stock.models import StockDifference
    from tests.factories import make_integration

    integration = make_integration("prestashop", name="Sklep Ani")
    mug = stocked("KUB-350", 0, warehouse)
    link = ProductLink(integration_id=integration.id, product_id=mug.id, external_product_id="11")
    db.session.add(link)
    db.session.commit()
    documents.receive(warehouse.id, [(mug.id, 3)], KEEPER)
    db.session.add(StockDifference(integration_id=integration.id, link_id=link.id, product_id=mug.id,
                                   kontor_quantity=3, channel_quantity=8))
    db.session.commit()
    login(make_user("operator"))
    page = client.get("/stock/sync").get_data(as_text=True)
    assert "Sklep Ani" in page and ">8<" in page and "waiting to be sent" in page and "Reconcile and fix now" in page
