"""Availability sync into a real PrestaShop schema on MariaDB, driven from Kontor's links."""

from __future__ import annotations

import html
import time

import pytest
from sqlalchemy import select

from app.catalog.models import ProductLink
from app.catalog.services import autolink
from app.extensions import db
from app.integrations.models import IntegrationRun
from app.stock import plan as plan_module
from app.stock.links import shop_items
from app.stock.services import sync_availability
from tests.factories import make_integration
from tests.fakes import prestashop_db as shop_data

TEXTS = {"1": {"available_now": "Dostępny", "available_later": "Wysyłka w {delivery_days} dni",
               "unavailable": "Niedostępny"},
         "2": {"available_now": "In stock", "available_later": "Ships in {delivery_days} days",
               "unavailable": "Unavailable"},
         "3": {"available_now": "Auf Lager", "available_later": "Lieferung in {delivery_days} Tagen",
               "unavailable": "Nicht verfügbar"}}


@pytest.fixture
def shop(app, prestashop_db):
    integration = make_integration("prestashop", credentials={"api_key": "K", "db_dsn": prestashop_db.dsn},
                                   settings={"shop_url": "http://shop.test", "language_id": 1})
    integration.settings = {**integration.settings,
                            "database": {"prefix": "ps_", "shop_ids": list(shop_data.ALL_SHOPS),
                                         "language_ids": list(shop_data.LANGUAGES), "only_changed": True},
                            "availability": {"enabled": True, "threshold": 20, "texts": TEXTS}}
    db.session.commit()
    counts = autolink(integration.id, shop_items(integration.id), create_missing=True)
    assert counts["created"] > 0
    return integration


def supply(integration, stock_by_product: dict[int, int], days: int = 4) -> None:
    """Set every link's supplier stock as a feed import would."""
    for link in db.session.scalars(select(ProductLink).where(ProductLink.integration_id == integration.id)):
        stock = stock_by_product.get(int(link.external_product_id), 0)
        link.supplier_availability = {"contractor_id": 99, "stock_quantity": stock, "delivery_days": days,
                                      "purchase_price": None}
    db.session.commit()


def test_sync_writes_stock_and_texts_and_reports_missing_rows(shop, prestashop_db):
    supply(shop, {1: 50, 2: 5})
    result = sync_availability(shop.id)
    assert result.changed > 0 and result.missing > 0
    # Product 1 allowed in the independent shop and the shared group; product 2 denied.
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0,
                              id_shop=shop_data.INDEPENDENT_SHOP, id_shop_group=0) == 1
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0,
                              id_shop=0, id_shop_group=shop_data.SHARED_GROUP) == 1
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=2, id_product_attribute=1,
                              id_shop=0, id_shop_group=shop_data.SHARED_GROUP) == 0
    assert prestashop_db.cell("product_lang", "available_later", id_product=1, id_shop=2, id_lang=1) == \
        "Wysyłka w 4 dni"
    assert prestashop_db.cell("product_lang", "available_later", id_product=2, id_shop=1, id_lang=3) == \
        "Nicht verfügbar"
    assert any("8" in row for row in result.missing_rows)
    run = db.session.scalars(select(IntegrationRun).where(IntegrationRun.kind == "availability_sync")).one()
    assert run.counts["changed"] == result.changed


def test_a_second_run_writes_nothing_and_a_new_feed_value_is_written(shop, prestashop_db):
    supply(shop, {1: 50})
    first = sync_availability(shop.id)
    again = sync_availability(shop.id)
    assert again.changed == 0 and again.unchanged == first.changed + first.unchanged
    supply(shop, {1: 5})
    third = sync_availability(shop.id)
    assert third.changed > 0
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=1, id_product_attribute=0,
                              id_shop=shop_data.INDEPENDENT_SHOP, id_shop_group=0) == 0


def test_dry_run_shows_the_diff_and_writes_nothing(shop, prestashop_db):
    supply(shop, {1: 50, 2: 50})
    before = prestashop_db.snapshot("stock_available", "product_lang")
    result = sync_availability(shop.id, dry_run=True)
    assert result.dry_run and result.changed > 0 and result.changed_rows
    assert prestashop_db.snapshot("stock_available", "product_lang") == before
    assert sync_availability(shop.id).changed == result.changed  # nothing was remembered by the dry run


