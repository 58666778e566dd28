"""Status push throughput and latency: real `worker.py integrations` processes against a fake PrestaShop.

Set-up: a throwaway PostgreSQL database migrated to head with the default statuses, a PrestaShop
integration pointed at tests/fakes FakePrestaShop (real HTTP on 127.0.0.1, `--latency` seconds per
request), a few status mappings, and orders that belong to the integration with their ids in the fake.
Then, for 1 and then 2 worker processes on the `integrations` queue:

  (a) throughput: N manual changes awaiting_payment -> paid as fast as the script can make them;
      pushes/s = N / (first change started .. the fake's receipt of the last of the N POSTs);
  (b) latency: fresh orders moved to picking at `--rate` changes/s for `--seconds` s, one in five of
      them moved on to shipped 0.3 s later (the pushes of one order go one at a time, in order, so
      the first may be superseded); for each order the time from its last change's commit
      (time.time() right after change_status returned) to the fake's receipt of the matching
      order_histories POST; p50 / p95 / max, with a breakdown of where the time went (RQ queue wait,
      job start to the platform's GET, the two platform calls, the close), how many pushes were
      superseded, and how many orders ended in another shop state than their status's.

    .venv/bin/python benchmarks/status_push.py
    .venv/bin/python benchmarks/status_push.py --orders 500 --rate 20 --seconds 30 --latency 0.1

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 (database 2, or $KONTOR_BENCH_REDIS_URL, is used
and flushed). The database, the Redis database and the worker processes are removed at the end, also
when the run fails or is interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script, sys.path[0] is benchmarks/; the app (and tests/fakes) live one level up.
sys.path.insert(0, str(ROOT))

from benchmarks.support import WorkerPool, emptied_redis, ensure_benchmark_tools, throwaway_postgresql  # noqa: E402

PG_SERVER = "postgres@127.0.0.1:5432"
PG_DATABASE = "kontor_bench_push"
DATABASE_URL = f"postgresql+psycopg://{PG_SERVER}/{PG_DATABASE}"
REDIS_URL = os.environ.get("KONTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")  # not 8-14: browser tests claim those
SECRET_KEY = "kontor-benchmark-secret-key"
# The script stores the integration's credentials with this key; the workers must decrypt them with it.
ENCRYPTION_KEY = "kontor-benchmark-encryption-key"
QUEUE = "integrations"
# Kontor status -> PrestaShop default state id (2 payment accepted, 3 processing, 4 shipped, 6 cancelled).
PS_MAPPING = {"paid": "2", "picking": "3", "shipped": "4", "cancelled": "6"}
TARGET_P95 = 2.0  # seconds, at the steady rate
# Worker settings shortened by the tests; the benchmark runs with the production defaults.
TEST_ONLY_ENV = ("KONTOR_SYNC_LEASE_SECONDS", "KONTOR_SYNC_BACKOFF_INITIAL", "KONTOR_PLATFORM_RETRY_SCALE",
                 "KONTOR_DISABLED_HANDLERS")


@dataclass
class RoundResult:
    workers: int
    pushes: int = 0
    throughput_seconds: float = 0.0
    changes_seconds: float = 0.0
    throughput_complete: bool = False
    latencies: list[float] = field(default_factory=list)
    latency_expected: int = 0
    achieved_rate: float = 0.0
    breakdown: dict[str, float] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    followed_up: int = 0
    wrong: int = 0

    @property
    def superseded(self) -> int:
        return self.outbox.get("superseded", 0)

    @property
    def pushes_per_s(self) -> float:
        return self.pushes / self.throughput_seconds if self.throughput_seconds else 0.0

    @property
    def latency_complete(self) -> bool:
        return len(self.latencies) == self.latency_expected

    def pct(self, q: float) -> float:
        return percentile(self.latencies, q)

    @property
    def target_met(self) -> bool:
        return self.latency_complete and bool(self.latencies) and self.pct(95) < TARGET_P95 and not self.wrong


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


# --- environment: database, Redis, app ----------------------------------------------------------


def worker_env() -> dict[str, str]:
    """What both the script's app and the worker processes are configured from."""
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_ENV}
    env.update(DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, SECRET_KEY=SECRET_KEY,
               KONTOR_ENCRYPTION_KEY=ENCRYPTION_KEY, PYTHONUNBUFFERED="1")
    return env


