"""Order list throughput and latency against a trivial page, on SQLite and on PostgreSQL.

For each backend: a fresh database migrated to head, default statuses, one user and
N demo orders; the app served by gunicorn on 127.0.0.1; a real login through the form;
then `wrk` measures the trivial page and the filtered order list in the same run.

    .venv/bin/python benchmarks/order_list.py                       # both backends, 100,000 orders
    .venv/bin/python benchmarks/order_list.py --backend sqlite --orders 20000 --duration 5
    .venv/bin/python benchmarks/order_list.py --fragment-cache off     # only without the fragment cache

Each backend is measured with the fragment cache on and off (KONTOR_FRAGMENT_CACHE=0), on the same data.

Needs `wrk` (Debian: apt-get install wrk), PostgreSQL on 127.0.0.1:5432 (user postgres) and
Redis on 127.0.0.1:6379 (database 5, or $KONTOR_BENCH_REDIS_URL, is used). Everything it creates is removed at the end,
also when it fails or is interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
# Run as a plain script, sys.path[0] is benchmarks/; the app package lives one level up.
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from benchmarks.bench_app import TRIVIAL_PATH  # noqa: E402
from benchmarks.support import ensure_benchmark_tools, throwaway_postgresql  # noqa: E402

HOST = "127.0.0.1"
REDIS_URL = os.environ.get("KONTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")  # not 8-14: browser tests claim those
SECRET_KEY = "kontor-benchmark-secret-key"
PG_SERVER = "postgres@127.0.0.1:5432"
PG_DATABASE = "kontor_bench"
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "bench-password-123"
LIST_PAGES = ("/orders?status=paid", "/orders?status=paid&source=allegro")
# List req/s as a share of the trivial page's, with the fragment cache on and off.
TARGET_RATIO = {True: 0.40, False: 0.25}
TARGET_P95_MS = 50.0
# The dashboard at `/` is measured in the same run, against its own target (issue 13).
DASHBOARD_PAGES = ("/",)
DASHBOARD_TARGET_RATIO = 0.25
DASHBOARD_TARGET_P95_MS = 50.0

# Runs in every wrk thread. The Cookie header comes in as the script's argument; `response`
# counts anything but 200 so a lost session (a 302 to /login) cannot pass for a fast page.
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Cookie"] = args[1]
  not_ok = 0
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local not_ok_total = 0
  for _, thread in ipairs(threads) do not_ok_total = not_ok_total + thread:get("not_ok") end
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d "
    .. "not_ok=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    not_ok_total, errors.connect, errors.read, errors.write, errors.timeout))
end
"""


@dataclass(frozen=True)
class Settings:
    """What the command line chose."""

    orders: int
    duration: int
    warmup: int
    connections: int
    threads: int
    workers: int
    rounds: int
    fragment_caches: tuple[bool, ...] = (True, False)


@dataclass(frozen=True)
class Measurement:
    """One wrk run against one page."""

    path: str
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures: int
    rps_range: tuple[float, float] | None = None  # min and max req/s over the rounds, when several

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- databases ---------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[tuple[str, str]]:
    """A new SQLite file in `workdir`; yields (SQLAlchemy URL, DATABASE_URL for the server)."""
    url = f"sqlite:///{workdir / 'kontor_bench.db'}"
    yield url, url  # the file goes with workdir


@contextlib.contextmanager
def postgresql_database() -> Iterator[tuple[str, str]]:
    """A throwaway PostgreSQL database; yields (SQLAlchemy URL, DATABASE_URL for the server)."""
    with throwaway_postgresql(PG_DATABASE, PG_SERVER) as url:
        yield url, f"postgresql://{PG_SERVER}/{PG_DATABASE}"


