"""The outbox: every change that must reach another system, as a row written with the change.

States: pending -> processing -> done | skipped | failed, and pending -> cancelled. A failed
operation can be retried (back to pending). Redis only rings the doorbell with an operation id;
the row is the ledger, so a lost job, a dead worker or a flushed Redis loses nothing: the sweeper
finds due rows and enqueues them again.

Each job id carries the operation's `generation`, bumped whenever the row goes (back) to pending,
so the same attempt is never queued twice, while a retry always gets a fresh job.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Index, String, Text, and_, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.events import bus
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.orders.models import Order

FINISHED = ("done", "skipped", "failed", "cancelled")
OPERATION_RECORDED = "sync.operation_recorded"

MAX_ATTEMPTS = 8
BACKOFF_INITIAL = 60
BACKOFF_CAP = 3600


class SyncOperation(db.Model):
    __tablename__ = "sync_operations"
    __table_args__ = (
        Index("ix_sync_operations_due", "state", "next_attempt_at"),
        Index("ix_sync_operations_order_kind", "order_id", "kind", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    generation: Mapped[int] = mapped_column(default=1)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    integration: Mapped[Integration] = relationship()
    order: Mapped[Order | None] = relationship()

    @property
    def job_id(self) -> str:
        """The RQ job id for this attempt (letters, digits, dashes only)."""
        return f"sync-op-{self.id}-g{self.generation}"


def record(kind: str, integration_id: int, payload: dict[str, Any], order_id: int | None = None, *,
           collapse: bool = True) -> SyncOperation:
    """Add an operation in the caller's transaction; a pending one of the same kind for the order is replaced.

    Collapsing keeps only the latest wish: three quick status changes become one push of the last.
    `collapse=False` is for operations that each carry something of their own (two parcels' numbers).
    """
    now = utcnow()
    if order_id is not None and collapse:
        pending = db.session.scalar(
            select(SyncOperation).where(
                SyncOperation.order_id == order_id, SyncOperation.kind == kind,
                SyncOperation.integration_id == integration_id, SyncOperation.state == "pending",
            ).order_by(SyncOperation.id.desc())
        )
        if pending is not None:
            # Conditional, so a worker that claims the row at this moment keeps a consistent payload.
            changed = db.session.execute(
                update(SyncOperation)
                .where(SyncOperation.id == pending.id, SyncOperation.state == "pending")
                .values(payload=payload, next_attempt_at=now, generation=SyncOperation.generation + 1,
                        attempts=0, last_error="", updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed:
                db.session.refresh(pending)
                _announce(pending)
                return pending
    operation = SyncOperation(kind=kind, integration_id=integration_id, order_id=order_id, payload=payload,
                              next_attempt_at=now)
    db.session.add(operation)
    db.session.flush()
    _announce(operation)
    return operation


# kind -> the function that delivers one operation of that kind (by id), returning the outcome in words.
DELIVERERS: dict[str, Callable[[int], str]] = {}


def delivers(kind: str) -> Callable[[Callable[[int], str]], Callable[[int], str]]:
    """Register the decorated function as the deliverer of operations of `kind`."""

    def register(func: Callable[[int], str]) -> Callable[[int], str]:
        DELIVERERS[kind] = func
        return func

    return register


def deliver(operation_id: int) -> str:
    """Hand one operation to the deliverer of its kind."""
    kind = db.session.scalar(select(SyncOperation.kind).where(SyncOperation.id == operation_id))
    if kind is None:
        return "the operation no longer exists"
    if kind not in DELIVERERS:
        raise LookupError(f"No deliverer registered for sync operations of kind {kind!r}.")
    return DELIVERERS[kind](operation_id)


def _announce(operation: SyncOperation) -> None:
    bus.publish(db.session, OPERATION_RECORDED, {"operation_id": operation.id, "job_id": operation.job_id,
                                                 "kind": operation.kind})


def lease_seconds() -> int:
    return int(current_app.config.get("SYNC_LEASE_SECONDS", 300))


def claim(operation_id: int) -> SyncOperation | None:
    """Take a due operation for processing (one worker wins), or None if it is not due or taken."""
    now = utcnow()
    claimed = db.session.execute(
        update(SyncOperation)
        .where(
            SyncOperation.id == operation_id,
            or_(
                and_(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= now),
                and_(SyncOperation.state == "processing", SyncOperation.locked_until < now),
            ),
        )
        .values(state="processing", locked_until=now + timedelta(seconds=lease_seconds()),
                attempts=SyncOperation.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return db.session.get(SyncOperation, operation_id, populate_existing=True)


def finish(operation: SyncOperation, state: str, result: str = "") -> None:
    """Close an operation as done or skipped (the caller commits)."""
    assert state in ("done", "skipped")
    operation.state, operation.result, operation.last_error = state, result, ""
    operation.finished_at, operation.locked_until = utcnow(), None


def backoff(attempt: int, initial: float = BACKOFF_INITIAL) -> float:
    """Seconds before retry number `attempt`: 60 s doubling to a 1 h cap, with ±25% jitter."""
    base = min(BACKOFF_CAP, initial * 2 ** max(0, attempt - 1))
    return min(BACKOFF_CAP, base * random.uniform(0.75, 1.25))


def retry_later(operation: SyncOperation, error: str) -> datetime | None:
    """Reschedule after a transient failure; after MAX_ATTEMPTS it fails. Returns the next attempt time."""
    operation.last_error = error
    operation.locked_until = None
    if operation.attempts >= MAX_ATTEMPTS:
        operation.state, operation.finished_at = "failed", utcnow()
        return None
    operation.state = "pending"
    operation.generation += 1
    initial = float(current_app.config.get("SYNC_BACKOFF_INITIAL", BACKOFF_INITIAL))
    operation.next_attempt_at = utcnow() + timedelta(seconds=backoff(operation.attempts, initial))
    return operation.next_attempt_at


def fail(operation: SyncOperation, error: str) -> None:
    """Mark an operation failed at once (the platform refused it for good)."""
    operation.state, operation.last_error = "failed", error
    operation.finished_at, operation.locked_until = utcnow(), None


def retry_now(operation_id: int) -> SyncOperation:
    """Put a failed, skipped or waiting operation back in the queue with a fresh set of attempts."""
    operation = db.session.get(SyncOperation, operation_id)
    if operation is None or operation.state not in ("failed", "skipped", "pending", "cancelled"):
        raise ValueError("Only failed, skipped, waiting or cancelled operations can be retried.")
    operation.state, operation.attempts, operation.next_attempt_at = "pending", 0, utcnow()
    operation.generation += 1
    operation.finished_at, operation.result, operation.last_error = None, "", ""
    _announce(operation)
    db.session.commit()
    return operation


def cancel(operation_id: int) -> SyncOperation:
    """Give up on an operation that has not been delivered."""
    operation = db.session.get(SyncOperation, operation_id)
    if operation is None or operation.state not in ("failed", "pending"):
        raise ValueError("Only failed or waiting operations can be cancelled.")
    operation.state, operation.finished_at = "cancelled", utcnow()
    db.session.commit()
    return operation


def reclaim_abandoned() -> int:
    """Return operations whose worker died mid-processing to pending, with a new generation."""
    now = utcnow()
    count = db.session.execute(
        update(SyncOperation)
        .where(SyncOperation.state == "processing", SyncOperation.locked_until < now)
        .values(state="pending", generation=SyncOperation.generation + 1, next_attempt_at=now,
                locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


def due(limit: int = 1000) -> list[tuple[int, str]]:
    """(id, job id) of pending operations whose time has come, oldest first."""
    rows = db.session.execute(
        select(SyncOperation.id, SyncOperation.generation)
        .where(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= utcnow())
        .order_by(SyncOperation.next_attempt_at)
        .limit(limit)
    ).all()
    return [(op_id, f"sync-op-{op_id}-g{generation}") for op_id, generation in rows]