def postgresql_database():
    """The throwaway benchmark database (see benchmarks/support.py)."""
    return throwaway_postgresql(PG_DATABASE, PG_SERVER)


def redis_database():
    """The benchmark's Redis database, empty at the start and flushed at the end."""
    return emptied_redis(REDIS_URL)


@contextlib.contextmanager
def bench_app() -> Iterator[object]:
    """The Kontor app on the benchmark database, configured exactly like the workers."""
    import logging

    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.settings.services import seed_defaults

    os.environ.update({k: v for k, v in worker_env().items() if k in (
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "KONTOR_ENCRYPTION_KEY")})
    for key in TEST_ONLY_ENV:
        os.environ.pop(key, None)
    app = create_app({"SQLALCHEMY_DATABASE_URI": DATABASE_URL, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
                      "KONTOR_ENCRYPTION_KEY": ENCRYPTION_KEY})
    # create_app logs at INFO; one line per status change would drown the figures.
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        try:
            upgrade()
            seed_defaults()
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


# --- workers ---------------------------------------------------------------------------------


# --- fixtures in the database --------------------------------------------------------------------


def create_shop_integration(fake):
    from tests.factories import make_integration, map_status

    integration = make_integration("prestashop", direction="both", name="Bench shop",
                                   settings={"shop_url": fake.url, "language_id": 1},
                                   credentials={"api_key": fake.api_key},
                                   states=[(state_id, f"State {state_id}") for state_id in fake.states])
    for status, state_id in PS_MAPPING.items():
        map_status(integration, status, state_id, "both")
    return integration


def create_orders(fake, integration_id: int, count: int) -> list[tuple[int, str]]:
    """`count` orders awaiting payment, each with an order in the fake; (order id, external id) pairs."""
    from tests.factories import make_order

    orders = []
    for _ in range(count):
        external_id = fake.add_order(state="10")  # 10: awaiting bank wire
        order = make_order("awaiting_payment", integration_id=integration_id, external_order_id=external_id,
                           source="prestashop")
        orders.append((order.id, external_id))
    return orders


# --- measuring ---------------------------------------------------------------------------------


def posts_for(fake, wanted: set[str], state_id: str) -> dict[str, float]:
    """external order id -> `at` of the first order_histories POST to `state_id` the fake received."""
    with fake.lock:
        posts = list(fake.history_posts)
    arrived: dict[str, float] = {}
    for post in posts:
        if post["state_id"] == state_id and post["order_id"] in wanted and post["order_id"] not in arrived:
            arrived[post["order_id"]] = post["at"]
    return arrived


def wait_for_posts(fake, pool: WorkerPool, wanted: set[str], state_id: str, timeout: float) -> dict[str, float]:
    """Poll the fake until every wanted order got its POST, or time runs out (then what arrived).

    The outbox sweeper runs once a minute of waiting, as the scheduler would.
    """
    from app.jobs import tasks

    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic() + 60
    while True:
        arrived = posts_for(fake, wanted, state_id)
        if len(arrived) == len(wanted) or time.monotonic() > deadline:
            return arrived
        pool.check_alive()
        if time.monotonic() > next_sweep:
            tasks.sweep_outbox()
            next_sweep += 60
        time.sleep(0.05)


def throughput(fake, pool: WorkerPool, orders: list[tuple[int, str]], result: RoundResult) -> None:
    from app.orders.services import Actor, change_status

    actor = Actor("Bench", "manual")
    wanted = {external_id for _, external_id in orders}
    started = time.time()
    for order_id, _ in orders:
        change_status(order_id, "paid", actor)
    result.changes_seconds = time.time() - started
    arrived = wait_for_posts(fake, pool, wanted, PS_MAPPING["paid"], timeout=120 + len(orders))
    result.pushes = len(arrived)
    result.throughput_complete = len(arrived) == len(wanted)
    result.throughput_seconds = (max(arrived.values()) - started) if arrived else 0.0


