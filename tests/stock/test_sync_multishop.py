"""Availability synced into a multistore PrestaShop as a seller would: custom prefix, a shop group sharing
stock, three languages, combinations, missing rows, and products the supplier does not list.

The shop is tests/fakes/prestashop_db.py's standard shop under the prefix kt_: shop 1 keeps its own
stock, shops 2 and 3 share stock in group 2, languages pl/en/de.
"""

from __future__ import annotations

import csv
import html
import io

import pytest
from sqlalchemy import select

from app.catalog.models import ProductLink
from app.catalog.services import autolink
from app.extensions import db
from app.integrations.models import Integration, IntegrationRun
from app.stock.links import shop_items
from app.stock.services import sync_availability
from tests.factories import make_integration, make_user
from tests.fakes import prestashop_db as shop_data
from tests.fakes.prestashop_db import load_standard_shop

TEXTS = {"1": {"available_now": "Dostępny", "available_later": "Wysyłka w {delivery_days} dni",
               "unavailable": "Niedostępny"},
         "2": {"available_now": "In stock", "available_later": "Ships in {delivery_days} days",
               "unavailable": "Unavailable"},
         "3": {"available_now": "Auf Lager", "available_later": "Lieferung in {delivery_days} Tagen",
               "unavailable": "Nicht verfügbar"}}
INDEPENDENT = {"id_shop": shop_data.INDEPENDENT_SHOP, "id_shop_group": 0}
SHARED = {"id_shop": 0, "id_shop_group": shop_data.SHARED_GROUP}
SUPPLIED = (1, 2, 9)  # the products the supplier lists; 3-8 and 10 it never did


@pytest.fixture
def shop_db(prestashop_db_factory):
    database = prestashop_db_factory("kt_")
    load_standard_shop(database)
    return database


@pytest.fixture
def feed(app):
    feed = Integration(kind="supplier_feed", name="Hurtownia", sync_direction="off",
                       settings={"missing_products": "keep"})
    db.session.add(feed)
    db.session.commit()
    return feed


@pytest.fixture
def shop(app, shop_db):
    # Used through its database only: no webservice key at all.
    integration = make_integration("prestashop", credentials={"db_dsn": shop_db.dsn},
                                   settings={"shop_url": "http://shop.test", "language_id": 1})
    integration.settings = {**integration.settings,
                            "database": {"prefix": "kt_", "shop_ids": list(shop_data.ALL_SHOPS),
                                         "language_ids": list(shop_data.LANGUAGES), "only_changed": True},
                            "availability": {"enabled": True, "threshold": 20, "texts": TEXTS}}
    db.session.commit()
    autolink(integration.id, shop_items(integration.id), create_missing=True)
    return integration


def links(integration, products=None) -> list[ProductLink]:
    found = db.session.scalars(select(ProductLink).where(ProductLink.integration_id == integration.id)
                               .order_by(ProductLink.id)).all()
    return [link for link in found if products is None or int(link.external_product_id) in products]


def supply(integration, feed, stock: dict[int, int], *, missed: dict[int, int] | None = None, days: int = 4) -> None:
    """Give the supplied products' links what a feed import of `feed` would."""
    for link in links(integration, set(stock)):
        link.supplier_availability = {"contractor_id": feed.id, "stock_quantity": stock[int(link.external_product_id)],
                                      "delivery_days": days, "purchase_price": None}
        if missed and int(link.external_product_id) in missed:
            link.supplier_availability["missed_imports"] = missed[int(link.external_product_id)]
    db.session.commit()


def unsupplied_rows(shop_db) -> dict:
    where = "id_product NOT IN (1, 2, 9)"
    return {table: shop_db.rows(table, where) for table in ("stock_available", "product_lang")}


def test_products_the_supplier_never_listed_are_left_as_the_shop_has_them(shop, shop_db, feed):
    supply(shop, feed, {1: 50, 2: 5, 9: 30})
    before = unsupplied_rows(shop_db)

    result = sync_availability(shop.id)

    assert unsupplied_rows(shop_db) == before
    assert result.without_supplier_data == len(links(shop)) - len(links(shop, SUPPLIED))
    assert result.sent == len(links(shop, SUPPLIED))
    assert shop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0, **SHARED) == 1
    assert shop_db.cell("stock_available", "out_of_stock", id_product=2, id_product_attribute=3, **SHARED) == 0
    assert shop_db.cell("product_lang", "available_later", id_product=9, id_shop=3, id_lang=3) == \
        "Lieferung in 4 Tagen"
    assert shop_db.cell("product_lang", "available_later", id_product=2, id_shop=2, id_lang=2) == "Unavailable"


