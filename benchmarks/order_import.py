"""Allegro order import end to end: 10,000 orders from the fake Allegro, 50 ms a request, into Kontor.

Set-up: a throwaway PostgreSQL database migrated to head, an Allegro integration pointed at
tests/fakes FakeAllegro (real HTTP on 127.0.0.1, `--latency` seconds per request) holding
`--orders` checkout forms, each with a READY_FOR_PROCESSING event in the journal (10 % of them a
second one, as Allegro sends), and `--workers` `worker.py orders` processes.

Measured: from the start of the journal read (what the every-minute job does: events stored raw,
forms fetched 100 a request through the order list, batches handed to the workers) until every
order is in Kontor. orders/s = orders / that time. Target: at least 300 orders/s (one GET per order
at 50 ms would cap a worker at 20/s).

    .venv/bin/python benchmarks/order_import.py
    .venv/bin/python benchmarks/order_import.py --orders 2000 --latency 0.05 --workers 2

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (database 4, or $KONTOR_BENCH_REDIS_URL, is used
and flushed); both are started if they are not running. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support import WorkerPool, emptied_redis, ensure_benchmark_tools, throwaway_postgresql  # noqa: E402

PG_SERVER = "postgres@127.0.0.1:5432"
PG_DATABASE = "kontor_bench_order_import"
DATABASE_URL = f"postgresql+psycopg://{PG_SERVER}/{PG_DATABASE}"
REDIS_URL = os.environ.get("KONTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")  # not 8-14: browser tests claim those
SECRET_KEY = "kontor-benchmark-secret-key"
ENCRYPTION_KEY = "kontor-benchmark-encryption-key"
TARGET = 300.0  # orders/s
TEST_ONLY_ENV = ("KONTOR_SYNC_LEASE_SECONDS", "KONTOR_SYNC_BACKOFF_INITIAL", "KONTOR_PLATFORM_RETRY_SCALE")


def env() -> dict[str, str]:
    """What the script's app and the workers are configured from."""
    values = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_ENV}
    values.update(DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET_KEY,
                  KONTOR_ENCRYPTION_KEY=ENCRYPTION_KEY, PYTHONUNBUFFERED="1")
    return values


def fill_fake(fake, orders: int) -> None:
    """`orders` paid checkout forms changed in the last hour, each journalled (10 % twice)."""
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    for n in range(orders):
        order_id = fake.put_form(updated_at=start + timedelta(milliseconds=300 * n), event="READY_FOR_PROCESSING")
        if n % 10 == 0:
            fake.add_event(order_id, "READY_FOR_PROCESSING")


def run(args: argparse.Namespace) -> int:
    """Set up, import, print the figures; 0 when the target is met."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app import create_app
    from app.core.types import utcnow
    from app.extensions import db
    from app.inbound import allegro as journal
    from app.inbound.models import InboundEvent
    from app.integrations.progress import set_cursor
    from app.jobs import tasks
    from app.orders.models import Order
    from app.settings.services import seed_defaults
    from tests.factories import make_integration
    from tests.fakes.allegro import FakeAllegro

    os.environ.update({k: v for k, v in env().items() if k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                                               "KONTOR_ENCRYPTION_KEY")})
    app = create_app({"SQLALCHEMY_DATABASE_URI": DATABASE_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
                      "KONTOR_ENCRYPTION_KEY": ENCRYPTION_KEY})
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context(), FakeAllegro(latency=args.latency, seed=3) as fake, \
            emptied_redis(REDIS_URL) as redis_client, tempfile.TemporaryDirectory() as logs:
        upgrade()
        seed_defaults()
        started = time.perf_counter()
        fill_fake(fake, args.orders)
        print(f"  fake Allegro holds {args.orders:,} orders and {len(fake.events):,} events "
              f"({time.perf_counter() - started:.1f} s to make), {args.latency * 1000:.0f} ms a request", flush=True)
        access, refresh = fake.issue_tokens()
        integration = make_integration("allegro", direction="pull", name="Bench Allegro", settings={
            "environment": "sandbox", "client_id": fake.client_id, "api_url": fake.api_url,
            "auth_url": fake.auth_url}, credentials={"client_secret": fake.client_secret, "access_token": access,
                                                     "refresh_token": refresh})
        integration.token_expires_at = utcnow() + timedelta(hours=12)
        set_cursor(integration.id, journal.CURSOR, journal.START)
        db.session.commit()
        pool = WorkerPool(Path(logs), "orders", env())
        try:
            pool.start(args.workers, redis_client)
            requests_before = len(fake.requests_log)
            began = time.perf_counter()
            counts = journal.poll_journal(integration.id)
            read_done = time.perf_counter() - began
            deadline = time.monotonic() + args.timeout
            last_sweep = time.monotonic()
            while time.monotonic() < deadline:
                db.session.rollback()
                done = db.session.scalar(select(func.count(Order.id)))
                waiting = db.session.scalar(select(func.count(InboundEvent.id)).where(
                    InboundEvent.state == "received"))
                if done >= args.orders and not waiting:
                    break
                if time.monotonic() - last_sweep > 60:  # as the scheduler's sweeper would
                    tasks.sweep_inbound()
                    last_sweep = time.monotonic()
                pool.check_alive()
                time.sleep(0.05)
            elapsed = time.perf_counter() - began
        finally:
            pool.stop_all()
        db.session.rollback()
        imported = db.session.scalar(select(func.count(Order.id)))
        failed = db.session.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.state == "failed"))
        calls = fake.requests_log[requests_before:]
        by_path: dict[str, int] = {}
        for call in calls:
            key = call.path if not call.path.startswith("/order/checkout-forms/") else "/order/checkout-forms/{id}"
            by_path[key] = by_path.get(key, 0) + 1
        rate = imported / elapsed if elapsed else 0.0
        print(f"\nresults ({args.workers} workers, {args.latency * 1000:.0f} ms per Allegro request)")
        print(f"  journal read and forms stored: {read_done:.1f} s ({counts['new_events']:,} events, "
              f"{counts['new_forms']:,} forms)")
        print(f"  orders in Kontor: {imported:,} of {args.orders:,} in {elapsed:.1f} s, failed deliveries: {failed}")
        print(f"  Allegro requests: " + ", ".join(f"{path} {n}" for path, n in sorted(by_path.items())))
        print(f"  throughput: {rate:,.0f} orders/s (target >= {TARGET:.0f}): "
              f"{'MET' if rate >= TARGET and imported == args.orders else 'NOT MET'}")
        db.session.remove()
        db.engine.dispose()
        return 0 if rate >= TARGET and imported == args.orders else 1


def main() -> int:
    """Parse the options, run with a throwaway database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per Allegro request (default 0.05)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    ensure_benchmark_tools()
    with throwaway_postgresql(PG_DATABASE, PG_SERVER):
        return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