FOLLOW_UP_EVERY = 5  # one order in five gets a second change three slots (0.3 s at 10/s) after its first
FOLLOW_UP_GAP = 3


def steady_plan(orders: list[tuple[int, str]]) -> list[tuple[str, int, str]]:
    """(status, order id, external id) per slot: each order to picking, one in five on to shipped soon after.

    The quick second change is what per-order ordering is for: its push must wait for (or
    supersede) the first one, and the shop must end on the second.
    """
    plan: list[tuple[str, int, str]] = []
    follow_ups: dict[int, list[tuple[str, int, str]]] = {}
    for n, (order_id, external_id) in enumerate(orders):
        plan.extend(follow_ups.pop(len(plan), []))
        plan.append(("picking", order_id, external_id))
        if n % FOLLOW_UP_EVERY == FOLLOW_UP_EVERY - 1:
            follow_ups.setdefault(len(plan) + FOLLOW_UP_GAP - 1, []).append(("shipped", order_id, external_id))
    for slot in sorted(follow_ups):
        plan.extend(follow_ups[slot])
    return plan


def steady_latency(fake, pool: WorkerPool, orders: list[tuple[int, str]], rate: float,
                   result: RoundResult) -> dict[str, float]:
    """Run `steady_plan` at `rate` changes per second; fills result.latencies; returns commit times.

    A change's latency runs from its commit to the fake's receipt of the POST of the order's
    last wish (shipped for the orders changed twice).
    """
    from app.orders.services import Actor, change_status

    actor = Actor("Bench", "manual")
    committed: dict[str, float] = {}
    final: dict[str, str] = {}
    plan = steady_plan(orders)
    interval = 1.0 / rate
    start = time.perf_counter()
    first = time.time()
    for n, (status, order_id, external_id) in enumerate(plan):
        pause = start + n * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        change_status(order_id, status, actor)
        committed[external_id] = time.time()
        final[external_id] = status
    span = time.time() - first
    result.achieved_rate = (len(plan) - 1) / span if span > 0 and len(plan) > 1 else float("nan")
    result.latency_expected = len(committed)
    for status in ("picking", "shipped"):
        wanted = {ext for ext, last in final.items() if last == status}
        arrived = wait_for_posts(fake, pool, wanted, PS_MAPPING[status], timeout=120 + len(wanted))
        result.latencies += [arrived[ext] - committed[ext] for ext in wanted if ext in arrived]
    result.followed_up = sum(1 for last in final.values() if last == "shipped")
    return {ext: at for ext, at in committed.items() if final[ext] == "picking"}


def where_time_goes(fake, orders: list[tuple[int, str]], committed: dict[str, float]) -> dict[str, float]:
    """Median seconds per stage of the steady-rate pushes, from the outbox rows, RQ's job records and
    the fake's request log."""
    from rq.job import Job
    from sqlalchemy import select

    from app.extensions import db, redis_connection
    from app.sync.models import SyncOperation

    db.session.rollback()  # see the workers' commits
    by_order = {order_id: ext for order_id, ext in orders}
    operations = db.session.scalars(select(SyncOperation).where(
        SyncOperation.order_id.in_(list(by_order)), SyncOperation.kind == "status_push")).all()
    with fake.lock:
        gets: dict[str, float] = {}
        for logged in fake.requests_log:
            if logged.method == "GET" and logged.path.startswith("/api/orders/"):
                ext = logged.path.rsplit("/", 1)[1]
                gets.setdefault(ext, logged.at)  # arrival, before the fake's latency
        posts = {p["order_id"]: p["at"] for p in fake.history_posts if p["state_id"] == PS_MAPPING["picking"]}
    stages: dict[str, list[float]] = {"commit -> job started (queue wait)": [],
                                      "job started -> GET reaches shop": [],
                                      "GET reaches shop -> POST handled": [],
                                      "POST handled -> job ended": []}

    def ts(value) -> float:
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()

    for op in operations:
        ext = by_order[op.order_id]
        if op.state != "done" or ext not in committed or ext not in posts or ext not in gets:
            continue
        try:
            job = Job.fetch(op.job_id, connection=redis_connection.client)
        except Exception:  # expired or never ran under this id
            continue
        if not (job.started_at and job.ended_at):
            continue
        started, ended = ts(job.started_at), ts(job.ended_at)
        stages["commit -> job started (queue wait)"].append(started - committed[ext])
        stages["job started -> GET reaches shop"].append(gets[ext] - started)
        stages["GET reaches shop -> POST handled"].append(posts[ext] - gets[ext])
        stages["POST handled -> job ended"].append(ended - posts[ext])
    return {name: statistics.median(values) for name, values in stages.items() if values}