def prepare_database(url: str, orders: int) -> None:
    """Migrate to head, seed statuses, the benchmark user and `orders` demo orders."""
    from flask_migrate import upgrade

    from app import create_app
    from app.accounts.services import create_user
    from app.demo import seed_demo_orders
    from app.extensions import db
    from app.settings.services import seed_defaults

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        upgrade()
        seed_defaults()
        create_user(USER_EMAIL, "Benchmark", USER_PASSWORD, role="operator")
        started = time.perf_counter()
        seeded = seed_demo_orders(orders)
        elapsed = time.perf_counter() - started
        print(f"  seeded {seeded:,} orders in {elapsed:.1f} s ({seeded / elapsed:,.0f} orders/s)", flush=True)
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            settle_postgresql(db.engine)
        db.engine.dispose()


def settle_postgresql(engine: sa.Engine) -> None:
    """VACUUM (ANALYZE) the fresh rows, as autovacuum would soon after a bulk insert.

    Without it the run measures whatever autovacuum has reached: no planner statistics and no
    visibility map (so no index-only scans for the list's count) until it comes by mid-run.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))


# --- the server --------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database_url: str, workers: int, log_path: Path, fragment_cache: bool = True) -> Iterator[str]:
    """Serve the bench app on a free port; yields the base URL and stops the server on the way out."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
           "KONTOR_FRAGMENT_CACHE": "1" if fragment_cache else "0",
           "PYTHONPATH": str(ROOT)}
    command = [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers),
               "--bind", f"{HOST}:{port}", "--chdir", str(ROOT), "benchmarks.bench_app:create_bench_app()"]
    with open(log_path, "wb") as log:
        # Its own session, so stopping it reaches the workers and nothing else.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        wait_until_serving(base, process)
        yield base
    except Exception:
        # The server's own traceback says why a page failed, and its log goes with the temp dir.
        print(f"--- gunicorn log, last lines ---\n{log_path.read_text(errors='replace')[-4000:]}", file=sys.stderr)
        raise
    finally:
        stop(process)


