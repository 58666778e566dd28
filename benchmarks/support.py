"""Set-up the benchmark scripts share: a throwaway PostgreSQL database, an emptied Redis database, workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import redis
import shutil
import sqlalchemy as sa

PG_SERVER = "postgres@127.0.0.1:5432"
# The benchmarks' fake platforms listen on 127.0.0.1, and Kontor calls only public addresses unless an admin
# allows a host; the scripts' app and the workers they start (environment inherited) allow the fakes.
os.environ.setdefault("KONTOR_PLATFORM_ALLOWED_HOSTS", "127.0.0.1,localhost")
ROOT = Path(__file__).resolve().parent.parent


def ensure_benchmark_tools(*commands: str) -> None:
    """Start PostgreSQL, MariaDB and Redis, and install missing commands (Debian packages), as `make test` does."""
    print("set-up: making sure PostgreSQL, MariaDB and Redis are up (tests/ensure_services.sh)", flush=True)
    subprocess.run(["bash", str(ROOT / "tests" / "ensure_services.sh")], check=True)
    missing = [command for command in commands if not shutil.which(command)]
    if not missing:
        return
    print(f"set-up: installing {', '.join(missing)} (apt-get)", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    still = [command for command in missing if not shutil.which(command)]
    if still:
        raise SystemExit(f"could not install {', '.join(still)}; install it by hand (Debian: apt-get install {' '.join(still)})")


@contextlib.contextmanager
def throwaway_postgresql(name: str, server: str = PG_SERVER) -> Iterator[str]:
    """Create database `name` (dropping a leftover first) and drop it on the way out; yields its URL."""
    admin = sa.create_engine(f"postgresql+psycopg://{server}/postgres", isolation_level="AUTOCOMMIT")
    drop = sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as conn:
            conn.execute(drop)  # a leftover from an earlier, killed run
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield f"postgresql+psycopg://{server}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(drop)
            print(f"cleanup: dropped PostgreSQL database {name}", flush=True)
    finally:
        admin.dispose()


@contextlib.contextmanager
def emptied_redis(url: str) -> Iterator[redis.Redis]:
    """The Redis database at `url`, empty at the start and flushed at the end."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    client.ping()
    leftover = client.dbsize()
    if leftover:
        print(f"note: {url} held {leftover} keys (an earlier run?); flushing it", flush=True)
    client.flushdb()
    try:
        yield client
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
            print(f"cleanup: flushed {url}", flush=True)
        client.close()


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file, or a word that there is none."""
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return "(no log)"


class WorkerPool:
    """`worker.py <queue>` processes, each in its own session so that stopping reaches it and only it."""

    def __init__(self, log_dir: Path, queue: str, env: dict[str, str]) -> None:
        self.log_dir, self.queue, self.env = log_dir, queue, env
        self.timeline = ""
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, count: int, connection: redis.Redis) -> None:
        """Start `count` workers and wait until they have registered with Redis."""
        from rq import Queue, Worker

        for _ in range(count):
            log_path = self.log_dir / f"worker-{len(self.processes) + 1}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen([sys.executable, "worker.py", self.queue], cwd=ROOT, env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.processes.append((process, log_path))
        queue = Queue(self.queue, connection=connection)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check_alive()
            if len(Worker.all(queue=queue)) >= count:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{count} worker(s) did not register with Redis within 60 s")

    def check_alive(self) -> None:
        """Raise with the log's end if a worker has exited."""
        for process, log_path in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited with {process.returncode}:\n{tail(log_path)}")

    def stop_all(self) -> None:
        """TERM (warm shutdown), then KILL whatever is left after 15 s; only the processes started here."""
        if not self.processes:
            return
        for process, _ in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        print(f"cleanup: stopped {len(self.processes)} worker(s)", flush=True)
        self.processes.clear()

    def logs(self) -> str:
        """The end of every worker's log."""
        return "\n".join(f"--- {path.name} ---\n{tail(path)}" for _, path in self.processes)
