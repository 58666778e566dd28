"""The kinds of background work the health page watches, each with its numbers, lists, retry and cancel.

Outbox operations (any kind, any state, see app/sync/operations.py), inbound deliveries (order
import and webhook processing), supplier feed imports and availability syncs (the run log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from app.core.errors import Conflict, NotFound
from app.core.events import bus
from app.core.types import utcnow
from app.extensions import db
from app.inbound import ledger
from app.inbound.models import InboundEvent
from app.integrations.models import IntegrationRun
from app.orders.services import Actor
from app.suppliers import imports
from app.suppliers.models import FeedImport
from app.sync import operations, outbox
from app.sync.operations import RATE_WINDOW, STALE_AFTER, KindStats, as_utc

# Deliveries platforms push to us; everything else in the inbound ledger (polled orders, event journals,
# order imports) is "order import".
WEBHOOK_KINDS = ("shopify", "woocommerce", "generic")
ORDER_IMPORT, WEBHOOK, FEED_IMPORT, AVAILABILITY = "order_import", "webhook", "feed_import", "availability_sync"
NAMES = {ORDER_IMPORT: _l("Order import"), WEBHOOK: _l("Webhook processing"), FEED_IMPORT: _l("Feed import"),
         AVAILABILITY: _l("Availability sync")}
# Published when someone asks for an availability sync again; app/jobs enqueues it after the commit.
AVAILABILITY_SYNC_REQUESTED = "stock.availability_sync_requested"


def kind_name(kind: str) -> str:
    """Any kind of work in words."""
    return NAMES.get(kind) or operations.kind_name(kind)


@dataclass(frozen=True)
class Item:
    """One row of a list behind a number, the same shape whatever the kind of work."""

    id: int
    kind: str
    state: str
    what: str
    error: str
    attempts: int
    at: datetime | None
    can_retry: bool
    can_cancel: bool
    order_id: int | None = None


def _today(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


# --- outbox ---------------------------------------------------------------------------------------


def _operation_what(operation) -> str:
    payload = operation.payload or {}
    if operation.order is not None:
        detail = payload.get("to_status") or payload.get("tracking_number") or ""
        return (_l("Order %(number)s: %(detail)s", number=operation.order.number, detail=detail) if detail
                else _l("Order %(number)s", number=operation.order.number))
    return str(payload.get("title") or payload.get("sku") or payload.get("offer_id")
               or _l("Operation %(id)s", id=operation.id))


def _outbox_items(integration_id, kind, bucket, limit) -> list[Item]:
    return [Item(op.id, op.kind, op.state, _operation_what(op), op.error_text, op.attempts,
                 op.next_attempt_at if op.state == "pending" else op.finished_at or op.updated_at,
                 op.state in outbox.RETRYABLE, op.state in outbox.CANCELLABLE, op.order_id)
            for op in operations.listing(integration_id, kind, bucket, limit)]


# --- inbound deliveries ---------------------------------------------------------------------------


def _inbound_kind():
    return case((or_(InboundEvent.delivery_id.like("poll:%"), InboundEvent.kind.not_in(WEBHOOK_KINDS)),
                 ORDER_IMPORT), else_=WEBHOOK)


def _inbound_stats(now: datetime) -> list[KindStats]:
    event, kind = InboundEvent, _inbound_kind()
    waiting = and_(event.state == "received", or_(event.locked_until.is_(None), event.locked_until < now))
    finished = event.state.in_(("processed", "ignored", "failed"))
    recent = event.received_at >= now - RATE_WINDOW
    rows = db.session.execute(select(
        event.integration_id, kind,
        func.sum(case((waiting, 1), else_=0)),
        func.sum(case((and_(event.state.in_(("received", "failed")), event.locked_until >= now), 1), else_=0)),
        func.sum(case((and_(event.state == "failed", or_(event.locked_until.is_(None), event.locked_until < now)),
                       1), else_=0)),
        func.sum(case((and_(event.state.in_(("processed", "ignored")), event.processed_at >= _today(now)), 1),
                      else_=0)),
        func.sum(case((and_(waiting, event.received_at < now - STALE_AFTER), 1), else_=0)),
        func.min(case((waiting, event.received_at))),
        func.sum(case((and_(recent, finished), 1), else_=0)),
        func.sum(case((and_(recent, event.state == "failed"), 1), else_=0)),
        func.max(event.processed_at),
        func.min(case((event.state.in_(("received", "failed")), event.next_attempt_at))),
    ).group_by(event.integration_id, kind)).all()
    return [KindStats(r[0], r[1], *(int(v or 0) for v in r[2:7]), as_utc(r[7]), int(r[8] or 0), int(r[9] or 0),
                      as_utc(r[10]), as_utc(r[11])) for r in rows]


def _inbound_query(integration_id, kind, bucket, now):
    event = InboundEvent
    waiting = and_(event.state == "received", or_(event.locked_until.is_(None), event.locked_until < now))
    conditions = {
        "pending": waiting,
        "processing": and_(event.state.in_(("received", "failed")), event.locked_until >= now),
        "failed": event.state == "failed",
        "done_today": and_(event.state.in_(("processed", "ignored")), event.processed_at >= _today(now)),
        "stale": and_(waiting, event.received_at < now - STALE_AFTER),
    }
    if bucket not in conditions:
        raise Conflict(_l("There is no list called “%(bucket)s”.", bucket=bucket))
    query = select(event).where(conditions[bucket], _inbound_kind() == kind)
    return query.where(event.integration_id == integration_id) if integration_id is not None else query


def _inbound_items(integration_id, kind, bucket, limit) -> list[Item]:
    query = _inbound_query(integration_id, kind, bucket, utcnow())
    return [Item(e.id, kind, e.state, f"{e.topic or e.kind} {e.resource_id}".strip(), e.error_text, e.attempts,
                 e.received_at, e.state in ("failed", "received"), e.state in ("failed", "received"), e.order_id)
            for e in db.session.scalars(query.order_by(InboundEvent.id).limit(limit))]


def _inbound_retry(event_id: int, actor: Actor) -> None:
    event = db.session.get(InboundEvent, event_id)
    if event is None:
        raise NotFound(_l("That delivery no longer exists."))
    if event.state not in ("failed", "received"):
        raise Conflict(_l("This delivery cannot be processed again from here: it is %(state)s already.",
                          state=event.state))
    ledger.reprocess(event.integration_id, event_id)


def _inbound_cancel(event_id: int, actor: Actor) -> None:
    event = db.session.get(InboundEvent, event_id)
    if event is None:
        raise NotFound(_l("That delivery no longer exists."))
    if event.state not in ("failed", "received"):
        raise Conflict(_l("This delivery cannot be cancelled: it is %(state)s already.", state=event.state))
    if event.locked_until is not None and event.locked_until >= utcnow():
        raise Conflict(_l("This delivery is being processed right now; wait a moment for the outcome."))
    ledger.close(event, "ignored", f"Cancelled by {actor.name}; not applied.")
    db.session.commit()


# --- supplier feed imports --------------------------------------------------------------------------


def _feed_stats(now: datetime) -> list[KindStats]:
    fi = FeedImport
    active = fi.state.in_(imports.ACTIVE_STATES)
    recent = fi.finished_at >= now - RATE_WINDOW
    rows = db.session.execute(select(
        fi.feed_id,
        func.sum(case((fi.state == "queued", 1), else_=0)),
        func.sum(case((fi.state.in_(("reading", "importing")), 1), else_=0)),
        func.sum(case((and_(fi.state == "failed", fi.id == _latest_import_id()), 1), else_=0)),
        func.sum(case((and_(fi.state == "done", fi.finished_at >= _today(now)), 1), else_=0)),
        func.sum(case((and_(active, fi.started_at < now - STALE_AFTER), 1), else_=0)),
        func.min(case((active, fi.started_at))),
        func.sum(case((recent, 1), else_=0)),
        func.sum(case((and_(recent, fi.state == "failed"), 1), else_=0)),
        func.max(case((fi.state == "done", fi.finished_at))),
    ).group_by(fi.feed_id)).all()
    return [KindStats(r[0], FEED_IMPORT, *(int(v or 0) for v in r[1:6]), as_utc(r[6]), int(r[7] or 0),
                      int(r[8] or 0), as_utc(r[9])) for r in rows]


def _latest_import_id():
    # Only a feed's latest import counts as failed: a later good import fixed an earlier failure.
    latest = FeedImport.__table__.alias("latest_import")
    return select(func.max(latest.c.id)).where(latest.c.integration_id == FeedImport.feed_id) \
        .correlate(FeedImport).scalar_subquery()


def _feed_items(integration_id, kind, bucket, limit) -> list[Item]:
    fi, now = FeedImport, utcnow()
    conditions = {
        "pending": fi.state == "queued",
        "processing": fi.state.in_(("reading", "importing")),
        "failed": and_(fi.state == "failed", fi.id == _latest_import_id()),
        "done_today": and_(fi.state == "done", fi.finished_at >= _today(now)),
        "stale": and_(fi.state.in_(imports.ACTIVE_STATES), fi.started_at < now - STALE_AFTER),
    }
    if bucket not in conditions:
        raise Conflict(_l("There is no list called “%(bucket)s”.", bucket=bucket))
    query = select(fi).where(conditions[bucket])
    if integration_id is not None:
        query = query.where(fi.feed_id == integration_id)
    return [Item(f.id, FEED_IMPORT, f.state, f"{f.feed.name}: {f.rows_read} rows", f.error, 1,
                 f.finished_at or f.started_at, f.state == "failed", False)
            for f in db.session.scalars(query.order_by(fi.id.desc()).limit(limit))]


def _feed_retry(import_id: int, actor: Actor) -> None:
    feed_import = imports.get_import(import_id)
    if feed_import.state != "failed":
        raise Conflict(_l("Only a failed import can be retried; this one is %(state)s.", state=feed_import.state))
    imports.queue_import(feed_import.feed_id)


def _no_cancel(item_id: int, actor: Actor) -> None:
    raise Conflict(_l("This kind of work cannot be cancelled; it finishes or fails by itself."))


# --- availability syncs (the run log) --------------------------------------------------------------


def _runs_stats(now: datetime) -> list[KindStats]:
    run = IntegrationRun
    recent = run.started_at >= now - RATE_WINDOW
    rows = db.session.execute(select(
        run.integration_id,
        func.sum(case((and_(run.ok.is_(False), run.id == _latest_run_id()), 1), else_=0)),
        func.sum(case((and_(run.ok.is_(True), run.started_at >= _today(now)), 1), else_=0)),
        func.sum(case((recent, 1), else_=0)),
        func.sum(case((and_(recent, run.ok.is_(False)), 1), else_=0)),
        func.max(case((run.ok.is_(True), run.finished_at))),
    ).where(run.kind == AVAILABILITY).group_by(run.integration_id)).all()
    return [KindStats(r[0], AVAILABILITY, failed=int(r[1] or 0), done_today=int(r[2] or 0),
                      finished_recently=int(r[3] or 0), failed_recently=int(r[4] or 0), last_success_at=as_utc(r[5]))
            for r in rows]


def _latest_run_id():
    latest = IntegrationRun.__table__.alias("latest_run")
    return select(func.max(latest.c.id)).where(latest.c.integration_id == IntegrationRun.integration_id,
                                               latest.c.kind == AVAILABILITY).correlate(IntegrationRun) \
        .scalar_subquery()


def _runs_items(integration_id, kind, bucket, limit) -> list[Item]:
    run, now = IntegrationRun, utcnow()
    conditions = {"failed": and_(run.ok.is_(False), run.id == _latest_run_id()),
                  "done_today": and_(run.ok.is_(True), run.started_at >= _today(now))}
    if bucket not in conditions:
        return []
    query = select(run).where(run.kind == AVAILABILITY, conditions[bucket])
    if integration_id is not None:
        query = query.where(run.integration_id == integration_id)
    return [Item(r.id, AVAILABILITY, "done" if r.ok else "failed",
                 ", ".join(f"{v} {k}" for k, v in (r.counts or {}).items()) or "sync", "" if r.ok else r.text,
                 1, r.finished_at or r.started_at, not r.ok, False)
            for r in db.session.scalars(query.order_by(run.id.desc()).limit(limit))]


def _runs_retry(run_id: int, actor: Actor) -> None:
    run = db.session.get(IntegrationRun, run_id)
    if run is None or run.kind != AVAILABILITY:
        raise NotFound(_l("That availability sync is not in the run log."))
    if run.ok:
        raise Conflict(_l("This availability sync succeeded; there is nothing to retry."))
    bus.publish(db.session, AVAILABILITY_SYNC_REQUESTED, {"integration_id": run.integration_id})
    db.session.commit()


# --- the registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One family of background work: how to count it, list it, retry and cancel it."""

    name: str
    stats: Callable[[datetime], list[KindStats]]
    items: Callable[[int | None, str, str, int], list[Item]]
    retry: Callable[[int, Actor], Any]
    cancel: Callable[[int, Actor], Any]
    kinds: tuple[str, ...] = ()  # empty: every kind not claimed by another source (the outbox's)


