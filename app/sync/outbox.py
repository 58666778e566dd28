"""The outbox: every change that must reach another system, as a row written with the change.

States: pending -> processing -> done | skipped | superseded | failed | conflict, and pending ->
cancelled. A failed operation can be retried (back to pending); a conflict waits for a person to
choose (the platform changed the order too). Superseded: a newer wish of the same order made this
one pointless before it was written.

Per order and integration, operations are delivered one at a time and oldest first (claims.py:
claims, leases, the sweeper's queries). Redis only rings the doorbell with an operation id; the row
is the ledger, so a lost job, a dead worker or a flushed Redis loses nothing: the sweeper
finds due rows and enqueues them again.

Each job id carries the operation's `generation`, bumped whenever the row goes (back) to pending,
so the same attempt is never queued twice, while a retry always gets a fresh job.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update

from app.core.errors import Conflict, KontorError, NotFound
from app.core.events import bus
from app.core.i18n import english, keep_text, message_data
from app.core.secrets import hide_secrets
from app.core.types import utcnow
from app.extensions import db
from app.sync import claims
from app.sync.models import SyncOperation

FINISHED = ("done", "skipped", "superseded", "failed", "cancelled")
OPERATION_RECORDED = "sync.operation_recorded"

MAX_ATTEMPTS = 8
BACKOFF_INITIAL = 60
BACKOFF_CAP = 3600


def record(kind: str, integration_id: int | None, payload: dict[str, Any], order_id: int | None = None, *,
           collapse: bool = True, subject: str | None = None) -> SyncOperation:
    """Add an operation in the caller's transaction; a pending one of the same kind for the order is replaced.

    Collapsing keeps only the latest wish: three quick status changes become one push of the last.
    `collapse=False` is for operations that each carry something of their own (two parcels' numbers).
    """
    now = utcnow()
    if (order_id is not None or subject is not None) and collapse:
        about = SyncOperation.order_id == order_id if order_id is not None else SyncOperation.subject == subject
        pending = db.session.scalar(
            select(SyncOperation).where(
                about, SyncOperation.kind == kind,
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
                announce(pending)
                return pending
    operation = SyncOperation(kind=kind, integration_id=integration_id, order_id=order_id, payload=payload,
                              next_attempt_at=now, subject=subject)
    db.session.add(operation)
    db.session.flush()
    if order_id is not None and collapse:
        superseded = _l("Superseded by operation #%(id)s, a newer change of the order.", id=operation.id)
        # A question the seller has not answered yet is moot once they set a newer wish.
        db.session.execute(
            update(SyncOperation)
            .where(SyncOperation.order_id == order_id, SyncOperation.kind == kind,
                   SyncOperation.integration_id == integration_id, SyncOperation.state == "conflict",
                   SyncOperation.id < operation.id)
            .values(state="superseded", finished_at=now, locked_until=None, updated_at=now,
                    result=english(superseded), message_data={"result": message_data(superseded)})
            .execution_options(synchronize_session=False))
    announce(operation)
    return operation


def record_many(kind: str, rows: list[tuple[int, dict[str, Any], str]]) -> int:
    """Add many (integration id, payload, subject) operations at once in the caller's transaction.

    Each replaces a pending one of its kind and subject, as `record` does; none rings the doorbell:
    the caller publishes one event for the batch (10,000 offers' stock must not mean 10,000 jobs).
    """
    now = utcnow()
    pending: dict[tuple[int, str], int] = {}
    subjects = sorted({subject for _, _, subject in rows})
    for start in range(0, len(subjects), 5000):
        pending.update({(integration_id, subject): op_id for op_id, integration_id, subject in db.session.execute(
            select(SyncOperation.id, SyncOperation.integration_id, SyncOperation.subject).where(
                SyncOperation.kind == kind, SyncOperation.state == "pending",
                SyncOperation.subject.in_(subjects[start:start + 5000])))})
    new_rows = []
    for integration_id, payload, subject in rows:
        op_id = pending.get((integration_id, subject))
        if op_id is not None and db.session.execute(
                update(SyncOperation).where(SyncOperation.id == op_id, SyncOperation.state == "pending")
                .values(payload=payload, next_attempt_at=now, generation=SyncOperation.generation + 1, attempts=0,
                        last_error="", updated_at=now)
                .execution_options(synchronize_session=False)).rowcount:
            continue
        new_rows.append({"kind": kind, "integration_id": integration_id, "payload": payload, "subject": subject,
                         "state": "pending", "next_attempt_at": now, "created_at": now, "updated_at": now})
    if new_rows:
        db.session.execute(insert(SyncOperation), new_rows)
    return len(rows)


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


def announce(operation: SyncOperation) -> None:
    """Ring the doorbell for an operation once the transaction commits (its current job id)."""
    bus.publish(db.session, OPERATION_RECORDED, {"operation_id": operation.id, "job_id": operation.job_id,
                                                 "kind": operation.kind})


def _keep(operation: SyncOperation, result=None, error=None) -> None:
    """Store result and last error (a lazy message keeps its key, to be shown in the reader's language)."""
    for field, message in (("result", result), ("last_error", error)):
        if message is not None:
            text, operation.message_data = keep_text(operation.message_data, field, message, hide_secrets)
            setattr(operation, field, text)


def finish(operation: SyncOperation, state: str, result="") -> None:
    """Close an operation as done, skipped or superseded (the caller commits)."""
    assert state in ("done", "skipped", "superseded")
    operation.state = state
    _keep(operation, result, "")
    operation.finished_at, operation.locked_until = utcnow(), None


def hold_for_choice(operation: SyncOperation, result, data: dict[str, Any]) -> None:
    """Park an operation as a conflict until a person chooses (the caller commits)."""
    operation.state = "conflict"
    _keep(operation, result, "")
    operation.payload = {**operation.payload, "conflict": data}
    operation.locked_until = None
    operation.attempts = max(0, operation.attempts - 1)


def wait_for_reconnect(operation: SyncOperation, error, recheck_seconds: float = 300) -> None:
    """Back to pending without spending an attempt: the account must be connected again first."""
    operation.state, operation.locked_until = "pending", None
    _keep(operation, error=error)
    operation.attempts = max(0, operation.attempts - 1)
    operation.generation += 1
    operation.next_attempt_at = utcnow() + timedelta(seconds=recheck_seconds)


def wake_integration(integration_id: int) -> int:
    """Make an integration's waiting operations due now (after a reconnect); the caller commits."""
    operations = db.session.scalars(select(SyncOperation).where(
        SyncOperation.integration_id == integration_id, SyncOperation.state == "pending")).all()
    for operation in operations:
        operation.next_attempt_at = utcnow()
        operation.generation += 1
        announce(operation)
    return len(operations)


def wake_next(operation: SyncOperation) -> None:
    """Ring the doorbell for the order's next waiting operation (its job was refused while this one ran)."""
    if operation.order_id is None:
        return
    following = db.session.scalar(select(SyncOperation).where(
        SyncOperation.order_id == operation.order_id, SyncOperation.integration_id == operation.integration_id,
        SyncOperation.state == "pending", SyncOperation.id != operation.id,
        SyncOperation.next_attempt_at <= utcnow()).order_by(SyncOperation.id).limit(1))
    if following is not None:
        following.generation += 1  # a fresh job id: the refused job with the old one has finished
        announce(following)


def deliver_in_turn(operation_id: int, work: Callable[[SyncOperation], str]) -> str:
    """Claim an operation of an order, run `work` under a kept lease, then ring for the order's next one."""
    operation = claims.claim(operation_id)
    if operation is None:
        return "not due, already handled, or waiting for an earlier push of the order"
    with claims.lease_kept(operation):
        outcome = work(operation)
    wake_next(operation)
    db.session.commit()
    return outcome


def newer_operation(operation: SyncOperation) -> SyncOperation | None:
    """The latest operation of the same kind for the same order and integration, if newer than this one."""
    if operation.order_id is None:
        return None
    return db.session.scalar(select(SyncOperation).where(
        SyncOperation.order_id == operation.order_id, SyncOperation.integration_id == operation.integration_id,
        SyncOperation.kind == operation.kind, SyncOperation.id > operation.id)
        .order_by(SyncOperation.id.desc()).limit(1))


def backoff(attempt: int, initial: float = BACKOFF_INITIAL) -> float:
    """Seconds before retry number `attempt`: 60 s doubling to a 1 h cap, with ±25% jitter."""
    base = min(BACKOFF_CAP, initial * 2 ** max(0, attempt - 1))
    return min(BACKOFF_CAP, base * random.uniform(0.75, 1.25))


def retry_later(operation: SyncOperation, error, *, max_attempts: int | None = None,
                initial: float | None = None, cap: float | None = None) -> datetime | None:
    """Reschedule after a transient failure; after MAX_ATTEMPTS it fails. Returns the next attempt time.

    A kind with its own settings (stock updates: KONTOR_STOCK_SYNC_*) passes its limits.
    """
    _keep(operation, error=error)
    operation.locked_until = None
    if operation.attempts >= (max_attempts or MAX_ATTEMPTS):
        operation.state, operation.finished_at = "failed", utcnow()
        return None
    operation.state = "pending"
    operation.generation += 1
    if initial is None:
        initial = float(current_app.config.get("SYNC_BACKOFF_INITIAL", BACKOFF_INITIAL))
    delay = backoff(operation.attempts, initial)
    if cap is not None:
        delay = min(delay, cap)
    operation.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return operation.next_attempt_at


def fail(operation: SyncOperation, error) -> None:
    """Mark an operation failed at once (the platform refused it for good)."""
    operation.state = "failed"
    _keep(operation, error=error)
    operation.finished_at, operation.locked_until = utcnow(), None


# What a person may do with an operation in each state, and why not otherwise (in words).
RETRYABLE = ("failed", "skipped", "pending", "cancelled", "conflict")
CANCELLABLE = ("failed", "pending", "conflict")
WHY_NOT = {
    "done": _l("it was delivered already"),
    "processing": _l("it is being delivered right now; wait a moment for the outcome"),
    "superseded": _l("a newer change replaced it, and the newer one is delivered instead"),
    "cancelled": _l("it is cancelled already"),
    "skipped": _l("it was closed as skipped, so nothing is waiting to be cancelled"),
}


def _refusal(operation: SyncOperation | None, what: str, operation_id: int) -> KontorError:
    if operation is None:
        return NotFound(_l("Operation %(id)s does not exist (any more).", id=operation_id))
    reason = WHY_NOT.get(operation.state) or _l("it is %(state)s", state=operation.state)
    if what == "retried":
        return Conflict(_l("This operation cannot be retried: %(reason)s.", reason=reason))
    return Conflict(_l("This operation cannot be cancelled: %(reason)s.", reason=reason))


def reopen(operation_id: int) -> SyncOperation:
    """Put an operation back in the queue with a fresh set of attempts (the caller commits), or Conflict."""
    operation = db.session.get(SyncOperation, operation_id, with_for_update=True)
    if operation is None or operation.state not in RETRYABLE:
        raise _refusal(operation, "retried", operation_id)
    operation.state, operation.attempts, operation.next_attempt_at = "pending", 0, utcnow()
    operation.generation += 1
    operation.finished_at, operation.locked_until = None, None
    _keep(operation, "", "")
    announce(operation)
    return operation


def give_up(operation_id: int) -> SyncOperation:
    """Stop trying to deliver an operation (the caller commits), or Conflict saying why not."""
    operation = db.session.get(SyncOperation, operation_id, with_for_update=True)
    if operation is None or operation.state not in CANCELLABLE:
        raise _refusal(operation, "cancelled", operation_id)
    operation.state, operation.finished_at, operation.locked_until = "cancelled", utcnow(), None
    return operation