def test_a_value_changed_in_the_shop_is_repaired_and_an_unchanged_run_writes_nothing(shop, shop_db, feed):
    supply(shop, feed, {1: 50, 2: 5, 9: 30})
    sync_availability(shop.id)
    assert sync_availability(shop.id).changed == 0
    # Someone edits the shop: product 1 back to "use the default", one text of the outlet in English.
    shop_db.execute("UPDATE {stock_available} SET out_of_stock = 2 WHERE id_product = 1 AND id_product_attribute = 0"
                    " AND id_shop = 0 AND id_shop_group = 2")
    shop_db.execute("UPDATE {product_lang} SET available_later = 'Soon!' WHERE id_product = 9 AND id_shop = 3"
                    " AND id_lang = 2")

    repaired = sync_availability(shop.id)

    assert repaired.changed == 2
    assert shop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0, **SHARED) == 1
    assert shop_db.cell("product_lang", "available_later", id_product=9, id_shop=3, id_lang=2) == "Ships in 4 days"
    again = sync_availability(shop.id)
    assert (again.changed, again.missing) == (0, repaired.missing)


def test_every_missing_shop_row_is_in_the_run_record_and_the_csv(shop, shop_db, feed, client, login):
    # Product 7 is not in shop 1; product 8 lacks its group row; combination 9/5 lacks its shop-1 row.
    for link in links(shop):
        link.supplier_availability = {"contractor_id": feed.id, "stock_quantity": 50, "delivery_days": 2}
    db.session.commit()

    result = sync_availability(shop.id)

    run = db.session.get(IntegrationRun, result.run_id)
    recorded = run.details["missing_rows"]
    assert len(recorded) == result.missing == len(result.missing_rows) == 6
    assert {(row["table"], row["id_product"]) for row in recorded} == {
        ("stock_available", 7), ("stock_available", 8), ("stock_available", 9), ("product_lang", 7)}
    assert run.counts["missing"] == 6 and run.counts["products with missing rows"] == result.products_missing == 3
    login(make_user("viewer"))
    response = client.get(f"/integrations/{shop.id}/availability/runs/{run.id}/missing.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 6
    assert {"table": "stock_available", "id_product": "9", "id_product_attribute": "5", "id_shop": "1",
            "id_shop_group": "0", "id_lang": "",
            "reason": "no stock_available row for product 9 combination 5 in shop 1"} in rows
    assert client.get(f"/integrations/{shop.id}/availability/runs/999999/missing.csv").status_code == 404


def test_the_cli_reports_rows_and_products_in_separate_named_counts(app, shop, feed):
    supply(shop, feed, {1: 50, 2: 5, 9: 30})

    output = app.test_cli_runner().invoke(args=["prestashop", "sync-availability", "--integration",
                                                str(shop.id)]).output

    products = f"linked products: {len(links(shop))}, sent {len(links(shop, SUPPLIED))}, without supplier data"
    assert products in output
    assert "shop rows: " in output and "missing in the shop" in output and "with missing shop rows 1" in output


def test_a_product_missing_from_the_feed_follows_the_feeds_rule(shop, shop_db, feed, client, login):
    supply(shop, feed, {1: 50, 2: 50, 9: 50}, missed={1: 2, 9: 1})
    feed.settings = {"missing_products": "zero", "missing_after": 2}
    db.session.commit()

    result = sync_availability(shop.id)

    assert result.taken_as_zero == len(links(shop, {1}))
    assert shop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0, **INDEPENDENT) == 0
    assert shop_db.cell("stock_available", "out_of_stock", id_product=9, id_product_attribute=4, **SHARED) == 1
    login(make_user("viewer"))
    page = html.unescape(client.get(f"/products/{links(shop, {1})[0].product_id}").get_data(as_text=True))
    assert "Hurtownia: Missing from the last 2 imports: taken as stock 0" in page

    feed.settings = {"missing_products": "keep"}
    db.session.commit()
    kept = sync_availability(shop.id)
    assert kept.taken_as_zero == 0
    assert shop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0, **INDEPENDENT) == 1
    page = html.unescape(client.get(f"/products/{links(shop, {1})[0].product_id}").get_data(as_text=True))
    assert "Missing from the last 2 imports: last known stock kept" in page


def test_texts_may_differ_per_shop(shop, shop_db, feed):
    shop.settings = {**shop.settings, "availability": {
        **shop.settings["availability"],
        "shop_texts": {"2": {"2": {"available_now": "Outlet stock", "available_later": "Outlet: {delivery_days} days",
                                   "unavailable": "Sold out in the outlet"}}}}}
    db.session.commit()
    supply(shop, feed, {1: 50, 2: 5, 9: 30})

    sync_availability(shop.id)

    assert shop_db.cell("product_lang", "available_later", id_product=1, id_shop=2, id_lang=2) == "Outlet: 4 days"
    assert shop_db.cell("product_lang", "available_later", id_product=2, id_shop=2, id_lang=2) == \
        "Sold out in the outlet"
    assert shop_db.cell("product_lang", "available_later", id_product=1, id_shop=3, id_lang=2) == "Ships in 4 days"
    assert shop_db.cell("product_lang", "available_later", id_product=1, id_shop=2, id_lang=1) == "Wysyłka w 4 dni"
    assert sync_availability(shop.id).changed == 0
