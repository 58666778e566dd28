"""Webhook ingest: signed Shopify deliveries against Kontor under gunicorn (2 workers), with wrk, and in the
same run a bare Flask endpoint that only checks the HMAC and inserts one row (benchmarks/webhook_bare.py).

Each request is a valid orders/updated delivery with its own X-Shopify-Webhook-Id (the id is not
signed), so every one must be stored. Printed: req/s, p50/p95 for both, the ratio Kontor / bare, and
the stored count against the 2xx count. Targets: Kontor at least 80 % of the bare endpoint's req/s,
p95 under 20 ms, stored = 2xx. The two are measured in turn (3 rounds of 5 s each by default), so a
change in the shared machine's load weighs on both alike.

    .venv/bin/python benchmarks/webhook_ingest.py
    .venv/bin/python benchmarks/webhook_ingest.py --rounds 4 --duration 10 --connections 8

Needs `wrk` (installed with apt-get if missing), PostgreSQL on 127.0.0.1:5432 and Redis on
127.0.0.1:6379 (database 7, or $KONTOR_BENCH_REDIS_URL, is used and flushed). Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support import emptied_redis, ensure_benchmark_tools, throwaway_postgresql  # noqa: E402

HOST = "127.0.0.1"
PG_SERVER = "postgres@127.0.0.1:5432"
PG_DATABASE = "kontor_bench_webhooks"
REDIS_URL = os.environ.get("KONTOR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")  # not 8-14: browser tests claim those
SECRET_KEY = "kontor-benchmark-secret-key"
ENCRYPTION_KEY = "kontor-benchmark-encryption-key"
WEBHOOK_SECRET = "bench-shopify-webhook-secret"
TARGET_RATIO, TARGET_P95_MS = 0.80, 20.0

# Each wrk thread numbers its requests within its run; the id header makes every delivery new.
WRK_SCRIPT = r"""
local threads = {}
local counter = 0

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = io.open(args[1], "rb")
  body = file:read("*a")
  file:close()
  signature = args[2]
  run = args[3]
  ok = 0
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json", ["X-Shopify-Topic"] = "orders/updated",
    ["X-Shopify-Hmac-Sha256"] = signature, ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
    ["X-Shopify-Webhook-Id"] = string.format("wh-%s-%d-%d", run, number, counter),
    ["X-Shopify-Triggered-At"] = "2026-12-02T10:00:00+00:00"}, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local ok_total = 0
  for _, thread in ipairs(threads) do ok_total = ok_total + thread:get("ok") end
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d ok=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), ok_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Measurement:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    ok: int
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(target: str, env: dict[str, str], log_path: Path, ready_path: str) -> Iterator[str]:
    """Serve `target` with 2 gunicorn workers on a free port; yields the base URL, stops it on the way out."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind", f"{HOST}:{port}",
               "--chdir", str(ROOT), target]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log_path.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                requests.post(base + ready_path, data=b"{}", timeout=10)  # any answer (a 401) means it serves
                break
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def run_wrk(name: str, url: str, body_path: Path, signature: str, script: Path, args, run: str) -> Measurement:
    """One wrk run; `run` makes its delivery ids its own; the Lua `done` prints the figures."""
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s", "-s",
               str(script), url, "--", str(body_path), signature, run]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(l for l in output.splitlines() if l.startswith("BENCH "))
    values = dict(re.findall(r"(\w+)=(\d+)", line))
    return Measurement(name, int(values["requests"]), int(values["duration_us"]) / 1e6, int(values["p50_us"]) / 1000,
                       int(values["p95_us"]) / 1000, int(values["ok"]), int(values["errors"]))


def combined(rounds: list[Measurement]) -> Measurement:
    """Several rounds as one: requests and time summed, the worst round's percentiles."""
    return Measurement(rounds[0].name, sum(m.requests for m in rounds), sum(m.seconds for m in rounds),
                       max(m.p50_ms for m in rounds), max(m.p95_ms for m in rounds), sum(m.ok for m in rounds),
                       sum(m.errors for m in rounds))


