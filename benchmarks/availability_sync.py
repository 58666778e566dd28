"""Supplier feed import and PrestaShop availability sync at catalogue scale, against the real schema.

Set-up: a throwaway MariaDB database with PrestaShop's real schema (tests/fakes/prestashop_db.py) holding
`--products` plain products in one shop and 2 languages; a throwaway Kontor database (PostgreSQL
`kontor_bench_avail`, or an SQLite file with `--kontor-db sqlite`) migrated to head; a PrestaShop
integration on the shop's database (shop 1, languages 1 and 2, texts for both, threshold 20), whose
products are autolinked with create_missing (one Kontor product and link per shop product); and a
cp1250, semicolon-separated supplier feed with one row per product (SKU = the shop's reference; a few
rows keyed by EAN only; stock spread so about half is >= 20; delivery days; prices with decimal
commas; a few invalid rows), read from a temporary file.

Then it times, end to end:

  1. the feed import in-process (start_import + run_import with every chunk applied inline);
  2. the same import through 2 real RQ workers (`python worker.py import` x 2; run_feed_import is
     enqueued and the clock stops when the FeedImport row is done; worker start-up is not timed);
  3. the bare write, as a reference: the final values of every row (what Kontor's plan decides,
     computed untimed) loaded into a temporary table and applied with one UPDATE ... JOIN per shop
     table, no planning, no diffing, no bookkeeping; then the shop is put back as it was;
  4. a full-change availability sync on the same shop data (every product's texts and about half its
     out_of_stock change), printed as a share of the bare write's rate;
  5. a no-change re-run (each row compared with the shop's own value, nothing written), and, for
     information, the same re-run with only_changed off (every found row written again);
  6. 1% drift: values changed in the shop behind Kontor's back (out_of_stock and a text of 1% of the
     products), repaired by the next sync;
  7. ~1% of the feed's stock changed across the threshold: the import again (in-process and via the
     workers), then the availability sync.

Each figure is checked against what the feed holds (rows read, invalid, matched; how many products the
shop then allows orders for) and followed by where its time went: for in-process phases, the seconds
spent in the app's import_chunk / write_availability_batches, and of that the planning in plan_batches (wrapped in place); for the
worker imports, when the reading job and each chunk job ran. A table with the targets closes the run;
the exit status is 1 when a target is missed. `--profile` adds a cProfile of each in-process phase.
Other processes on the machine skew the figures: the load average is printed at the start and end.

    .venv/bin/python benchmarks/availability_sync.py
    .venv/bin/python benchmarks/availability_sync.py --products 20000 --kontor-db sqlite --skip-workers

Needs MariaDB on 127.0.0.1:3306 (root, no password), PostgreSQL on 127.0.0.1:5432 (postgres, trust)
unless --kontor-db sqlite, and Redis on 127.0.0.1:6379 (database 3, or $KONTOR_BENCH_REDIS_URL, is used and flushed). The
databases, the feed file, the Redis database and the worker processes are removed at the end, also
when the run fails or is interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import os
import pstats
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script, sys.path[0] is benchmarks/; the app (and tests/fakes) live one level up.
sys.path.insert(0, str(ROOT))

from benchmarks.support import WorkerPool, emptied_redis, ensure_benchmark_tools, throwaway_postgresql  # noqa: E402

PG_SERVER = "postgres@127.0.0.1:5432"
PG_DATABASE = "kontor_bench_avail"
REDIS_URL = os.environ.get("KONTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")  # not 8-14: browser tests claim those
SECRET_KEY = "kontor-benchmark-secret-key"
# The script stores the integration's credentials with this key; the workers must decrypt them with it.
ENCRYPTION_KEY = "kontor-benchmark-encryption-key"
QUEUE = "import"
WORKERS = 2
# Settings the test suite shortens or switches off; the benchmark runs with the production defaults.
TEST_ONLY_ENV = ("KONTOR_SYNC_LEASE_SECONDS", "KONTOR_SYNC_BACKOFF_INITIAL", "KONTOR_PLATFORM_RETRY_SCALE",
                 "KONTOR_DISABLED_HANDLERS")

THRESHOLD = 20
LANGUAGES = (1, 2)
TEXTS = {"1": {"available_now": "Dostępny", "available_later": "Wysyłka w {delivery_days} dni",
               "unavailable": "Niedostępny"},
         "2": {"available_now": "In stock", "available_later": "Ships in {delivery_days} days",
               "unavailable": "Unavailable"}}

TARGET_IMPORT = 50_000  # rows/s, at least
TARGET_SYNC = 20_000  # products/s, at least
TARGET_RERUN = 2.0  # seconds, under
TARGET_SHARE = 0.80  # Kontor's full-change sync as a share of the bare write's rate, at least
TARGET_DRIFT = 3.0  # seconds to repair a 1% drift, under
DRIFT_EVERY = 100  # every 100th product drifts
# Undo records left to purge (server-wide) below which the shop counts as settled.
SETTLED_HISTORY = 1000


# --- the feed ------------------------------------------------------------------------------------


@dataclass
class FeedFacts:
    """What the feed holds, so the import's counts and the shop's state can be checked."""

    rows: int = 0
    invalid: int = 0
    by_ean: int = 0
    allowed: int = 0  # products whose stock is >= THRESHOLD (invalid rows count as no stock)
    flipped: int = 0  # products whose side of the threshold the changed feed flips


def _stock(n: int) -> int:
    return (n * 37) % 41  # 0..40, about half >= 20, neighbours far apart


def write_feed(path: Path, products: int, changed: bool = False) -> FeedFacts:
    """A cp1250 CSV with ';', one row per product 1..n; `changed` flips ~1% of the stocks across the threshold."""
    facts = FeedFacts()
    invalid_at = {max(1, products * k // 10 + 3) for k in range(10)}  # ten rows, spread out
    lines = ["kod;nazwa;ean;stan;dni;cena"]
    for n in range(1, products + 1):
        stock = _stock(n)
        if changed and n % 100 == 50:
            stock = 3 if stock >= THRESHOLD else 45
            facts.flipped += 1
        sku, ean = f"BULK-{n}", ""
        if n % 1000 == 500:  # matched by EAN: the shop's ean13 is the id padded to 13 digits
            sku, ean = "", f"{n:013d}"
            facts.by_ean += 1
        stock_text = str(stock)
        if n in invalid_at:
            stock_text = "dużo" if n % 2 else "brak"
            facts.invalid += 1
        elif stock >= THRESHOLD:
            facts.allowed += 1
        days = 1 + n % 5
        price = f"{n % 900 + 1},{n % 100:02d}"
        lines.append(f"{sku};Krzesło dębowe „Żółw” nr {n};{ean};{stock_text};{days};{price}")
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1250"))
    facts.rows = products
    return facts


# --- environment: databases, Redis, app ----------------------------------------------------------


def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'kontor.db'}"
    return f"postgresql+psycopg://{PG_SERVER}/{PG_DATABASE}"


def worker_env(url: str) -> dict[str, str]:
    """What both the script's app and the worker processes are configured from."""
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_ENV}
    env.update(DATABASE_URL=url, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET_KEY, KONTOR_ENCRYPTION_KEY=ENCRYPTION_KEY,
               PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def shop_database(products: int) -> Iterator[object]:
    """A MariaDB database with PrestaShop's schema and `products` products in 2 languages; dropped at the end."""
    from tests.fakes import prestashop_db as shop_data

    admin = shop_data.admin_engine()
    shop = None
    try:
        shop = shop_data.create_database(admin)
        started = time.perf_counter()
        shop_data.load_bulk_shop(shop, products, languages=LANGUAGES)
        print(f"set-up: MariaDB shop {shop.name} with {products} products in {len(LANGUAGES)} languages "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        yield shop
    finally:
        if shop is not None:
            shop.drop()
            print(f"cleanup: dropped MariaDB database {shop.name}", flush=True)
        admin.dispose()


@contextlib.contextmanager
def kontor_database(kind: str, url: str) -> Iterator[None]:
    """The throwaway PostgreSQL database (dropped at the end); SQLite lives in the temporary folder."""
    if kind == "sqlite":
        yield
        return
    with throwaway_postgresql(PG_DATABASE, PG_SERVER):
        yield


def redis_database():
    """The benchmark's Redis database, empty at the start and flushed at the end."""
    return emptied_redis(REDIS_URL)


@contextlib.contextmanager
def bench_app(url: str) -> Iterator[object]:
    """The Kontor app on the benchmark database, configured exactly like the workers."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    os.environ.update({k: v for k, v in worker_env(url).items() if k in (
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KONTOR_ENCRYPTION_KEY")})
    for key in TEST_ONLY_ENV:
        os.environ.pop(key, None)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
                      "KONTOR_ENCRYPTION_KEY": ENCRYPTION_KEY})
    logging.getLogger().setLevel(logging.WARNING)  # create_app logs at INFO; keep the figures readable
    with app.app_context():
        try:
            # Alembic's env.py configures logging from alembic.ini (INFO to stderr); keep its lines out.
            with contextlib.redirect_stderr(io.StringIO()):
                upgrade()
            logging.getLogger().setLevel(logging.WARNING)
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


# --- workers -------------------------------------------------------------------------------------


# --- the Kontor side -----------------------------------------------------------------------------


def create_integration(shop) -> object:
    from app.extensions import db
    from tests.factories import make_integration

    integration = make_integration("prestashop", name="Bench shop", credentials={"api_key": "K", "db_dsn": shop.dsn},
                                   settings={"shop_url": "http://shop.test", "language_id": 1})
    integration.settings = {**integration.settings,
                            "database": {"prefix": shop.prefix, "shop_ids": [1], "language_ids": list(LANGUAGES),
                                         "only_changed": True},
                            "availability": {"enabled": True, "threshold": THRESHOLD, "texts": TEXTS}}
    db.session.commit()
    return integration


def set_only_changed(integration_id: int, value: bool) -> None:
    from app.extensions import db
    from app.integrations.models import Integration

    integration = db.session.get(Integration, integration_id)
    integration.settings = {**integration.settings,
                            "database": {**integration.settings["database"], "only_changed": value}}
    db.session.commit()


def create_feed(path: Path) -> int:
    from app.suppliers import services

    feed = services.save_feed(None, name="Hurtownia benchmark", source_type="path", location=str(path), format="csv")
    services.preview(feed.id)
    services.save_mapping(feed.id, {"sku": "kod", "ean": "ean", "stock_quantity": "stan", "delivery_days": "dni",
                                    "purchase_price": "cena"})
    return feed.id


def import_in_process(feed_id: int):
    from app.suppliers import imports

    feed_import = imports.start_import(feed_id)
    return imports.run_import(feed_import.id, lambda import_id, _n, rows: imports.import_chunk(import_id, rows))


def import_via_workers(feed_id: int, pool: WorkerPool, timeout: float = 900):
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from app.extensions import db, redis_connection
    from app.jobs.tasks import start_feed_import
    from app.suppliers import imports
    from app.suppliers.models import FeedImport

    feed_import = imports.start_import(feed_id)
    import_id = feed_import.id
    enqueued = time.time()
    start_feed_import(import_id)
    failed = FailedJobRegistry(queue=Queue(QUEUE, connection=redis_connection.client))
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # see the workers' commits
        row = db.session.get(FeedImport, import_id, populate_existing=True)
        if row.state in ("done", "failed"):
            pool.timeline = job_timeline(import_id, row.chunks_total, enqueued)
            return row
        if time.monotonic() > deadline:
            raise RuntimeError(f"import {import_id} not done after {timeout:.0f} s (state {row.state}, "
                               f"chunks {row.chunks_done}/{row.chunks_total})\n{pool.logs()}")
        if failed.count:
            raise RuntimeError(f"a job of import {import_id} failed (jobs {failed.get_job_ids()}):\n{pool.logs()}")
        pool.check_alive()
        time.sleep(0.02)


def job_timeline(import_id: int, chunks: int, enqueued: float) -> str:
    """When the reading job and each chunk job started and ended, in seconds after the enqueue."""
    from datetime import timezone

    from rq.job import Job

    from app.extensions import redis_connection

    def at(value) -> float:
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp() - enqueued

    parts = []
    ids = [f"feed-import-{import_id}"] + [f"feed-import-{import_id}-chunk-{n}" for n in range(chunks)]
    for job_id in ids:
        try:
            job = Job.fetch(job_id, connection=redis_connection.client)
        except Exception:  # noqa: BLE001 - expired or never ran under this id
            continue
        if job.started_at:
            name = "read" if job_id == ids[0] else "chunk " + job_id.rsplit("-", 1)[1]
            ended = f"{at(job.ended_at):.2f}" if job.ended_at else "(closing)"
            parts.append(f"{name} {at(job.started_at):.2f}-{ended} s (worker …{(job.worker_name or '?')[-4:]})")
    return "; ".join(parts)


def shop_allowed(shop) -> int:
    return shop.count("stock_available", out_of_stock=1)


# --- measuring and reporting ---------------------------------------------------------------------


@dataclass
class Figure:
    phase: str
    count: int
    unit: str
    seconds: float
    target: str = ""
    met: bool | None = None
    note: str = ""
    breakdown: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("nan")


class Stopwatch:
    """Seconds spent in chosen functions of the app (wrapped in place), to show where a phase's time goes."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed in the app: the breakdown just lacks that line
            return

        def timed_call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed_call)

    def wrap_generator(self, owner: object, name: str, label: str) -> None:
        """Like wrap, for a generator function: the seconds spent producing its items."""
        original = getattr(owner, name, None)
        if original is None:
            return

        def timed_generator(*args, **kwargs):
            items = original(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started
                yield item

        setattr(owner, name, timed_generator)

    def take(self, total: float) -> str:
        """The breakdown since the last take, with the rest of `total` as "other"; then start afresh.

        A label starting with "of which" is part of an earlier one and not counted twice.
        """
        parts = [f"{label} {seconds:.2f} s" for label, seconds in self.spent.items()]
        counted = sum(seconds for label, seconds in self.spent.items() if not label.startswith("of which"))
        parts.append(f"other {max(0.0, total - counted):.2f} s")
        self.spent.clear()
        return ", ".join(parts)


STOPWATCH = Stopwatch()


def watch_the_app() -> None:
    from app.integrations.prestashop.database import PrestaShopDatabase
    from app.stock import services as stock_services
    from app.suppliers import imports as supplier_imports

    STOPWATCH.wrap(supplier_imports, "import_chunk", "applying chunks (import_chunk)")
    # The sync plans batch by batch while a thread writes the batches before: planning is part
    # of the write's time, overlapped with the shop's work.
    STOPWATCH.wrap(PrestaShopDatabase, "write_availability_batches",
                   "planning and writing the shop (write_availability_batches)")
    STOPWATCH.wrap_generator(stock_services, "plan_batches", "of which deciding, overlapped (plan_batches)")


def timed(call: Callable[[], object], profile: bool, label: str) -> tuple[object, float, str]:
    """Run `call`; return (result, seconds, where the seconds went). With `profile`, print a cProfile too."""
    profiler = cProfile.Profile() if profile else None
    STOPWATCH.spent.clear()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        result = call()
    finally:
        if profiler:
            profiler.disable()
    seconds = time.perf_counter() - started
    breakdown = STOPWATCH.take(seconds)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(f"--- profile: {label} ---\n{out.getvalue()}", flush=True)
    return result, seconds, breakdown


def import_figure(phase: str, row, seconds: float, facts: FeedFacts) -> Figure:
    expected = (facts.rows, facts.invalid, facts.rows - facts.invalid)
    got = (row.rows_read, row.invalid, row.matched)
    note = (f"{row.chunks_total} chunks; read {row.rows_read}, matched {row.matched}, unmatched {row.unmatched}, "
            f"invalid {row.invalid}, links updated {row.links_updated}")
    if row.state != "done" or got != expected:
        note += f"  [UNEXPECTED: state {row.state}, (read, invalid, matched) {got} != {expected}]"
    return Figure(phase, row.rows_read, "rows", seconds, f">= {TARGET_IMPORT:,} rows/s",
                  row.state == "done" and row.rows_read / seconds >= TARGET_IMPORT, note)


def sync_note(result) -> str:
    return (f"linked {result.considered}, sent {result.sent}, without supplier data {result.without_supplier_data}; "
            f"shop rows changed {result.changed}, unchanged {result.unchanged}, missing {result.missing}")


# --- the reference: the bare write ------------------------------------------------------------------


def final_values(integration_id: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int, str, str]]]:
    """Every shop row's final value as Kontor decides it: (product, combination, out_of_stock) and
    (product, shop, language, available_now, available_later)."""
    from app.integrations.services import get_integration
    from app.stock.availability import AvailabilityRules
    from app.stock.plan import plan_availability

    integration = get_integration(integration_id)
    rules = AvailabilityRules.from_settings(integration.settings["availability"])
    shops = integration.settings["database"]["shop_ids"]
    stock, texts = [], []
    for write in plan_availability(integration, rules).writes:
        stock.append((write.id_product, write.id_product_attribute, write.out_of_stock))
        for language, (now, later) in (write.texts or {}).items():
            texts.extend((write.id_product, shop, language, now, later) for shop in shops)
    # In key order, as the temporary tables' primary keys cluster them (the cheapest load).
    return sorted(stock), sorted(texts)