def wait_until_serving(base: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Return once the login page answers; fail if gunicorn dies or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        # On a busy host the first answer (workers importing the app) can take longer than one try waits.
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if requests.get(f"{base}/login", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn (master and workers): TERM, then KILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- logging in and checking the pages ---------------------------------------


class _CsrfFinder(HTMLParser):
    """Finds the value of the hidden csrf_token input, whatever the attribute order."""

    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrf_token":
            self.token = values.get("value")


def log_in(base: str) -> str:
    """Sign in through the real login form; returns the Cookie header the session needs."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10)
    finder = _CsrfFinder()
    finder.feed(page.text)
    if not finder.token:
        raise RuntimeError("the login page carries no csrf_token input")
    response = session.post(f"{base}/login", timeout=10, allow_redirects=False,
                            data={"email": USER_EMAIL, "password": USER_PASSWORD, "csrf_token": finder.token})
    if response.status_code != 302:
        raise RuntimeError(f"login failed with HTTP {response.status_code}")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


def check_page(base: str, path: str, cookie: str) -> None:
    """Fetch the page once as the signed-in user; fail unless it is a real 200 page (with rows, for lists)."""
    response = requests.get(f"{base}{path}", headers={"Cookie": cookie}, timeout=30, allow_redirects=False)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered HTTP {response.status_code}, not 200 (is the session lost?)")
    if path.startswith("/orders"):
        if '<tr id="order-row-' not in response.text:
            raise RuntimeError(f"{path} shows no order rows")
    if path in DASHBOARD_PAGES and 'id="kpi-orders"' not in response.text:
        raise RuntimeError(f"{path} shows no dashboard figures")


# --- measuring -----------------------------------------------------------------


def run_wrk(url: str, cookie: str, script: Path, seconds: int, settings: Settings) -> Measurement:
    """One wrk run; returns the figures its Lua `done()` printed."""
    command = ["wrk", f"--threads={settings.threads}", f"--connections={settings.connections}",
               f"--duration={seconds}s", "--timeout=10s", f"--script={script}", url, "--", cookie]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no figures:\n{output}")
    figures = {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}
    failures = figures["not_ok"] + sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors",
                                                             "timeouts"))
    return Measurement(
        path=_path(url),
        requests=figures["requests"], seconds=figures["duration_us"] / 1e6, bytes=figures["bytes"],
        p50_ms=figures["p50_us"] / 1000, p95_ms=figures["p95_us"] / 1000, p99_ms=figures["p99_us"] / 1000,
        failures=failures,
    )


def _path(url: str) -> str:
    # "http://127.0.0.1:8000/orders?status=paid" -> "/orders?status=paid"
    return "/" + url.split("/", 3)[3]


def measure_pages(base: str, paths: list[str], cookie: str, script: Path, settings: Settings) -> list[Measurement]:
    """Each page measured `rounds` times; per page, the round with the median req/s.

    Pages take turns within a round so that a burst of other work on the host hits all of
    them alike instead of skewing one page's figures (and so the ratio).
    """
    runs: dict[str, list[Measurement]] = {path: [] for path in paths}
    for round_number in range(settings.rounds):
        for path in paths:
            if round_number == 0 and settings.warmup:
                # Workers import lazily and fill their caches on first use; keep that out of the figures.
                run_wrk(f"{base}{path}", cookie, script, settings.warmup, settings)
            runs[path].append(run_wrk(f"{base}{path}", cookie, script, settings.duration, settings))
    return [_median_run(runs[path]) for path in paths]


def _median_run(runs: list[Measurement]) -> Measurement:
    # A whole run, not per-column medians, so that req/s and latencies belong together.
    ordered = sorted(runs, key=lambda m: m.rps)
    chosen = ordered[(len(ordered) - 1) // 2]
    spread = (ordered[0].rps, ordered[-1].rps) if len(runs) > 1 else None
    return replace(chosen, failures=sum(m.failures for m in runs), rps_range=spread)


# --- reporting -------------------------------------------------------------------


def host_load() -> str:
    """CPUs, load average and CPU pressure: other work on the host skews every figure."""
    note = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    with contextlib.suppress(OSError, IndexError):
        # "some avg10=12.34 ...": the share of the last 10 s in which runnable tasks waited for a CPU.
        some = Path("/proc/pressure/cpu").read_text().split()[1]
        note += f", CPU pressure {some.replace('avg10=', '')} % (10 s)"
    return note


def print_dashboard_targets(trivial: Measurement, dashboards: list[Measurement], fragment_cache: bool = True) -> None:
    """Whether the dashboard meets its own targets (a share of the trivial page and p95)."""
    # The dashboard's figures are built to be served from the cache; its target is the default set-up's.
    reference = "" if fragment_cache else " (for reference: the dashboard's target is with the cache on)"
    for m in dashboards:
        ratio = m.rps / trivial.rps if trivial.rps else 0
        ratio_ok = "MET" if ratio >= DASHBOARD_TARGET_RATIO else "MISSED"
        p95_ok = "MET" if m.p95_ms < DASHBOARD_TARGET_P95_MS else "MISSED"
        print(f"  {m.path} (dashboard): {m.rps:.1f} req/s = {ratio:.1%} of trivial, p50 {m.p50_ms:.2f} ms, "
              f"p99 {m.p99_ms:.2f} ms, {m.failures} failed; "
              f"target >= {DASHBOARD_TARGET_RATIO:.0%}: {ratio_ok}; "
              f"p95 < {DASHBOARD_TARGET_P95_MS:.0f} ms: {p95_ok} ({m.p95_ms:.1f} ms){reference}")


def print_table(title: str, trivial: Measurement, lists: list[Measurement], settings: Settings,
                fragment_cache: bool = True) -> None:
    """The figures for one backend and whether the list pages meet the targets."""
    target = TARGET_RATIO[fragment_cache]
    title = f"{title}, fragment cache {'on' if fragment_cache else 'off (KONTOR_FRAGMENT_CACHE=0)'}"
    rounds = f", median of {settings.rounds} interleaved rounds" if settings.rounds > 1 else ""
    print(f"\n{title}: {settings.orders:,} orders, gunicorn {settings.workers} sync workers, "
          f"wrk {settings.threads} threads x {settings.connections} connections, "
          f"{settings.duration} s per page after {settings.warmup} s warm-up{rounds}")
    header = f"{'page':<40} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'KB/resp':>8} {'vs trivial':>11}"
    if settings.rounds > 1:
        header += f" {'req/s range':>16}"
    print(header)
    print("-" * len(header))
    for m in [trivial, *lists]:
        size_kb = m.bytes / m.requests / 1024 if m.requests else 0
        ratio = m.rps / trivial.rps if trivial.rps else 0
        line = (f"{m.path:<40} {m.rps:>9.1f} {m.p50_ms:>8.2f} {m.p95_ms:>8.2f} {m.p99_ms:>8.2f} "
                f"{size_kb:>8.1f} {ratio:>10.1%}")
        if m.rps_range:
            line += f" {m.rps_range[0]:>7.1f}-{m.rps_range[1]:<8.1f}"
        print(line)
    for m in [trivial, *lists]:
        if m.failures:
            print(f"  WARNING: {m.path}: {m.failures} requests failed or were not HTTP 200")
    for m in lists:
        ratio = m.rps / trivial.rps if trivial.rps else 0
        ratio_ok = "MET" if ratio >= target else "MISSED"
        p95_ok = "MET" if m.p95_ms < TARGET_P95_MS else "MISSED"
        print(f"  {m.path}: req/s >= {target:.0%} of trivial: {ratio_ok} ({ratio:.1%}); "
              f"p95 < {TARGET_P95_MS:.0f} ms: {p95_ok} ({m.p95_ms:.1f} ms)")


# --- one backend, start to end ---------------------------------------------------


def bench_backend(backend: str, settings: Settings) -> None:
    """Create, seed, serve and measure one backend; everything is removed on the way out."""
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    print(f"\n== {title} ==", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"kontor_bench_{backend}_"))
    try:
        database = sqlite_database(workdir) if backend == "sqlite" else postgresql_database()
        with database as (url, server_url):
            prepare_database(url, settings.orders)
            script = workdir / "session.lua"
            script.write_text(WRK_SCRIPT)
            results = []
            for fragment_cache in settings.fragment_caches:
                with gunicorn(server_url, settings.workers, workdir / "gunicorn.log", fragment_cache) as base:
                    cookie = log_in(base)
                    for path in (TRIVIAL_PATH, *LIST_PAGES, *DASHBOARD_PAGES):
                        check_page(base, path, cookie)
                    print(f"  measuring with the fragment cache {'on' if fragment_cache else 'off'}; "
                          f"host before measuring: {host_load()}", flush=True)
                    trivial, *pages = measure_pages(base, [TRIVIAL_PATH, *LIST_PAGES, *DASHBOARD_PAGES], cookie,
                                                    script, settings)
                    # The session must still hold at the end, or the figures measured redirects.
                    check_page(base, LIST_PAGES[0], cookie)
                results.append((fragment_cache, trivial, pages[:len(LIST_PAGES)], pages[len(LIST_PAGES):]))
        for fragment_cache, trivial, lists, dashboards in results:
            print_table(title, trivial, lists, settings, fragment_cache)
            print_dashboard_targets(trivial, dashboards, fragment_cache)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> tuple[list[str], Settings]:
    """The backends to run and the run's settings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orders", type=int, default=100_000, help="demo orders to seed (default 100000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per page (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per page (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every page N times, interleaved, and report the median round "
                             "(default 1; use 3 or more on a busy host)")
    parser.add_argument("--fragment-cache", choices=["on", "off", "both"], default="both",
                        help="serve with the fragment cache on, off or each in turn (default both)")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    threads = max(1, min(args.threads, args.connections))  # wrk refuses more threads than connections
    caches = {"on": (True,), "off": (False,), "both": (True, False)}[args.fragment_cache]
    settings = Settings(args.orders, args.duration, args.warmup, args.connections, threads, args.workers,
                        max(1, args.rounds), caches)
    return backends, settings


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    # Turn TERM into SystemExit so the `finally` blocks stop gunicorn and drop the database.
    raise SystemExit(143)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for the chosen backends."""
    backends, settings = parse_args(argv)
    ensure_benchmark_tools("wrk")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        for backend in backends:
            bench_backend(backend, settings)
    except KeyboardInterrupt:
        print("\ninterrupted; the server, database and temporary files are removed.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
