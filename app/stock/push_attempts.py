"""What every stock-update deliverer shares: the settings, the log row per attempt, retry or fail.

A deliverer (Allegro's commands, PrestaShop's webservice or database) works on a batch of claimed
operations of one integration, each with its product link and the quantity of now (`Work`).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import update

from app.catalog.models import ProductLink
from app.core.types import utcnow
from app.extensions import db
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.sync import claims, outbox
from app.sync.models import SyncOperation

Work = list[tuple[SyncOperation, ProductLink, int]]


def config(name: str) -> Any:
    """A KONTOR_STOCK_SYNC_* setting (BATCH, MAX_ATTEMPTS, BACKOFF_INITIAL, BACKOFF_CAP, ...)."""
    return current_app.config[f"STOCK_SYNC_{name}"]


def attempt(attempts: list[dict], integration: Integration, operation: SyncOperation, action: str, outcome: str,
            ms: int, detail: str = "") -> None:
    """Add the log row of one attempt (written with the batch's commit)."""
    attempts.append({"operation_id": operation.id, "integration_id": integration.id, "action": action[:60],
                     "outcome": outcome, "milliseconds": ms, "detail": detail[:2000], "at": utcnow()})


def retry(operation: SyncOperation, error) -> datetime | None:
    """Schedule the operation again with backoff and jitter; None once its attempts are used up (failed)."""
    return outbox.retry_later(operation, error, max_attempts=int(config("MAX_ATTEMPTS")),
                              initial=float(config("BACKOFF_INITIAL")), cap=float(config("BACKOFF_CAP")))


def failed(operation: SyncOperation, error: PlatformError, outcome: Counter) -> str:
    """Retry a retryable error while attempts last, else fail; "retry" or "failed"."""
    if error.retryable and retry(operation, error.message) is not None:
        outcome["rescheduled"] += 1
        return "retry"
    if operation.state != "failed":
        outbox.fail(operation, error.message)
    outcome["failed"] += 1
    return "failed"


class Heartbeat:
    """Keeps a long batch's claim alive: the integration's deliverer lock and the operations' lease.

    A batch of thousands of offers under load can outlast the lease (KONTOR_SYNC_LEASE_SECONDS) and
    the lock (twice that); without a beat between commands another worker would take the same
    operations, or the deliverer would lose its lock mid-batch. One Redis call and at most one
    UPDATE per third of the lease.
    """

    def __init__(self, lock, operation_ids: list[int]) -> None:
        self.lock, self.operation_ids = lock, operation_ids
        self.last = time.monotonic()

    def beat(self) -> None:
        """Extend the lock and the lease if a third of the lease has passed since the last beat."""
        lease = claims.lease_seconds()
        if self.lock is None or time.monotonic() - self.last < lease / 3:
            return
        self.lock.extend(2 * lease, replace_ttl=True)
        for start in range(0, len(self.operation_ids), 5000):
            db.session.execute(update(SyncOperation).where(
                SyncOperation.id.in_(self.operation_ids[start:start + 5000]), SyncOperation.state == "processing")
                .values(locked_until=utcnow() + timedelta(seconds=lease)).execution_options(synchronize_session=False))
        db.session.commit()
        self.last = time.monotonic()