def bare_write(shop, stock: list[tuple], texts: list[tuple], batch: int = 5000) -> int:
    """Load the final values into temporary tables and apply them with one UPDATE ... JOIN per table.

    The same driver and server as Kontor's write; no planning, no diff, no counts, no samples.
    Returns the rows the UPDATEs matched.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(shop.dsn)
    try:
        with engine.connect() as conn:
            run = lambda sql: conn.exec_driver_sql(sql, execution_options={"no_parameters": True})  # noqa: E731
            escape = conn.connection.dbapi_connection.escape
            run("CREATE TEMPORARY TABLE bare_stock (id_product INT UNSIGNED NOT NULL, id_product_attribute INT"
                " UNSIGNED NOT NULL, out_of_stock TINYINT UNSIGNED NOT NULL, PRIMARY KEY (id_product,"
                " id_product_attribute))")
            run("CREATE TEMPORARY TABLE bare_text (id_product INT UNSIGNED NOT NULL, id_shop INT UNSIGNED NOT NULL,"
                " id_lang INT UNSIGNED NOT NULL, available_now VARCHAR(255), available_later VARCHAR(255),"
                " PRIMARY KEY (id_product, id_shop, id_lang)) DEFAULT CHARSET=utf8mb4")
            for start in range(0, len(stock), batch):
                run("INSERT INTO bare_stock VALUES " + ",".join(f"({p},{a},{o})" for p, a, o in
                                                                stock[start:start + batch]))
            for start in range(0, len(texts), batch):
                run("INSERT INTO bare_text VALUES " + ",".join(
                    f"({p},{s},{l},{escape(now)},{escape(later)})" for p, s, l, now, later in texts[start:start + batch]))
            matched = run(f"UPDATE bare_stock t JOIN {shop.table('stock_available')} x ON x.id_product = t.id_product"
                          " AND x.id_product_attribute = t.id_product_attribute AND x.id_shop = 1"
                          " AND x.id_shop_group = 0 SET x.out_of_stock = t.out_of_stock").rowcount
            matched += run(f"UPDATE bare_text t JOIN {shop.table('product_lang')} x ON x.id_product = t.id_product"
                           " AND x.id_shop = t.id_shop AND x.id_lang = t.id_lang"
                           " SET x.available_now = t.available_now, x.available_later = t.available_later").rowcount
            conn.commit()
            return matched
    finally:
        engine.dispose()


def settle(shop, timeout: float = 60.0) -> None:
    """Wait until InnoDB has purged the undo of the bulk updates before (reset_shop, the previous
    sync), so each timed write starts on the same footing as the bare write did: the purge would
    otherwise compete with it for the CPUs and the buffer pool. Not timed; gives up after `timeout`."""
    deadline = time.monotonic() + timeout
    with shop.engine.connect() as conn:
        while time.monotonic() < deadline:
            length = int(conn.exec_driver_sql("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'").one()[1])
            if length < SETTLED_HISTORY:
                return
            time.sleep(0.2)
    print(f"  note: InnoDB history list still {length:,} long after {timeout:.0f} s", flush=True)


def reset_shop(shop) -> None:
    """Back to the values load_bulk_shop gave every row (out_of_stock 0, empty texts)."""
    shop.execute("UPDATE {stock_available} SET out_of_stock = 0")
    shop.execute("UPDATE {product_lang} SET available_now = '', available_later = ''")


def drift(shop) -> int:
    """Change 1% of the products in the shop behind Kontor's back: their out_of_stock and one text."""
    shop.execute(f"UPDATE {{stock_available}} SET out_of_stock = 2 WHERE MOD(id_product, {DRIFT_EVERY}) = 7")
    shop.execute(f"UPDATE {{product_lang}} SET available_later = 'changed in the shop'"
                 f" WHERE MOD(id_product, {DRIFT_EVERY}) = 7 AND id_lang = 1")
    drifted = shop.count("stock_available", out_of_stock=2)
    return drifted + drifted  # the stock row and one text row of each drifted product


