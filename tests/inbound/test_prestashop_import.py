"""PrestaShop orders coming in: from the shop's database (real MariaDB) and through the webservice (the fake)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.inbound import prestashop as importer
from app.inbound.models import InboundEvent
from app.integrations.models import IntegrationRun
from app.integrations.progress import cursors
from app.jobs import tasks
from app.orders.models import Order
from tests.factories import make_integration, map_status
from tests.fakes.prestashop_db import load_standard_shop


def add_shop_order(shop, order_id: int, date_upd: str, state: int = 2, quantity: int = 1) -> None:
    """An order as PrestaShop writes it: orders, order_detail, address, customer, order_history."""
    shop.insert("customer", [{"id_customer": order_id, "id_gender": 1, "firstname": "Ewa", "lastname": f"Nowak{order_id}",
                              "email": f"ewa{order_id}@example.com", "passwd": "x", "date_add": date_upd,
                              "date_upd": date_upd}]) if not shop.rows("customer", "id_customer = :i",
                                                                        {"i": order_id}) else None
    shop.insert("address", [{"id_address": order_id, "id_country": 14, "alias": "Home", "company": "Ewa Sp. z o.o.",
                             "lastname": f"Nowak{order_id}", "firstname": "Ewa", "address1": "Długa 1", "postcode": "00-001",
                             "city": "Warszawa", "vat_number": "PL123", "phone_mobile": "600100200", "date_add": date_upd,
                             "date_upd": date_upd}]) if not shop.rows("address", "id_address = :i", {"i": order_id}) else None
    shop.execute(f"DELETE FROM {shop.table('orders')} WHERE id_order = :i", {"i": order_id})
    shop.execute(f"DELETE FROM {shop.table('order_detail')} WHERE id_order = :i", {"i": order_id})
    shop.insert("orders", [{"id_order": order_id, "reference": f"REF{order_id:05d}", "id_carrier": 1, "id_lang": 1,
                            "id_customer": order_id, "id_cart": order_id, "id_currency": 1,
                            "id_address_delivery": order_id, "id_address_invoice": order_id, "current_state": state,
                            "payment": "Przelew", "module": "ps_wirepayment", "total_paid_tax_incl": "61.50",
                            "total_paid": "61.50", "total_paid_real": "61.50" if state == 2 else "0",
                            "total_shipping_tax_incl": "12.30", "invoice_date": "2024-01-01 00:00:00",
                            "delivery_date": "2024-01-01 00:00:00", "date_add": "2026-11-30 09:00:00",
                            "date_upd": date_upd}])
    shop.insert("order_detail", [{"id_order": order_id, "id_shop": 1, "product_id": 7, "product_name": "Kubek",
                                  "product_quantity": quantity, "product_reference": "KUB-1",
                                  "product_ean13": "5901234123457", "unit_price_tax_incl": "49.20", "tax_rate": "23",
                                  "product_weight": 0, "tax_name": "PTU PL 23%"}])
    shop.insert("order_history", [{"id_employee": 0, "id_order": order_id, "id_order_state": state,
                                   "date_add": date_upd}])


@pytest.fixture
def shop_db(prestashop_db):
    prestashop_db.insert("order_state_lang", [
        {"id_order_state": 2, "id_lang": 1, "name": "Payment accepted", "template": "payment"},
        {"id_order_state": 4, "id_lang": 1, "name": "Shipped", "template": "shipped"}])
    return prestashop_db


def apply_stored() -> None:
    tasks.process_inbound_batch(db.session.scalars(select(InboundEvent.id).where(
        InboundEvent.state == "received").order_by(InboundEvent.id)).all())


def test_database_import_is_incremental_by_date_upd_with_the_id_as_tie_break(app, shop_db):
    shop = make_integration("prestashop", direction="pull", credentials={"api_key": "K", "db_dsn": shop_db.dsn},
                            states=[("2", "Payment accepted"), ("4", "Shipped")])
    map_status(shop, "paid", "2", "pull")
    map_status(shop, "shipped", "4", "pull")
    for order_id in (1, 2, 3):  # three orders changed in the same second
        add_shop_order(shop_db, order_id, "2026-12-01 10:00:00")
    importer.DB_PAGE = 2  # pages end between orders of the same date_upd
    try:
        counts = importer.import_orders(shop.id)
    finally:
        importer.DB_PAGE = 500
    assert counts == {"orders": 3, "new": 3, "known": 0}
    assert cursors(shop.id)[importer.CURSOR] == "2026-12-01 10:00:00|3"
    apply_stored()
    order = db.session.scalar(select(Order).where(Order.external_order_id == "1"))
    assert (order.status, order.customer_name, order.customer_email) == ("paid", "Ewa Nowak1", "ewa1@example.com")
    assert order.total_gross == Decimal("61.50") and order.shipping_gross == Decimal("12.30")
    assert order.payment_status == "paid" and order.meta["platform_number"] == "REF00001"
    assert (order.address("billing").company, order.address("billing").vat_id) == ("Ewa Sp. z o.o.", "PL123")
    assert [(i.sku, i.ean, i.quantity, i.offer_id) for i in order.items] == [("KUB-1", "5901234123457", 1, "7")]
    # Nothing changed: nothing read again. Then one order is shipped.
    assert importer.import_orders(shop.id)["orders"] == 0
    add_shop_order(shop_db, 2, "2026-12-01 11:00:00", state=4, quantity=2)
    assert importer.import_orders(shop.id) == {"orders": 1, "new": 1, "known": 0}
    apply_stored()
    changed = db.session.scalar(select(Order).where(Order.external_order_id == "2"))
    assert (changed.status, changed.items[0].quantity) == ("shipped", 2)
    assert db.session.scalar(select(func.count(Order.id))) == 3
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.kind == "order_import")
                            .order_by(IntegrationRun.id.desc()))
    assert run.ok and "database" in run.message


def test_database_import_never_writes_to_the_shop(app, shop_db):
    shop = make_integration("prestashop", credentials={"api_key": "K", "db_dsn": shop_db.dsn})
    add_shop_order(shop_db, 9, "2026-12-01 10:00:00")
    before = shop_db.rows("orders")
    importer.import_orders(shop.id)
    assert shop_db.rows("orders") == before
    assert len(shop_db.rows("order_history")) == 1


def test_webservice_import_pages_through_the_date_filter_with_an_overlap(app, fake_prestashop):
    shop = make_integration("prestashop", direction="pull", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key},
                            states=[("2", "Payment accepted"), ("4", "Shipped")])
    map_status(shop, "shipped", "4", "pull")
    for order_id in range(1, 106):  # more than a page of 100
        fake_prestashop.put_order(order_id, date_upd=f"2026-12-01 10:{order_id // 60:02d}:{order_id % 60:02d}")
    assert importer.import_orders(shop.id) == {"orders": 105, "new": 105, "known": 0}
    listed = [r for r in fake_prestashop.requests_log if r.path == "/api/orders"]
    assert [r.query["limit"] for r in listed] == [["0,100"], ["100,100"]]
    assert all(r.query["date"] == ["1"] and r.query["display"] == ["full"] for r in listed)
    assert cursors(shop.id)[importer.CURSOR].startswith("2026-12-01 10:01:45")
    apply_stored()
    order = db.session.scalar(select(Order).where(Order.external_order_id == "7"))
    assert (order.customer_name, order.currency, order.items[0].sku) == ("Ewa Nowak", "PLN", "KUB-1")
    assert order.address("shipping").city == "Warszawa"
    # The next import asks from 5 minutes before the last date_upd seen: what it had is recognised.
    fake_prestashop.put_order(7, state=4, date_upd="2026-12-01 10:30:00", quantity=3)
    assert importer.import_orders(shop.id) == {"orders": 105, "new": 1, "known": 104}
    assert [r for r in fake_prestashop.requests_log if r.path == "/api/orders"][-1].query["filter[date_upd]"][0] \
        .startswith("[2026-12-01 09:56:45,")
    apply_stored()
    db.session.refresh(order)
    assert (order.status, order.items[0].quantity) == ("shipped", 3)


def test_a_garbled_date_upd_from_the_webservice_never_becomes_the_cursor(app, fake_prestashop):
    shop = make_integration("prestashop", direction="pull", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})
    fake_prestashop.put_order(1, date_upd="2026-12-01 10:00:00")
    fake_prestashop.put_order(2, date_upd="2026-12-01 10:00:00.999")  # not PrestaShop's format
    assert importer.import_orders(shop.id)["orders"] == 2
    assert cursors(shop.id)[importer.CURSOR] == "2026-12-01 10:00:00|0"
    fake_prestashop.put_order(3, date_upd="2026-12-01 10:01:00")
    assert importer.import_orders(shop.id)["new"] == 1  # the next run still reads


def test_database_import_reads_awkward_shops(app, prestashop_db_factory):
    """Custom prefix, another shop of a multistore, the top id, zero dates, NULLs, rows that point nowhere."""
    shop_db = prestashop_db_factory("sklep7_", collation="COLLATE utf8mb4_unicode_ci")
    load_standard_shop(shop_db)
    shop_db.insert("order_state_lang", [{"id_order_state": 4, "id_lang": 1, "name": "Wysłane", "template": "shipped"}])
    top = 4294967295  # int(10) unsigned
    with shop_db.engine.begin() as conn:
        conn.exec_driver_sql("SET SESSION sql_mode = ''")  # as old shops run: zero dates allowed
        conn.exec_driver_sql(
            "INSERT INTO sklep7_orders (id_order, reference, id_shop, id_shop_group, id_carrier, id_lang, id_customer,"
            " id_cart, id_currency, id_address_delivery, id_address_invoice, current_state, payment, module,"
            " total_paid_tax_incl, total_paid, total_paid_real, total_shipping_tax_incl, invoice_date, delivery_date,"
            " date_add, date_upd, secure_key, conversion_rate, valid, note) VALUES"
            f" ({top}, NULL, 3, 2, 1, 1, 999, 1, 1, 998, 997, 0, 'Płatność ☃', 'm', 10, 10, 0, 0,"
            " '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '2026-12-01 10:00:00', '', 1, 0,"
            " NULL)")
    shop_db.insert("order_history", [{"id_employee": 0, "id_order": top, "id_order_state": 4,
                                      "date_add": "2026-12-01 10:00:00"}])
    shop = make_integration("prestashop", direction="pull", credentials={"api_key": "K", "db_dsn": shop_db.dsn},
                            settings={"database": {"prefix": "sklep7_"}}, states=[("4", "Wysłane")])
    map_status(shop, "shipped", "4", "pull")
    assert importer.import_orders(shop.id) == {"orders": 1, "new": 1, "known": 0}
    apply_stored()
    [event] = db.session.scalars(select(InboundEvent))
    assert event.state == "processed", event.error
    order = db.session.scalar(select(Order))
    assert (order.external_order_id, order.meta["platform_number"]) == (str(top), str(top))
    assert (order.platform_state, order.status) == ("4", "shipped")  # current_state 0: the last history entry
    assert order.customer_name == "Customer" and order.address("shipping") is None  # rows that point nowhere
    assert order.ordered_at is not None and order.payments == []


def test_an_order_the_webservice_sends_without_its_id_is_skipped_and_said_the_others_import(app, fake_prestashop,
                                                                                           monkeypatch):
    shop = make_integration("prestashop", direction="pull", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})
    for order_id in (1, 2, 3):
        fake_prestashop.put_order(order_id, date_upd=f"2026-12-01 10:00:0{order_id}")
    real_fields = fake_prestashop._order_fields
    monkeypatch.setattr(fake_prestashop, "_order_fields",
                        lambda order_id: {**real_fields(order_id), **({"id": ""} if order_id == "2" else {})})
    assert importer.import_orders(shop.id) == {"orders": 2, "new": 2, "known": 0, "skipped": 1}
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.integration_id == shop.id))
    assert run.ok and "1 skipped: the shop sent them without an order id" in run.message
    apply_stored()
    assert set(db.session.scalars(select(Order.external_order_id))) == {"1", "3"}
