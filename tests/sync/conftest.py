"""Fixtures for push flows: an app on PostgreSQL and real `worker.py` processes on a real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from pathlib import Path

import pytest

from app.extensions import db
from app.jobs import tasks
from tests.conftest import app_on

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_app(postgres_url, redis_server):
    """An app on a clean PostgreSQL database: worker processes and the test share it."""
    yield from app_on(postgres_url, redis_server)


class Workers:
    """Real worker processes on the integrations queue, started and killed on demand."""

    def __init__(self, app, log_folder: Path) -> None:
        self.app = app
        self.log_folder = log_folder
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def env(self) -> dict[str, str]:
        config = self.app.config
        return {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": config["REDIS_URL"],
                "SECRET_KEY": "test", "KONTOR_ENCRYPTION_KEY": config["KONTOR_ENCRYPTION_KEY"],
                "KONTOR_SYNC_LEASE_SECONDS": str(config["SYNC_LEASE_SECONDS"]),
                "KONTOR_SYNC_BACKOFF_INITIAL": "0.5", "KONTOR_PLATFORM_RETRY_SCALE": "0.01"}

    def start(self, count: int = 1, queues: tuple[str, ...] = ("integrations",)) -> list[subprocess.Popen]:
        # Output goes to files: an unread pipe fills up and blocks the worker after ~100 jobs.
        started = []
        for _ in range(count):
            log = self.log_folder / f"worker-{len(self.logs) + 1}.log"
            self.logs.append(log)
            with log.open("wb") as output:
                started.append(subprocess.Popen([sys.executable, "worker.py", *queues], cwd=ROOT, env=self.env(),
                                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True))
        self.processes += started
        return started

    def start_scheduler(self, interval: float = 1.0) -> subprocess.Popen:
        """`flask jobs scheduler` as `make run` starts it, ticking every `interval` seconds."""
        log = self.log_folder / "scheduler.log"
        self.logs.append(log)
        env = {**self.env(), "FLASK_APP": "app:create_app", "KONTOR_SCHEDULER_INTERVAL": str(interval)}
        with log.open("wb") as output:
            process = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "scheduler"], cwd=ROOT, env=env,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def children(self, process: subprocess.Popen) -> list[int]:
        """Pids of the processes `process` started (an RQ scheduler child, a work horse)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == process.pid:
                found.append(int(stat.parent.name))
        return found

    def log_text(self) -> str:
        """Everything the processes wrote."""
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def output(self, tail: int = 4000) -> str:
        """The end of each worker's log, for a failure message."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-tail:]}" for log in self.logs
                         if log.exists())

    def kill(self, process: subprocess.Popen) -> None:
        """Kill a worker and its work horse at once, as a crash or an OOM kill would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def workers(pg_app, tmp_path):
    pool = Workers(pg_app, tmp_path)
    yield pool
    pool.stop_all()


def wait_until(condition, timeout: float = 60.0, sweep: bool = True, every: float = 0.5, report=None) -> None:
    """Poll `condition` (sweeping the outbox as the scheduler would) until it holds or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()  # see the workers' commits
        if condition():
            return
        if sweep:
            tasks.sweep_outbox()
        time.sleep(every)
    db.session.rollback()
    assert condition(), f"condition not met within {timeout} s" + (f": {report()}" if report else "")


