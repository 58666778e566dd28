"""What people see and do with outbox operations: lists, counts per kind, retry and cancel with a timeline note.

Works for every kind and state the outbox knows, including ones added later: a state is "active"
(pending, processing), "needs attention" (failed, conflict) or finished (everything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from app.core.errors import Conflict, NotFound
from app.core.types import utcnow
from app.extensions import db
from app.orders.services import Actor, record_event
from app.sync import outbox
from app.sync.models import SyncOperation

ACTIVE = ("pending", "processing")
ATTENTION = ("failed", "conflict")
SUCCESS = ("done", "skipped", "superseded")
OPEN_STATES = ("failed", "conflict", "pending", "processing")
STALE_AFTER = timedelta(hours=6)
RATE_WINDOW = timedelta(minutes=30)

# Kinds in the seller's words; a kind not listed here is shown by its own name.
KIND_NAMES = {"status_push": _l("Status push"), "shipment_push": _l("Shipment push"),
              "stock_update": _l("Stock update"), "alert": _l("Alert")}

# The lists behind each number of the health page.
BUCKETS = ("pending", "processing", "failed", "done_today", "stale")


def kind_name(kind: str) -> str:
    """The kind of work in words."""
    return KIND_NAMES.get(kind, kind.replace("_", " ").capitalize())


@dataclass
class KindStats:
    """The numbers of one kind of work for one integration (None: Kontor's own, e.g. alerts)."""

    integration_id: int | None
    kind: str
    pending: int = 0
    processing: int = 0
    failed: int = 0
    done_today: int = 0
    stale: int = 0
    oldest_pending_at: datetime | None = None
    finished_recently: int = 0
    failed_recently: int = 0
    last_success_at: datetime | None = None
    next_attempt_at: datetime | None = None

    @property
    def failure_rate(self) -> float | None:
        """Share of the work finished in the last 30 minutes that failed (None when nothing finished)."""
        if not self.finished_recently:
            return None
        return self.failed_recently / self.finished_recently


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def stats(now: datetime | None = None) -> list[KindStats]:
    """Per integration and kind: open, failed, done today, stale, failure rate, last success, next attempt."""
    now = now or utcnow()
    today, recent, stale_before = _start_of_day(now), now - RATE_WINDOW, now - STALE_AFTER
    op = SyncOperation
    is_pending = op.state == "pending"
    rows = db.session.execute(
        select(
            op.integration_id, op.kind,
            func.sum(case((is_pending, 1), else_=0)),
            func.sum(case((op.state == "processing", 1), else_=0)),
            func.sum(case((op.state.in_(ATTENTION), 1), else_=0)),
            func.sum(case((and_(op.state == "done", op.finished_at >= today), 1), else_=0)),
            func.sum(case((and_(is_pending, op.created_at < stale_before), 1), else_=0)),
            func.min(case((is_pending, op.created_at))),
            func.sum(case((and_(op.finished_at >= recent, op.state != "cancelled"), 1), else_=0)),
            func.sum(case((and_(op.finished_at >= recent, op.state.in_(ATTENTION)), 1), else_=0)),
            func.max(case((op.state.in_(SUCCESS), op.finished_at))),
            func.min(case((is_pending, op.next_attempt_at))),
        )
        .where(or_(op.state.in_(OPEN_STATES), op.finished_at >= min(today, recent)))
        .group_by(op.integration_id, op.kind)
    ).all()
    found = {(row[0], row[1]): KindStats(row[0], row[1], *(int(v or 0) for v in row[2:7]), as_utc(row[7]),
                                         int(row[8] or 0), int(row[9] or 0), as_utc(row[10]), as_utc(row[11]))
             for row in rows}
    # Last success of kinds that had nothing open or finished today still matters ("last pushed 3 days ago").
    for integration_id, kind, last in db.session.execute(
        select(op.integration_id, op.kind, func.max(op.finished_at)).where(op.state.in_(SUCCESS))
        .group_by(op.integration_id, op.kind)
    ).all():
        stat = found.setdefault((integration_id, kind), KindStats(integration_id, kind))
        stat.last_success_at = as_utc(last)
    return list(found.values())


def as_utc(value):
    """An aggregate's datetime made timezone-aware (aggregates skip the column type: SQLite gives naive or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


def _bucket_condition(bucket: str, now: datetime):
    op = SyncOperation
    conditions = {
        "pending": op.state == "pending",
        "processing": op.state == "processing",
        "failed": op.state.in_(ATTENTION),
        "done_today": and_(op.state == "done", op.finished_at >= _start_of_day(now)),
        "stale": and_(op.state == "pending", op.created_at < now - STALE_AFTER),
        "open": op.state.in_(OPEN_STATES),
    }
    if bucket not in conditions:
        raise Conflict(f"There is no list called “{bucket}”; choose one of {', '.join(BUCKETS)}.")
    return conditions[bucket]


def _listing_query(integration_id: int | None, kind: str | None, bucket: str, now: datetime):
    query = select(SyncOperation).where(_bucket_condition(bucket, now))
    if integration_id is not None:
        query = query.where(SyncOperation.integration_id == integration_id)
    if kind:
        query = query.where(SyncOperation.kind == kind)
    return query


def listing(integration_id: int | None, kind: str | None = None, bucket: str = "open",
            limit: int = 200) -> list[SyncOperation]:
    """The operations behind one number (oldest waiting first), at most `limit`."""
    query = _listing_query(integration_id, kind, bucket, utcnow())
    return list(db.session.scalars(query.order_by(SyncOperation.state, SyncOperation.next_attempt_at,
                                                  SyncOperation.id).limit(limit)))


# The integration list's filter: "open" (the default: what still needs delivering or a choice) or one state.
FILTERS = {"open": _l("Not delivered"), "conflict": _l("Changed on the platform"), "failed": _l("Failed"),
           "pending": _l("Waiting"), "superseded": _l("Superseded"), "skipped": _l("Skipped"), "done": _l("Delivered"),
           "cancelled": _l("Cancelled")}


def open_operations(integration_id: int, limit: int = 200) -> list[SyncOperation]:
    """Failed and waiting operations of one integration."""
    return listing(integration_id, None, "open", limit)


def operations_in(integration_id: int, shown: str, limit: int = 200) -> list[SyncOperation]:
    """One integration's operations for a FILTERS key: not delivered, or those in one state."""
    if shown == "open":
        return open_operations(integration_id, limit)
    return list(db.session.scalars(
        select(SyncOperation).where(SyncOperation.integration_id == integration_id, SyncOperation.state == shown)
        .order_by(SyncOperation.next_attempt_at.desc()).limit(limit)))


def failed_by_integration() -> list[tuple[int, int]]:
    """(integration id, number of operations needing attention), for the integrations list banner."""
    return [(i, n) for i, n in db.session.execute(
        select(SyncOperation.integration_id, func.count()).where(SyncOperation.state.in_(ATTENTION),
                                                                 SyncOperation.integration_id.is_not(None))
        .group_by(SyncOperation.integration_id)
    ).all()]


LOWER_KIND_NAMES = {"status_push": _l("status push"), "shipment_push": _l("shipment push"),
                    "stock_update": _l("stock update"), "alert": _l("alert")}


def _note(operation: SyncOperation, actor: Actor, kind: str, action: str, level: str) -> None:
    if operation.order is not None:
        target = operation.integration.name if operation.integration else "Kontor"
        what = LOWER_KIND_NAMES.get(operation.kind) or kind_name(operation.kind).lower()
        message = (_l("%(who)s asked to retry the %(what)s to %(target)s", who=actor.name, what=what, target=target)
                   if action == "retry" else
                   _l("%(who)s cancelled the %(what)s to %(target)s", who=actor.name, what=what, target=target))
        record_event(operation.order, kind, message, actor, level=level,
                     data={"operation_id": operation.id, "integration_id": operation.integration_id})


def retry(operation_id: int, actor: Actor) -> SyncOperation:
    """Send an operation again now; the order's timeline says who asked, in the same transaction."""
    try:
        operation = outbox.reopen(operation_id)
        _note(operation, actor, "push_retry_requested", "retry", "ok")
        db.session.commit()
    except (Conflict, NotFound):
        db.session.rollback()
        raise
    return operation


def cancel(operation_id: int, actor: Actor) -> SyncOperation:
    """Stop trying to deliver an operation; the timeline entry is written in the same transaction."""
    try:
        operation = outbox.give_up(operation_id)
        _note(operation, actor, "push_cancelled", "cancel", "warning")
        db.session.commit()
    except (Conflict, NotFound):
        db.session.rollback()
        raise
    return operation


def _ids(integration_id: int | None, kind: str | None, bucket: str, limit: int) -> list[int]:
    query = _listing_query(integration_id, kind, bucket, utcnow()).with_only_columns(SyncOperation.id)
    return list(db.session.scalars(query.order_by(SyncOperation.id).limit(limit)))


def retry_all(integration_id: int | None, kind: str | None, bucket: str = "failed", actor: Actor | None = None,
              limit: int = 5000) -> dict[str, int]:
    """Retry every operation behind one number; ones that moved on meanwhile are counted, not failed."""
    return _each(_ids(integration_id, kind, bucket, limit), retry, actor)


def cancel_all(integration_id: int | None, kind: str | None, bucket: str = "failed", actor: Actor | None = None,
               limit: int = 5000) -> dict[str, int]:
    """Cancel every operation behind one number."""
    return _each(_ids(integration_id, kind, bucket, limit), cancel, actor)


def _each(ids: list[int], action, actor: Actor | None) -> dict[str, int]:
    outcome = {"done": 0, "refused": 0}
    for operation_id in ids:
        try:
            action(operation_id, actor or Actor("Kontor", "automation"))
            outcome["done"] += 1
        except (Conflict, NotFound):
            outcome["refused"] += 1
    return outcome


def counts_by_kind_and_state() -> list[tuple[str, str, int]]:
    """(kind, state, number) over the whole outbox, for /metrics."""
    return [tuple(row) for row in db.session.execute(
        select(SyncOperation.kind, SyncOperation.state, func.count()).group_by(SyncOperation.kind,
                                                                                SyncOperation.state)
    ).all()]


def delivery_latencies(since: timedelta = timedelta(hours=1)) -> list[tuple[str, float]]:
    """(kind, seconds from recorded to delivered) of operations done within `since`, for /metrics."""
    rows = db.session.execute(
        select(SyncOperation.kind, SyncOperation.created_at, SyncOperation.finished_at)
        .where(SyncOperation.state == "done", SyncOperation.finished_at >= utcnow() - since).limit(20000)
    ).all()
    return [(kind, max(0.0, (as_utc(done) - as_utc(created)).total_seconds())) for kind, created, done in rows]