def settle(order_ids: list[int], timeout: float = 15.0) -> None:
    """Wait until the jobs whose POST arrived have closed their operations (the last commit comes after)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.sync.models import SyncOperation

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see the workers' commits
        open_count = db.session.scalar(select(func.count()).select_from(SyncOperation).where(
            SyncOperation.order_id.in_(order_ids), SyncOperation.state.in_(("pending", "processing"))))
        if not open_count:
            return
        time.sleep(0.1)


def outbox_summary(order_ids: list[int]) -> tuple[dict[str, int], int]:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.sync.models import SyncOperation

    db.session.rollback()
    rows = db.session.execute(select(SyncOperation.state, func.count()).where(
        SyncOperation.order_id.in_(order_ids)).group_by(SyncOperation.state)).all()
    retried = db.session.scalar(select(func.count()).select_from(SyncOperation).where(
        SyncOperation.order_id.in_(order_ids), SyncOperation.attempts > 1))
    return dict(rows), retried


def wrong_final_states(fake, orders: list[tuple[int, str]]) -> int:
    """Orders whose state in the shop is not the mapped state of their status in Kontor."""
    from sqlalchemy import select

    from app.extensions import db
    from app.orders.models import Order

    db.session.rollback()
    statuses = dict(db.session.execute(select(Order.id, Order.status).where(
        Order.id.in_([order_id for order_id, _ in orders]))).all())
    with fake.lock:
        return sum(1 for order_id, external_id in orders
                   if fake.orders.get(external_id) != PS_MAPPING.get(statuses.get(order_id)))


def duplicates(fake) -> int:
    with fake.lock:
        counts = Counter((p["order_id"], p["state_id"]) for p in fake.history_posts)
    return sum(n - 1 for n in counts.values() if n > 1)


# --- reporting ----------------------------------------------------------------------------------


def print_round(result: RoundResult, rate: float) -> None:
    w = result.workers
    flag = "" if result.throughput_complete else "  (INCOMPLETE: timed out)"
    print(f"  [{w} worker(s)] throughput: {result.pushes} pushes in {result.throughput_seconds:.2f} s "
          f"= {result.pushes_per_s:.1f} pushes/s (the {result.pushes} changes themselves took "
          f"{result.changes_seconds:.2f} s){flag}", flush=True)
    flag = "" if result.latency_complete else \
        f"  (INCOMPLETE: {len(result.latencies)}/{result.latency_expected} arrived)"
    print(f"  [{w} worker(s)] latency at {rate:g}/s (achieved {result.achieved_rate:.2f}/s), "
          f"{len(result.latencies)} pushes: p50 {result.pct(50):.3f} s, p95 {result.pct(95):.3f} s, "
          f"max {max(result.latencies, default=float('nan')):.3f} s{flag}", flush=True)
    if result.breakdown:
        print(f"  [{w} worker(s)] where the time goes (medians, steady-rate pushes):")
        for name, seconds in result.breakdown.items():
            print(f"      {name:<38} {seconds * 1000:8.1f} ms")
    print(f"  [{w} worker(s)] outbox rows: {result.outbox}; operations needing >1 attempt: {result.retried}",
          flush=True)
    print(f"  [{w} worker(s)] {result.followed_up} orders changed twice 0.3 s apart; pushes superseded by a newer "
          f"change before being written: {result.superseded}; orders whose shop state differs from their "
          f"status: {result.wrong}", flush=True)


def print_table(results: list[RoundResult], rate: float) -> None:
    print()
    print(f"Status push, target p95 < {TARGET_P95:g} s at {rate:g} changes/s")
    header = (f"{'workers':>7} | {'pushes/s':>8} | {'p50 s':>7} | {'p95 s':>7} | {'max s':>7} | "
              f"{'superseded':>10} | target met")
    print(header)
    print("-" * len(header))
    for r in results:
        verdict = "yes" if r.target_met else "NO"
        if not r.latency_complete:
            verdict += " (incomplete)"
        print(f"{r.workers:>7} | {r.pushes_per_s:>8.1f} | {r.pct(50):>7.3f} | {r.pct(95):>7.3f} | "
              f"{max(r.latencies, default=float('nan')):>7.3f} | {r.superseded:>10} | {verdict}")


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="changes in the throughput phase (default 200)")
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second in the latency phase (10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency phase in s (20)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="the fake shop's delay per request, in seconds (0.05 = 50 ms)")
    parser.add_argument("--workers", default="1,2", help="worker counts to try, comma-separated (1,2)")
    args = parser.parse_args(argv)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if args.orders < 1 or args.rate <= 0 or args.seconds <= 0 or args.latency < 0 or not args.worker_counts:
        parser.error("--orders, --rate, --seconds must be positive, --latency >= 0, --workers non-empty")
    return args


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_benchmark_tools()
    steady_count = max(1, round(args.rate * args.seconds))

    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so every `finally` below cleans up.
    signal.signal(signal.SIGTERM, _interrupted)

    from tests.fakes.prestashop import FakePrestaShop

    print(f"Status push benchmark: {args.orders} changes for throughput, {steady_count} at {args.rate:g}/s "
          f"for latency, fake PrestaShop latency {args.latency * 1000:g} ms/request, workers {args.worker_counts}",
          flush=True)
    results: list[RoundResult] = []
    with contextlib.ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kontor-bench-push-")))
        stack.enter_context(postgresql_database())
        connection = stack.enter_context(redis_database())
        fake = stack.enter_context(FakePrestaShop(latency=args.latency))
        stack.enter_context(bench_app())
        pool = WorkerPool(log_dir, QUEUE, worker_env())
        stack.callback(pool.stop_all)

        integration = create_shop_integration(fake)
        started = time.perf_counter()
        batches = {}
        for count in args.worker_counts:
            batches[count] = (create_orders(fake, integration.id, args.orders),
                              create_orders(fake, integration.id, steady_count))
        print(f"set-up: {len(args.worker_counts) * (args.orders + steady_count)} orders in "
              f"{time.perf_counter() - started:.1f} s; shop at {fake.url}", flush=True)

        try:
            for count in args.worker_counts:
                burst, steady = batches[count]
                result = RoundResult(workers=count)
                pool.start(count, connection)
                throughput(fake, pool, burst, result)
                committed = steady_latency(fake, pool, steady, args.rate, result)
                settle([order_id for order_id, _ in burst + steady])
                result.breakdown = where_time_goes(fake, steady, committed)
                result.outbox, result.retried = outbox_summary([order_id for order_id, _ in burst + steady])
                result.wrong = wrong_final_states(fake, steady)
                pool.stop_all()
                print_round(result, args.rate)
                results.append(result)
            extra = duplicates(fake)
            if extra:
                print(f"WARNING: {extra} order_histories POSTs repeated an (order, state) already sent")
            if fake.handler_errors:
                print(f"WARNING: the fake crashed {len(fake.handler_errors)} times:\n{fake.handler_errors[0]}")
        except BaseException:
            print(pool.logs(), file=sys.stderr)
            raise
        finally:
            if results:
                print_table(results, args.rate)
    return 0 if results and all(r.target_met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