def main() -> int:
    """Set up both servers, measure each in turn, print the figures; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds of each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    ensure_benchmark_tools("wrk")
    from app.webhooks.signatures import sign_base64_hmac
    from tests.fakes.shopify import shopify_order

    with throwaway_postgresql(PG_DATABASE, PG_SERVER) as url, emptied_redis(REDIS_URL), \
            tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
               "KONTOR_ENCRYPTION_KEY": ENCRYPTION_KEY, "BARE_WEBHOOK_SECRET": WEBHOOK_SECRET,
               "BARE_DATABASE_DSN": f"postgresql://{PG_SERVER}/{PG_DATABASE}"}
        shop_id = prepare(url)
        body = json.dumps(shopify_order(1001, minute=1)).encode()
        body_path, script = work / "body.json", work / "deliveries.lua"
        body_path.write_bytes(body)
        script.write_text(WRK_SCRIPT)
        signature = sign_base64_hmac(body, WEBHOOK_SECRET)
        with gunicorn("benchmarks.webhook_bare:create_bare_app()", env, work / "bare.log", "/bare") as bare_base, \
                gunicorn("app:create_app()", env, work / "kontor.log", f"/webhooks/shopify/{shop_id}") as kontor_base:
            # Turn about, so a change in the machine's load (it is shared) weighs on both alike.
            rounds: dict[str, list[Measurement]] = {"bare": [], "kontor": []}
            for number in range(args.rounds):
                print(f"round {number + 1} of {args.rounds} (load average {os.getloadavg()[0]:.2f})", flush=True)
                rounds["bare"].append(run_wrk("bare HMAC + insert", f"{bare_base}/bare", body_path, signature,
                                              script, args, f"bare{number}"))
                rounds["kontor"].append(run_wrk("Kontor /webhooks/shopify", f"{kontor_base}/webhooks/shopify/{shop_id}",
                                                body_path, signature, script, args, f"kontor{number}"))
            time.sleep(1)  # requests in flight when wrk stopped are answered
        stored = counts(url)
    for name, measured in rounds.items():
        for m in measured:
            print(f"  round  {m.name:26} {m.rps:8,.0f} req/s  p50 {m.p50_ms:6.2f} ms  p95 {m.p95_ms:6.2f} ms")
    results = [combined(rounds["bare"]), combined(rounds["kontor"])]
    bare, kontor = results
    ratio = kontor.rps / bare.rps if bare.rps else 0.0
    # wrk stops counting at the end of the run; requests in flight then are answered (and stored) uncounted.
    in_flight = stored["kontor"] - kontor.ok
    stored_ok = 0 <= in_flight <= args.connections * args.rounds
    print(f"\nresults (gunicorn 2 workers each, wrk {args.threads} threads, {args.connections} connections, "
          f"{args.rounds} rounds of {args.duration} s each, taken in turn; p50/p95: the worst round's; "
          f"load average now {os.getloadavg()[0]:.2f})")
    for m in results:
        print(f"  {m.name:26} {m.rps:8,.0f} req/s  p50 {m.p50_ms:6.2f} ms  p95 {m.p95_ms:6.2f} ms  "
              f"2xx {m.ok:,} of {m.requests:,}  socket errors {m.errors}")
    print(f"  stored: Kontor {stored['kontor']:,} deliveries for {kontor.ok:,} 2xx counted by wrk "
          f"(+{in_flight} answered after wrk stopped counting); bare {stored['bare']:,} rows for {bare.ok:,} 2xx")
    met = ratio >= TARGET_RATIO and kontor.p95_ms < TARGET_P95_MS and stored_ok
    print(f"  ratio Kontor / bare: {ratio:.0%} (target >= {TARGET_RATIO:.0%}); Kontor p95 {kontor.p95_ms:.1f} ms "
          f"(target < {TARGET_P95_MS:.0f} ms); stored = 2xx: {stored_ok}: "
          f"{'MET' if met else 'NOT MET'}")
    return 0 if met else 1


def prepare(url: str) -> int:
    """Migrate, seed, add the Shopify integration and the bare table; the integration's id."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.settings.services import seed_defaults
    from tests.factories import make_integration

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET_KEY,
                      "KONTOR_ENCRYPTION_KEY": ENCRYPTION_KEY})
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        seed_defaults()
        shop = make_integration("shopify", name="Bench Shopify", credentials={
            "api_token": "shpat_bench", "webhook_secret": WEBHOOK_SECRET})
        db.session.execute(text("CREATE TABLE bare_deliveries (id serial PRIMARY KEY, delivery_id varchar(255) "
                                "UNIQUE, body bytea NOT NULL, received_at timestamptz DEFAULT now())"))
        db.session.commit()
        shop_id = shop.id
        db.session.remove()
        db.engine.dispose()
    return shop_id


def counts(url: str) -> dict[str, int]:
    """Rows stored by each endpoint (the readiness probes' empty bodies are refused, so not counted)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        kontor = conn.execute(sa.text("SELECT count(*) FROM inbound_events")).scalar()
        bare = conn.execute(sa.text("SELECT count(*) FROM bare_deliveries")).scalar()
    engine.dispose()
    return {"kontor": kontor, "bare": bare}


if __name__ == "__main__":
    raise SystemExit(main())