def print_figure(figure: Figure) -> None:
    rate = f"{figure.rate:,.0f} {figure.unit}/s"
    print(f"  {figure.phase}: {figure.count:,} {figure.unit} in {figure.seconds:.2f} s = {rate}"
          f"{'  (' + figure.note + ')' if figure.note else ''}", flush=True)
    if figure.breakdown:
        print(f"    time: {figure.breakdown}", flush=True)


def print_table(figures: list[Figure], args: argparse.Namespace, kontor_db: str) -> None:
    print()
    print(f"Availability sync benchmark: {args.products:,} products, Kontor on {kontor_db}, shop on MariaDB, "
          f"{os.cpu_count()} CPUs")
    header = f"{'phase':<44} | {'count':>9} | {'seconds':>8} | {'rate':>17} | {'target':<20} | met"
    print(header)
    print("-" * len(header))
    for f in figures:
        verdict = "-" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.phase:<44} | {f.count:>9,} | {f.seconds:>8.2f} | {f.rate:>10,.0f} {f.unit[:4] + '/s':<6} | "
              f"{f.target:<20} | {verdict}")


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000, help="products in the shop and rows in the feed")
    parser.add_argument("--kontor-db", choices=("postgresql", "sqlite"), default="postgresql",
                        help="Kontor's own database (default postgresql)")
    parser.add_argument("--skip-workers", action="store_true", help="skip the imports through RQ workers")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each in-process phase and print the top functions")
    args = parser.parse_args(argv)
    if args.products < 100:
        parser.error("--products must be at least 100")
    return args


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1, 5, 15 min)"


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_benchmark_tools()
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so every `finally` below cleans up.
    signal.signal(signal.SIGTERM, _interrupted)
    figures: list[Figure] = []
    print(f"Availability sync benchmark: {args.products:,} products, Kontor on {args.kontor_db}"
          f"{', no workers' if args.skip_workers else f', {WORKERS} workers'}; load average {load_average()}",
          flush=True)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kontor-bench-avail-")))
        stack.callback(print, f"cleanup: removed {folder}", flush=True)
        # Path feeds are read only from the feeds folder; the script and its workers read this one.
        os.environ["KONTOR_FEEDS_DIR"] = str(folder)
        url = database_url(args.kontor_db, folder)
        shop = stack.enter_context(shop_database(args.products))
        stack.enter_context(kontor_database(args.kontor_db, url))
        connection = stack.enter_context(redis_database())
        stack.enter_context(bench_app(url))
        pool = WorkerPool(folder, QUEUE, worker_env(url))
        stack.callback(pool.stop_all)

        from app.catalog.services import autolink
        from app.stock.links import shop_items
        from app.stock.services import sync_availability

        watch_the_app()
        integration_id = create_integration(shop).id

        def record(figure: Figure, breakdown: str = "") -> None:
            figure.breakdown = breakdown
            figures.append(figure)
            print_figure(figure)

        counts, seconds, _ = timed(lambda: autolink(integration_id, shop_items(integration_id), create_missing=True),
                                   args.profile, "autolink")
        record(Figure("autolink, create missing (set-up)", counts["items"], "items", seconds,
                      note=f"created {counts['created']}, linked {counts['linked']}, unmatched {counts['unmatched']}"))

        feed_path = folder / "feed.csv"
        started = time.perf_counter()
        facts = write_feed(feed_path, args.products)
        feed_id = create_feed(feed_path)
        print(f"set-up: feed of {facts.rows:,} rows ({feed_path.stat().st_size / 1e6:.1f} MB cp1250; {facts.invalid} "
              f"invalid, {facts.by_ean} keyed by EAN only, {facts.allowed:,} at or above {THRESHOLD}) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        if not args.skip_workers:
            started = time.perf_counter()
            pool.start(WORKERS, connection)
            print(f"set-up: {WORKERS} workers on the {QUEUE} queue registered in {time.perf_counter() - started:.1f} s",
                  flush=True)

        def imports(prefix: str, expected: FeedFacts) -> None:
            row, seconds, breakdown = timed(lambda: import_in_process(feed_id), args.profile, prefix + "import")
            record(import_figure(f"{prefix}import, in-process", row, seconds, expected), breakdown)
            if not args.skip_workers:
                row, seconds, _ = timed(lambda: import_via_workers(feed_id, pool), False, "")
                record(import_figure(f"{prefix}import, {WORKERS} RQ workers", row, seconds, expected),
                       f"jobs after the enqueue: {pool.timeline}")

        def sync(phase: str, target: str = "", met: Callable[[float, object], bool] | None = None,
                 expected: FeedFacts | None = None, every_row: bool = False) -> None:
            settle(shop)
            result, seconds, breakdown = timed(lambda: sync_availability(integration_id), args.profile, phase)
            note = sync_note(result)
            if expected is not None:
                allowed = shop_allowed(shop)
                note += f"; the shop allows orders for {allowed:,}"
                if allowed != expected.allowed:
                    note += f" [UNEXPECTED: the feed has {expected.allowed:,} at or above {THRESHOLD}]"
            elif every_row:
                # only_changed off: every row the shop has is written again, none counts as unchanged.
                if result.unchanged or not result.changed or result.missing:
                    note += " [UNEXPECTED: every shop row should be written]"
            elif result.changed:
                note += " [UNEXPECTED: nothing should change]"
            record(Figure(phase, result.considered, "products", seconds, target,
                          met(seconds, result) if met else None, note), breakdown)

        # 1, 2: the import, in-process and through the workers
        imports("", facts)
        # 3: the reference on the shop as loaded: the bare write of the final values, then put back
        stock_rows, text_rows = final_values(integration_id)
        settle(shop)
        started = time.perf_counter()
        matched = bare_write(shop, stock_rows, text_rows)
        bare_seconds = time.perf_counter() - started
        bare = Figure("bare write (UPDATE ... JOIN, reference)", len(stock_rows), "products", bare_seconds,
                      note=f"{len(stock_rows):,} stock rows + {len(text_rows):,} text rows loaded and updated, "
                           f"{matched:,} rows matched")
        record(bare)
        if shop_allowed(shop) != facts.allowed:
            print(f"  [UNEXPECTED: the bare write allowed {shop_allowed(shop):,}, the feed has {facts.allowed:,}]")
        reset_shop(shop)
        # 4: everything changes in the shop: every product's texts, about half its out_of_stock
        sync("availability sync, full change", f">= {TARGET_SYNC:,} products/s",
             lambda seconds, result: result.considered / seconds >= TARGET_SYNC, expected=facts)
        full = figures[-1]
        share = full.rate / bare.rate if bare.rate else float("nan")
        record(Figure("  full change as a share of the bare write", full.count, "products", full.seconds,
                      f">= {TARGET_SHARE:.0%} of bare", share >= TARGET_SHARE,
                      f"Kontor {full.rate:,.0f}/s vs bare {bare.rate:,.0f}/s = {share:.0%}"))
        # 5: nothing changed since (every row compared in the shop); then with only_changed off
        sync("availability sync, no-change re-run", f"< {TARGET_RERUN:g} s", lambda seconds, _: seconds < TARGET_RERUN)
        set_only_changed(integration_id, False)
        sync("  same, only_changed off (every row written)", every_row=True)
        set_only_changed(integration_id, True)
        # 6: 1% of the products changed in the shop: the next sync repairs exactly those rows
        drifted = drift(shop)
        settle(shop)
        result, seconds, breakdown = timed(lambda: sync_availability(integration_id), args.profile, "drift")
        note = sync_note(result) + f"; {drifted:,} rows drifted"
        if result.changed != drifted or shop_allowed(shop) != facts.allowed:
            note += f" [UNEXPECTED: {result.changed:,} repaired, the shop allows {shop_allowed(shop):,}]"
        record(Figure("1% drift in the shop: repairing sync", result.considered, "products", seconds,
                      f"< {TARGET_DRIFT:g} s", seconds < TARGET_DRIFT and result.changed == drifted, note), breakdown)
        # 5: ~1% of the stock crosses the threshold: import again, then sync only what changed
        changed_facts = write_feed(feed_path, args.products, changed=True)
        imports("1% changed: ", changed_facts)
        sync("1% changed: availability sync", expected=changed_facts)

        print_table(figures, args, args.kontor_db)
        print(f"load average at the end: {load_average()} (other processes on the machine skew the figures)",
              flush=True)
        print(flush=True)
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