def test_cli_dry_run_prints_the_diff(app, shop):
    supply(shop, {1: 50})
    result = app.test_cli_runner().invoke(args=["prestashop", "sync-availability", "--integration", str(shop.id),
                                                "--dry-run", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "would change" in result.output and "~ stock_available" in result.output


def test_a_product_may_be_ordered_when_one_of_its_combinations_may(shop, prestashop_db):
    # Only size M (combination 2) of product 2 has stock at the supplier; the product itself has none.
    for link in db.session.scalars(select(ProductLink).where(ProductLink.integration_id == shop.id)):
        allowed = (link.external_product_id, link.external_combination_id) == ("2", "2")
        link.supplier_availability = {"contractor_id": 99, "stock_quantity": 30 if allowed else 0,
                                      "delivery_days": 4, "purchase_price": None}
    db.session.commit()
    sync_availability(shop.id)
    shop_row = {"id_shop": shop_data.INDEPENDENT_SHOP, "id_shop_group": 0}
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=2, id_product_attribute=2, **shop_row) == 1
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=2, id_product_attribute=0, **shop_row) == 1
    assert prestashop_db.cell("stock_available", "out_of_stock", id_product=2, id_product_attribute=1, **shop_row) == 0
    assert prestashop_db.cell("product_lang", "available_later", id_product=2, id_shop=1, id_lang=1) == \
        "Wysyłka w 4 dni"


def test_two_links_naming_one_shop_row_are_refused_before_anything_is_written(shop, prestashop_db, monkeypatch):
    supply(shop, {1: 50, 10: 50})
    product_10 = db.session.scalars(select(ProductLink).where(ProductLink.integration_id == shop.id,
                                                              ProductLink.external_product_id == "10")).one()
    # "010" names product 10 as well; read first by the links' key ("010" < "1" < "10").
    db.session.add(ProductLink(integration_id=shop.id, product_id=product_10.product_id, external_product_id="010",
                               external_combination_id="0", supplier_availability=product_10.supplier_availability))
    db.session.commit()
    monkeypatch.setattr(plan_module, "PLAN_BATCH_SIZE", 1)  # a batch per product: "010" and "1" before "10"
    real_batches = plan_module._batches

    def slow_batches(*args, **kwargs):
        for batch in real_batches(*args, **kwargs):
            yield batch
            time.sleep(0.3)  # time for the writer to write the batch handed over

    monkeypatch.setattr(plan_module, "_batches", slow_batches)
    before = prestashop_db.snapshot("stock_available", "product_lang")

    with pytest.raises(ValueError, match="Product 10 combination 0 is listed twice"):
        sync_availability(shop.id)

    assert prestashop_db.snapshot("stock_available", "product_lang") == before
    run = db.session.scalars(select(IntegrationRun).where(IntegrationRun.kind == "availability_sync")).one()
    assert not run.ok and "listed twice" in run.message


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_failed_sync_leaves_a_run_with_its_error_in_words(app, client, login, dry_run):
    from app.stock.services import sync_availability as sync

    from tests.factories import make_user

    dsn = f"mysql+pymysql://kontor:s3cret@127.0.0.1:{_closed_port()}/shop"
    integration = make_integration("prestashop", credentials={"api_key": "K", "db_dsn": dsn})
    with pytest.raises(Exception):
        sync(integration.id, dry_run=dry_run)
    run = db.session.scalars(select(IntegrationRun).where(IntegrationRun.integration_id == integration.id)).one()
    assert run.kind == ("availability_dry_run" if dry_run else "availability_sync")
    assert not run.ok and run.finished_at is not None
    assert "Can't connect to MySQL server" in run.message and "s3cret" not in run.message
    login(make_user("viewer"))
    page = html.unescape(client.get(f"/integrations/{integration.id}").get_data(as_text=True))
    assert "failed" in page and run.message in page and "s3cret" not in page


def test_a_failed_sync_from_the_page_is_in_the_run_log_too(app, client, login):
    from tests.factories import make_user

    integration = make_integration("prestashop", credentials={
        "api_key": "K", "db_dsn": f"mysql+pymysql://kontor:s3cret@127.0.0.1:{_closed_port()}/shop"})
    csrf = login(make_user("operator"))
    response = client.post(f"/integrations/{integration.id}/availability/run", data={"dry_run": "1"},
                           headers={"HX-Request": "true", "X-CSRFToken": csrf})
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "s3cret" not in body
    run = db.session.scalars(select(IntegrationRun).where(IntegrationRun.integration_id == integration.id)).one()
    assert run.kind == "availability_dry_run" and not run.ok and run.message in body