SOURCES = (
    Source("inbound", _inbound_stats, _inbound_items, _inbound_retry, _inbound_cancel, (ORDER_IMPORT, WEBHOOK)),
    Source("feeds", _feed_stats, _feed_items, _feed_retry, _no_cancel, (FEED_IMPORT,)),
    Source("runs", _runs_stats, _runs_items, _runs_retry, _no_cancel, (AVAILABILITY,)),
    Source("outbox", operations.stats, _outbox_items,
           lambda op_id, actor: operations.retry(op_id, actor), lambda op_id, actor: operations.cancel(op_id, actor)),
)


def source_for(kind: str) -> Source:
    """The source that owns a kind of work (the outbox owns every kind the others do not name)."""
    for source in SOURCES:
        if kind in source.kinds:
            return source
    return SOURCES[-1]


def all_stats(now: datetime | None = None) -> list[KindStats]:
    """The numbers of every kind of work of every integration."""
    now = now or utcnow()
    return [stat for source in SOURCES for stat in source.stats(now)]


def items(integration_id: int | None, kind: str, bucket: str, limit: int = 200) -> list[Item]:
    """The rows behind one number."""
    return source_for(kind).items(integration_id, kind, bucket, limit)


def retry(kind: str, item_id: int, actor: Actor) -> None:
    """Retry one item of a kind of work; Conflict (409) with the reason when it cannot be."""
    source_for(kind).retry(item_id, actor)


def cancel(kind: str, item_id: int, actor: Actor) -> None:
    """Cancel one item of a kind of work; Conflict with the reason when it cannot be."""
    source_for(kind).cancel(item_id, actor)


def act_on_all(action: str, integration_id: int | None, kind: str, bucket: str, actor: Actor,
               limit: int = 5000) -> dict[str, int]:
    """Retry or cancel every item behind one number; items that moved on meanwhile count as refused."""
    source = source_for(kind)
    run = source.retry if action == "retry" else source.cancel
    outcome = {"done": 0, "refused": 0}
    for item in source.items(integration_id, kind, bucket, limit):
        try:
            run(item.id, actor)
            outcome["done"] += 1
        except (Conflict, NotFound):
            db.session.rollback()
            outcome["refused"] += 1
    return outcome
