"""Feed imports into product links, on SQLite and PostgreSQL: matching, invalid rows, chunks, re-runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.catalog.models import Product, ProductLink
from app.catalog.services import create_product, link_product
from app.extensions import db
from app.jobs import tasks
from app.suppliers import imports, services
from app.suppliers.models import FeedImport, FeedProblem
from tests.factories import make_integration

FEED = (
    "kod;ean;stan;dni;cena\n"
    "KUB-350;;25;2;12,50\n"
    "TSH-M;;3;5;20\n"
    ";5900000000017;40;;\n"                  # matched by EAN
    "XX-1;;dużo;1;1\n"                       # invalid stock
    ";;7;1;1\n"                              # no key
    "\"LAMP\nLED\";;1;1;1\n"                 # quoted newline in a field (unmatched)
    "NOT-IN-KONTOR;;9;1;1\n"
)


def write_feed(folder, text: str = FEED, encoding: str = "cp1250") -> str:
    path = folder / "feed.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture
def catalogue(app):
    shop = make_integration("prestashop")
    products = {sku: create_product(sku, ean, sku) for sku, ean in
                (("KUB-350", ""), ("TSH-M", ""), ("NOTES", "5900000000017"), ("UNLINKED", ""))}
    for n, sku in enumerate(("KUB-350", "TSH-M", "NOTES"), start=1):
        link_product(products[sku].id, shop.id, str(n))
    link_product(products["KUB-350"].id, shop.id, "1", "7")  # a combination of the same product
    return shop, products


@pytest.fixture
def feed(app, feeds_folder):
    feed = services.save_feed(None, name="Hurtownia Ąę", source_type="path", location=write_feed(feeds_folder),
                              format="csv")
    services.preview(feed.id)
    services.save_mapping(feed.id, {"sku": "kod", "ean": "ean", "stock_quantity": "stan", "delivery_days": "dni",
                                    "purchase_price": "cena"})
    return feed


def run(feed_id: int, chunk_size: int | None = None, limit: int | None = None, monkeypatch=None) -> FeedImport:
    feed_import = imports.start_import(feed_id)
    return imports.run_import(feed_import.id, lambda import_id, _n, rows: imports.import_chunk(import_id, rows),
                               limit=limit)


def availability(sku: str) -> list:
    product = db.session.scalar(select(Product).where(Product.sku == sku))
    return [link.supplier_availability for link in product.links]


def test_import_matches_by_sku_then_ean_and_reports_invalid_rows(catalogue, feed):
    result = run(feed.id)
    assert (result.state, result.rows_read, result.matched, result.unmatched, result.invalid) == ("done", 7, 3, 2, 2)
    assert result.links_updated == 4
    assert availability("KUB-350") == [
        {"contractor_id": feed.id, "stock_quantity": 25, "delivery_days": 2, "purchase_price": "12.50"}] * 2
    assert availability("NOTES")[0]["stock_quantity"] == 40
    assert availability("UNLINKED") == []
    problems = {p.line: p.reason for p in db.session.scalars(select(FeedProblem))}
    assert set(problems) == {5, 6}
    assert "dużo" in problems[5]


def test_the_invalid_rows_report_downloads_with_lines_and_reasons(client, login, catalogue, feed):
    from tests.factories import make_user

    login(make_user("operator"))
    result = run(feed.id)
    response = client.get(f"/feeds/imports/{result.id}/problems.csv")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert body.splitlines()[0] == "line,reason,row" and "\n5," in body and "dużo" in body


def test_running_an_import_again_ends_in_the_same_state(catalogue, feed):
    run(feed.id)
    first = {l.id: l.supplier_availability for l in db.session.scalars(select(ProductLink))}
    again = run(feed.id)
    assert again.state == "done" and again.matched == 3
    assert {l.id: l.supplier_availability for l in db.session.scalars(select(ProductLink))} == first


def test_an_import_that_died_halfway_can_be_run_again(catalogue, feed, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", 2)
    chunks: list = []
    dead = imports.start_import(feed.id)
    imports.run_import(dead.id, lambda import_id, n, rows: chunks.append(rows))
    imports.import_chunk(dead.id, chunks[0])  # the worker died after the first chunk
    db.session.expire_all()
    assert db.session.get(FeedImport, dead.id).state == "importing"
    result = run(feed.id)
    assert result.state == "done" and result.chunks_total == 3 and result.matched == 3
    assert availability("TSH-M")[0]["stock_quantity"] == 3


def test_limit_reads_only_the_first_rows(catalogue, feed):
    result = run(feed.id, limit=2)
    assert result.rows_read == 2 and result.matched == 2


def test_a_missing_file_fails_the_import_in_words(catalogue, app, feeds_folder):
    feed = services.save_feed(None, name="Gone", source_type="path", location="gone.csv", format="csv")
    feed.settings = {**feed.settings, "mapping": {"sku": "kod", "stock_quantity": "stan"}}
    db.session.commit()
    result = run(feed.id)
    assert result.state == "failed" and f"There is no file {feeds_folder / 'gone.csv'}" in result.error


def test_import_needs_a_mapping_first(app, feeds_folder):
    from app.core.errors import ValidationFailed

    feed = services.save_feed(None, name="New", source_type="path", location=write_feed(feeds_folder), format="csv")
    with pytest.raises(ValidationFailed, match="Map the feed's columns"):
        imports.start_import(feed.id)
    with pytest.raises(ValidationFailed, match="stock quantity"):
        services.save_mapping(feed.id, {"sku": "kod"})


def test_the_job_flow_reads_then_applies_chunks_on_the_import_queue(catalogue, feed, monkeypatch):
    from app.extensions import redis_connection

    monkeypatch.setattr(imports, "CHUNK_SIZE", 3)
    feed_import = imports.start_import(feed.id)
    outcome = tasks.run_feed_import(feed_import.id)
    assert outcome["chunks"] == 2
    queue = redis_connection.queue("import")
    assert queue.count == 2
    for job in queue.jobs:
        job.perform()
    db.session.expire_all()
    assert db.session.get(FeedImport, feed_import.id).state == "done"


def test_cli_imports_a_feed_and_prints_counts(app, catalogue, feed):
    result = app.test_cli_runner().invoke(args=["feeds", "import", "--feed", str(feed.id)])
    assert result.exit_code == 0, result.output
    assert "7 rows read, 3 matched, 2 unmatched, 2 invalid" in result.output
