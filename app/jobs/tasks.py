"""Tasks RQ runs. Thin: they take ids and names and call services."""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

from flask import current_app

from app.core.health import HEARTBEAT_KEY
from app.core.types import utcnow
from app.extensions import redis_connection
from app.jobs.schedule import find

log = logging.getLogger("kontor.jobs")

LAST_RUN_KEY = "kontor:jobs:last-run"


def lock_key(name: str) -> str:
    return f"kontor:jobs:lock:{name}"


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def run_recurring(name: str) -> dict[str, Any]:
    """Run a scheduled job unless its previous run still holds the lock."""
    job = find(name)
    client = redis_connection.client
    lock = client.lock(lock_key(name), timeout=current_app.config["JOB_LOCK_TIMEOUT"], blocking=False)
    if not lock.acquire():
        log.info("recurring job %s skipped: the previous run is still going", name)
        outcome = {"outcome": "skipped", "reason": "previous run still going", "at": utcnow().isoformat()}
        client.hset(LAST_RUN_KEY, f"{name}:skipped", json.dumps(outcome))
        return outcome
    started = utcnow()
    try:
        result = _resolve(job.func)()
        outcome = {"outcome": "ok", "result": result, "started": started.isoformat(),
                   "finished": utcnow().isoformat()}
        return outcome
    except Exception as error:
        outcome = {"outcome": "error", "error": str(error)[:500], "started": started.isoformat(),
                   "finished": utcnow().isoformat()}
        raise
    finally:
        client.hset(LAST_RUN_KEY, name, json.dumps(outcome, default=str))
        try:
            lock.release()
        except Exception:  # the lock expired under a very long run; nothing left to release
            log.warning("lock of recurring job %s had already expired", name)


def heartbeat() -> str:
    """Record that the scheduler and a worker are alive."""
    now = utcnow().isoformat()
    redis_connection.client.set(HEARTBEAT_KEY, now)
    return now


def last_runs() -> dict[str, dict]:
    """The last outcome of each recurring job, by name."""
    raw = redis_connection.client.hgetall(LAST_RUN_KEY)
    return {key.decode(): json.loads(value) for key, value in raw.items()}
