"""Taking outbox operations to deliver: one worker per operation, oldest first per order, leases kept alive.

A claim is a conditional UPDATE (pending and due, or processing under a lease that ran out), so two
workers never take the same row. It is refused while another operation of the same order and
integration is processing under a live lease, or an older one is still waiting: an older wish never
lands after a newer one. A lease is short and kept alive from a side thread while the worker works
(`lease_kept`); a dead worker's claims go back to pending (`reclaim_abandoned`), and the sweeper
enqueues what is `due`.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from app.core.types import utcnow
from app.extensions import db
from app.orders.models import Order
from app.sync.models import SyncOperation

log = logging.getLogger("kontor.sync")


def lease_seconds() -> float:
    """How long a claim lasts without being kept alive (KONTOR_SYNC_LEASE_SECONDS)."""
    return float(current_app.config.get("SYNC_LEASE_SECONDS", 30))


def _blocked_by_sibling(now: datetime):
    """SQL: another operation of the same order and integration goes first.

    One is being delivered under a live lease, or an older one still waits: delivering oldest
    first keeps an older wish from landing after a newer one.
    """
    other = aliased(SyncOperation)
    return exists().where(
        other.order_id == SyncOperation.order_id, other.integration_id == SyncOperation.integration_id,
        other.id != SyncOperation.id,
        or_(and_(other.state == "processing", other.locked_until >= now),
            and_(other.state == "pending", other.id < SyncOperation.id)),
    )


def claim(operation_id: int) -> SyncOperation | None:
    """Take a due operation for processing (one worker wins), or None if it is not due, taken or must wait.

    The order's row is locked first, so two workers claiming two operations of one order take
    turns: the second's conditional UPDATE runs after the first committed and sees its claim.
    """
    now = utcnow()
    # One statement: the operation's order, locked (an operation without an order locks nothing).
    db.session.execute(select(Order.id).join(SyncOperation, SyncOperation.order_id == Order.id)
                       .where(SyncOperation.id == operation_id).with_for_update(of=Order))
    claimed = db.session.execute(
        update(SyncOperation)
        .where(
            SyncOperation.id == operation_id,
            or_(
                and_(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= now),
                and_(SyncOperation.state == "processing", SyncOperation.locked_until < now),
            ),
            ~_blocked_by_sibling(now),
        )
        .values(state="processing", locked_until=now + timedelta(seconds=lease_seconds()),
                attempts=SyncOperation.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return db.session.get(SyncOperation, operation_id, populate_existing=True)


@contextmanager
def lease_kept(operation: SyncOperation) -> Iterator[None]:
    """Extend the operation's lease from a side thread while the block runs (the worker is alive).

    Each extension is a compare-and-set on the lease this worker wrote last, so once the
    operation is closed, or taken over after this process stalled, the thread stops.
    """
    # Plain values only: the thread must never touch the session (its objects expire on commit).
    engine, table, seconds = db.engine, SyncOperation.__table__, lease_seconds()
    operation_id, stop = operation.id, threading.Event()
    held = {"until": operation.locked_until}

    def keep() -> None:
        while not stop.wait(seconds / 3):
            until = utcnow() + timedelta(seconds=seconds)
            try:
                with engine.begin() as connection:
                    kept = connection.execute(
                        table.update().where(table.c.id == operation_id, table.c.state == "processing",
                                             table.c.locked_until == held["until"])
                        .values(locked_until=until)).rowcount
            except Exception as error:  # a database hiccup: try again on the next beat, the lease has room
                log.warning("could not extend the lease of sync operation %s: %s", operation_id, error)
                continue
            if not kept:
                log.debug("lease of sync operation %s no longer ours; keep-alive stops", operation_id)
                return
            held["until"] = until

    thread = threading.Thread(target=keep, name=f"lease-{operation_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def claim_batch(kind: str, integration_id: int, limit: int) -> list[SyncOperation]:
    """Take up to `limit` due operations of one kind and integration at once (batched deliveries)."""
    now = utcnow()
    in_flight = aliased(SyncOperation)
    due_ids = select(SyncOperation.id).where(
        SyncOperation.kind == kind, SyncOperation.integration_id == integration_id,
        or_(and_(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= now),
            and_(SyncOperation.state == "processing", SyncOperation.locked_until < now)),
        # One at a time per subject: not while an earlier one of it is still on its way (a worker
        # may have died with the write in flight; it lands or its lease runs out first).
        ~exists().where(in_flight.kind == kind, in_flight.subject == SyncOperation.subject,
                        in_flight.id != SyncOperation.id, in_flight.state == "processing",
                        in_flight.locked_until >= now),
    ).order_by(SyncOperation.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        due_ids = due_ids.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due_ids))
    if not ids:
        db.session.commit()
        return []
    claimed = db.session.execute(
        update(SyncOperation)
        .where(SyncOperation.id.in_(ids),
               or_(and_(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= now),
                   and_(SyncOperation.state == "processing", SyncOperation.locked_until < now)))
        .values(state="processing", locked_until=now + timedelta(seconds=lease_seconds()),
                attempts=SyncOperation.attempts + 1, updated_at=now)
        .returning(SyncOperation.id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(SyncOperation).where(SyncOperation.id.in_(claimed))
                                   .order_by(SyncOperation.id).execution_options(populate_existing=True)))


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


def due_count(kind: str, integration_id: int) -> int:
    """How many operations of one kind and integration are due now."""
    return db.session.scalar(select(func.count(SyncOperation.id)).where(
        SyncOperation.kind == kind, SyncOperation.integration_id == integration_id,
        SyncOperation.state == "pending", SyncOperation.next_attempt_at <= utcnow())) or 0


def due(limit: int = 1000) -> list[tuple[int, str]]:
    """(id, job id) of pending operations whose time has come, oldest first."""
    rows = db.session.execute(
        select(SyncOperation.id, SyncOperation.generation)
        .where(SyncOperation.state == "pending", SyncOperation.next_attempt_at <= utcnow())
        .order_by(SyncOperation.next_attempt_at)
        .limit(limit)
    ).all()
    return [(op_id, f"sync-op-{op_id}-g{generation}") for op_id, generation in rows]
