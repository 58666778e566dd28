"""Feed imports into product links, on SQLite and PostgreSQL: matching, invalid rows, chunks, re-runs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.catalog.models import Product, ProductLink
from app.catalog.services import create_product, link_product
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.integrations.models import IntegrationRun
from app.jobs import tasks
from app.suppliers import imports, services
from app.suppliers.models import FeedImport, FeedProblem
from tests.conftest import app_on
from tests.factories import make_integration, make_user

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


def test_each_finished_import_without_a_product_counts_on_its_links_until_it_is_listed_again(
        catalogue, feed, feeds_folder):
    run(feed.id)
    write_feed(feeds_folder, FEED.replace("TSH-M;;3;5;20\n", ""))
    run(feed.id)
    run(feed.id)
    assert availability("TSH-M")[0] == {"contractor_id": feed.id, "stock_quantity": 3, "delivery_days": 5,
                                        "purchase_price": "20", "missed_imports": 2}
    assert "missed_imports" not in availability("KUB-350")[0]
    write_feed(feeds_folder)
    run(feed.id)
    assert "missed_imports" not in availability("TSH-M")[0]


def test_the_feed_says_what_happens_to_products_it_stops_listing(client, login, feed):
    from tests.factories import make_user

    assert services.missing_policy(feed).describe() == "last known stock kept"
    csrf = login(make_user("admin"))
    response = client.post(f"/feeds/{feed.id}/edit", data={
        "csrf_token": csrf, "name": feed.name, "source_type": "path", "location": feed.settings["location"],
        "format": "csv", "max_mb": "200", "missing_products": "zero", "missing_after": "2"})
    assert response.status_code == 302
    db.session.expire_all()
    assert services.missing_policy(feed).describe() == "stock 0 after 2 imports without it"
    assert "Products it stops listing: stock 0 after 2 imports without it" in client.get(
        f"/feeds/{feed.id}").get_data(as_text=True)
    refused = client.post(f"/feeds/{feed.id}/edit", data={
        "csrf_token": csrf, "name": feed.name, "source_type": "path", "location": feed.settings["location"],
        "format": "csv", "max_mb": "200", "missing_products": "zero", "missing_after": "1000"})
    assert refused.status_code == 422


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


def _queued_jobs(name: str) -> list:
    return [(job.id, job.func_name, job.args, job.timeout) for job in redis_connection.queue(name).jobs]


def test_an_import_started_on_the_page_the_cli_or_the_hour_is_queued_the_same_way(app, client, login, feed):
    csrf = login(make_user("operator"))
    assert client.post(f"/feeds/{feed.id}/imports", data={"csrf_token": csrf}).status_code == 302
    result = app.test_cli_runner().invoke(args=["feeds", "import", "--feed", str(feed.id), "--limit", "5",
                                                "--enqueue"])
    assert result.exit_code == 0, result.output
    tasks.import_all_feeds()
    first, second, third = (i.id for i in db.session.scalars(select(FeedImport).order_by(FeedImport.id)))
    assert _queued_jobs("import") == [
        (f"feed-import-{first}", "app.jobs.tasks.run_feed_import", (first, None), 3600),
        (f"feed-import-{second}", "app.jobs.tasks.run_feed_import", (second, 5), 3600),
        (f"feed-import-{third}", "app.jobs.tasks.run_feed_import", (third, None), 3600),
    ]


def test_an_import_that_cannot_be_recorded_queues_nothing(app, client, login, feeds_folder):
    unmapped = services.save_feed(None, name="Unmapped", source_type="path", location=write_feed(feeds_folder),
                                  format="csv")
    csrf = login(make_user("operator"))
    assert client.post(f"/feeds/{unmapped.id}/imports", data={"csrf_token": csrf}).status_code == 302
    assert _queued_jobs("import") == [] and db.session.scalars(select(FeedImport)).all() == []


# --- nothing stays "importing" ----------------------------------------------------------------

NUL_FEED = (
    "kod;stan;nazwa\n"
    "KUB-350;25;Kubek\n"
    "TSH\x00M;3;Koszulka\n"          # line 3: a NUL byte in the SKU
    "XX-1;1\x002;Na\x00zwa\n"          # line 4: NUL in the stock and in an unmapped column
    "NOTES;40;Zeszyt\n"
)

ROOT = Path(__file__).resolve().parents[2]


def mapped_feed(folder: Path, text: str, name: str = "feed.csv"):
    (folder / name).write_text(text, encoding="utf-8")
    feed = services.save_feed(None, name="Hurtownia NUL", source_type="path", location=name, format="csv")
    services.preview(feed.id)
    services.save_mapping(feed.id, {"sku": "kod", "stock_quantity": "stan"})
    return feed


def run_worker(app, *queues: str, feeds_folder: Path | None = None) -> subprocess.CompletedProcess:
    """Run worker.py in burst mode against the test database, Redis and feeds folder."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "SECRET_KEY": "test", "KONTOR_INSTANCE_PATH": str(Path(app.instance_path)),
           "KONTOR_FEEDS_DIR": str(feeds_folder or app.config.get("FEEDS_DIR") or "")}
    result = subprocess.run([sys.executable, "worker.py", *queues, "--burst"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def progress_fragment(client, import_id: int) -> str:
    response = client.get(f"/feeds/imports/{import_id}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_row_with_a_nul_byte_is_reported_on_its_line_and_the_rest_imports(client, login, catalogue, feeds_folder):
    feed = mapped_feed(feeds_folder, NUL_FEED)
    result = run(feed.id)
    assert (result.state, result.rows_read, result.matched, result.invalid) == ("done", 4, 2, 2)
    assert availability("KUB-350")[0]["stock_quantity"] == 25 and availability("NOTES")[0]["stock_quantity"] == 40
    problems = {p.line: p for p in db.session.scalars(select(FeedProblem))}
    assert set(problems) == {3, 4}
    assert "NUL byte" in problems[3].reason and "not a number" in problems[4].reason
    assert "\x00" not in problems[4].reason and "\x00" not in problems[4].raw["nazwa"]
    login(make_user("operator"))
    report = client.get(f"/feeds/imports/{result.id}/problems.csv").get_data(as_text=True)
    assert "\n3," in report and "\n4," in report
    assert "Done" in progress_fragment(client, result.id)


def test_the_nul_feed_imports_through_a_worker_process(app, client, login, catalogue, feeds_folder):
    feed = mapped_feed(feeds_folder, NUL_FEED)
    feed_import = imports.queue_import(feed.id)  # the worker finds it queued after the commit
    run_worker(app, "import", feeds_folder=feeds_folder)
    db.session.expire_all()
    done = db.session.get(FeedImport, feed_import.id)
    assert (done.state, done.matched, done.invalid) == ("done", 2, 2)
    login(make_user("viewer"))
    assert "Done" in progress_fragment(client, done.id)


def test_a_chunk_from_before_the_checks_still_imports_around_an_unstorable_row(catalogue, feed):
    feed_import = imports.start_import(feed.id)
    db.session.execute(update(FeedImport).where(FeedImport.id == feed_import.id)
                       .values(state="importing", chunks_total=1))
    db.session.commit()
    payload = f'{{"contractor_id":{feed.id},"stock_quantity":9,"delivery_days":null,"purchase_price":null}}'
    counts = imports.import_chunk(feed_import.id, [(2, "KUB-350", "", payload), (3, "TSH\x00M", "", payload),
                                                   (4, "S" * 80, "", payload)])
    assert counts["refused"] == 2
    db.session.expire_all()
    done = db.session.get(FeedImport, feed_import.id)
    assert (done.state, done.matched, done.invalid) == ("done", 1, 2)
    assert availability("KUB-350")[0]["stock_quantity"] == 9
    assert {p.line for p in db.session.scalars(select(FeedProblem))} == {3, 4}


@pytest.fixture
def postgres_app(postgres_url, redis_server):
    """An app on PostgreSQL only: its database refuses what SQLite would store."""
    yield from app_on(postgres_url, redis_server)


def test_rows_the_database_refuses_are_found_and_the_rest_of_the_chunk_imports(postgres_app):
    shop = make_integration("prestashop")
    for n, sku in enumerate(("A", "B", "C", "D", "E"), start=1):
        link_product(create_product(sku, "", sku).id, shop.id, str(n))
    feed = make_integration("prestashop")  # any integration serves as the import's owner here
    feed_import = FeedImport(feed_id=feed.id, state="importing", chunks_total=1)
    db.session.add(feed_import)
    db.session.commit()
    good = '{"contractor_id":1,"stock_quantity":5,"delivery_days":null,"purchase_price":null}'
    rows = [(2, "A", "", good), (3, "B", "", good), (4, "C", "", "{not json"), (5, "D", "", good),
            (6, "E", "", good)]
    counts = imports.import_chunk(feed_import.id, rows)
    assert counts == {"rows": 5, "matched": 4, "links_updated": 4, "refused": 1}
    db.session.expire_all()
    assert db.session.get(FeedImport, feed_import.id).state == "done"
    problem = db.session.scalars(select(FeedProblem)).one()
    assert problem.line == 4 and "the database refused the row" in problem.reason
    assert [availability(sku)[0]["stock_quantity"] for sku in "ABDE"] == [5, 5, 5, 5]
    assert availability("C")[0] is None


def test_a_chunk_job_that_dies_marks_the_import_failed_with_the_reason_on_the_page(app, client, login, feed):
    feed_import = imports.start_import(feed.id)
    db.session.execute(update(FeedImport).where(FeedImport.id == feed_import.id)
                       .values(state="importing", chunks_total=1))
    db.session.commit()
    # A chunk the code cannot even unpack: whatever the reason, the import must not stay "importing".
    tasks.start_feed_chunk(feed_import.id, 0, [["only two", "fields"]])
    run_worker(app, "import")
    db.session.expire_all()
    failed = db.session.get(FeedImport, feed_import.id)
    assert failed.state == "failed" and "A chunk of 1 rows stopped: ValueError" in failed.error
    login(make_user("viewer"))
    page = progress_fragment(client, failed.id)
    assert "Failed" in page and "A chunk of 1 rows stopped" in page and "every 1s" not in page  # stops polling
    run_log = db.session.scalars(select(IntegrationRun).where(IntegrationRun.integration_id == feed.id)).one()
    assert not run_log.ok and "ValueError" in run_log.message


def test_a_reader_that_cannot_hand_over_its_chunks_fails_the_import_in_words(catalogue, feed):
    feed_import = imports.start_import(feed.id)

    def redis_is_down(import_id, number, rows):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with pytest.raises(ConnectionError):
        imports.run_import(feed_import.id, redis_is_down)
    db.session.expire_all()
    failed = db.session.get(FeedImport, feed_import.id)
    assert failed.state == "failed" and failed.error.startswith("The import stopped: ConnectionError")


def _aged(feed_id: int, state: str, minutes: int, chunks_total: int = 0) -> FeedImport:
    then = utcnow() - timedelta(minutes=minutes)
    feed_import = FeedImport(feed_id=feed_id, state=state, started_at=then, progress_at=then,
                             chunks_total=chunks_total)
    db.session.add(feed_import)
    db.session.commit()
    return feed_import


def test_imports_without_progress_for_15_minutes_are_marked_failed(client, login, feed):
    lost_chunks = _aged(feed.id, "importing", 16, chunks_total=2)
    lost_job = _aged(feed.id, "queued", 20)
    waiting = _aged(feed.id, "importing", 30, chunks_total=1)
    tasks.start_feed_chunk(waiting.id, 0, [])  # still in the queue, behind other work
    reading = _aged(feed.id, "reading", 2)
    outcome = tasks.run_recurring("fail_stalled_imports")
    assert outcome["outcome"] == "ok" and outcome["result"] == {"failed": 2, "waiting": 1}
    db.session.expire_all()
    states = {i.id: i.state for i in db.session.scalars(select(FeedImport))}
    assert states == {lost_chunks.id: "failed", lost_job.id: "failed", waiting.id: "importing",
                      reading.id: "reading"}
    login(make_user("viewer"))
    page = progress_fragment(client, lost_chunks.id)
    assert "Failed" in page and "made no progress for 15 minutes" in page


def test_an_import_closed_as_stalled_is_not_revived_by_its_late_job(catalogue, feed):
    stalled = _aged(feed.id, "queued", 20)
    assert imports.fail_stalled(stalled.id)
    result = imports.run_import(stalled.id, lambda import_id, _n, rows: imports.import_chunk(import_id, rows))
    assert result.state == "failed" and result.rows_read == 0


def test_the_stalled_import_check_is_in_the_schedule():
    from app.jobs.schedule import find

    job = find("fail_stalled_imports")
    assert job.func == "app.jobs.tasks.fail_stalled_feed_imports" and job.interval <= 900
