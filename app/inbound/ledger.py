"""The inbound ledger's state machine: record a delivery once, claim it, close it, retry it.

received -> processed | ignored | failed; failed -> received again (retry with backoff, or
Reprocess). Redis only rings the doorbell with the event id: a delivery is stored (and committed)
before its job is enqueued, so a lost job or a dead worker loses nothing: the sweeper finds due
events and enqueues them again.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.core.errors import NotFound
from app.core.events import bus
from app.core.i18n import keep_text
from app.core.types import utcnow
from app.core.upsert import insert_many_or_nothing, insert_or_nothing, insert_or_update
from app.extensions import db
from app.inbound.models import InboundEvent, WebhookRejection

EVENT_RECORDED = "inbound.event_recorded"
# A webhook delivery stored by store_delivery (committed already): its job may be started a moment later.
DELIVERY_STORED = "inbound.delivery_stored"
# Deliveries stored together and applied by one job (Allegro checkout forms fetched in bulk).
BATCH_RECORDED = "inbound.batch_recorded"
BATCH_SIZE = 100
MAX_ATTEMPTS = 8
BACKOFF_INITIAL = 60
BACKOFF_CAP = 3600
# Headers never kept: they authenticate a session, not a delivery.
DROPPED_HEADERS = {"cookie", "authorization", "proxy-authorization"}


@dataclass(frozen=True)
class Recorded:
    event_id: int
    duplicate: bool


def _clean_headers(headers: dict[str, str]) -> dict[str, str]:
    return {key: _text(value) for key, value in headers.items() if key.lower() not in DROPPED_HEADERS}


def _text(value: str, length: int | None = None) -> str:
    # A NUL (a JSON "\u0000" in an order id, say) fits no text column; it carries no meaning, so it goes.
    return value.replace("\x00", "")[:length]


def record(integration_id: int, kind: str, delivery_id: str, body: bytes, headers: dict[str, str], *,
           topic: str = "", resource_id: str = "", occurred_at: datetime | None = None,
           run_id: int | None = None) -> Recorded:
    """Store a delivery and commit; a delivery id already stored is not stored (or processed) again.

    `run_id`: the import run that fetched it, whose history sums what applying it did.
    """
    now = utcnow()
    try:
        event_id = insert_or_nothing(db.session, InboundEvent.__table__, {
            "integration_id": integration_id, "delivery_id": _text(delivery_id, 255), "kind": kind,
            "topic": _text(topic, 60), "resource_id": _text(resource_id, 100), "occurred_at": occurred_at,
            "headers": _clean_headers(headers),
            "body": body, "state": "received", "attempts": 0, "next_attempt_at": now, "error": "", "result": "",
            "received_at": now, "run_id": run_id,
        }, ("integration_id", "delivery_id"), InboundEvent.id)
        if event_id is None:
            existing = db.session.scalar(select(InboundEvent.id).where(
                InboundEvent.integration_id == integration_id, InboundEvent.delivery_id == _text(delivery_id, 255)))
            db.session.commit()
            return Recorded(existing, True)
        bus.publish(db.session, EVENT_RECORDED, {"event_id": event_id, "job_id": f"inbound-event-{event_id}-a0"})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return Recorded(event_id, False)


# What a webhook delivery brings; the rest of its row is the same for every delivery (see _DeliveryWriter).
_STORE_COLUMNS = ("integration_id", "delivery_id", "kind", "topic", "resource_id", "occurred_at", "headers", "body",
                  "received_at")


class _DeliveryWriter:
    """One autocommitted INSERT ... ON CONFLICT DO NOTHING RETURNING id per webhook delivery, straight on the driver.

    Through the session a delivery cost four round trips (ping, BEGIN, INSERT, COMMIT) and about as
    much Python as the rest of the request; here it is one round trip, with the SQL compiled once
    and each value converted by its column type's own bind processor. Each thread keeps its own
    connection and cursor (a pool checkout and return per delivery cost as much as the INSERT's
    parameters); one found dead is replaced and the INSERT tried once more (it is idempotent).
    """

    def __init__(self, url: sa.URL) -> None:
        self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        dialect, table = self.engine.dialect, InboundEvent.__table__
        received_at = sa.bindparam("received_at", type_=table.c.received_at.type)
        values = {name: sa.bindparam(name, type_=table.c[name].type) for name in _STORE_COLUMNS}
        # The fixed values are written into the SQL, and the due time is the arrival time: fewer parameters to send.
        values |= {"received_at": received_at, "next_attempt_at": received_at, "state": sa.literal_column("'received'"),
                   "attempts": sa.literal_column("0"), "error": sa.literal_column("''"),
                   "result": sa.literal_column("''")}
        statement = ((postgresql if dialect.name == "postgresql" else sqlite).insert(table).values(values)
                     .on_conflict_do_nothing(index_elements=["integration_id", "delivery_id"])
                     .returning(table.c.id))
        self.insert_sql = statement.compile(dialect=dialect)
        self.processors = [(name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
                           for name in _STORE_COLUMNS]
        self.existing_sql = select(table.c.id).where(
            table.c.integration_id == sa.bindparam("integration_id"),
            table.c.delivery_id == sa.bindparam("delivery_id")).compile(dialect=dialect)
        self.local = threading.local()

    def insert(self, row: dict[str, Any]) -> int | None:
        """The new row's id, or None if the delivery id is stored already."""
        params = {name: processor(row[name]) if processor else row[name] for name, processor in self.processors}
        found = self._fetchone(self.insert_sql, params)
        return found[0] if found else None

    def stored_id(self, integration_id: int, delivery_id: str) -> int | None:
        """The id under which that delivery is stored."""
        found = self._fetchone(self.existing_sql, {"integration_id": integration_id, "delivery_id": delivery_id})
        return found[0] if found else None

    def _fetchone(self, compiled: Any, params: dict[str, Any]) -> Any:
        if compiled.positiontup is not None:
            params = tuple(params[name] for name in compiled.positiontup)
        for attempt in (1, 2):
            if getattr(self.local, "cursor", None) is None:
                self.local.connection = self.engine.raw_connection()
                self.local.cursor = self.local.connection.cursor()
            cursor = self.local.cursor
            try:
                cursor.execute(compiled.string, params)
                return cursor.fetchone()
            except self.engine.dialect.loaded_dbapi.Error as error:
                connection = self.local.connection
                gone = self.engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
                self.local.cursor = self.local.connection = None
                connection.invalidate(error)
                if attempt == 2 or not gone:
                    raise
        return None


def _writer() -> _DeliveryWriter:
    state = current_app.extensions.setdefault("kontor_delivery_writer", {})
    if state.get("pid") != os.getpid():  # a forked server process never shares its parent's connections
        state["pid"], state["writer"] = os.getpid(), _DeliveryWriter(db.engine.url)
    return state["writer"]


def store_delivery(integration_id: int, kind: str, delivery_id: str, body: bytes, headers: dict[str, str], *,
                   topic: str = "", resource_id: str = "", occurred_at: datetime | None = None) -> Recorded:
    """Store a webhook delivery in one autocommitted INSERT; a delivery id already stored is not stored again.

    Its processing is started after the commit (DELIVERY_STORED); were that lost, the sweeper finds
    the row, which is due at once.
    """
    now = utcnow()
    key = _text(delivery_id, 255)
    writer = _writer()
    event_id = writer.insert({
        "integration_id": integration_id, "delivery_id": key, "kind": kind, "topic": _text(topic, 60),
        "resource_id": _text(resource_id, 100), "occurred_at": occurred_at, "headers": _clean_headers(headers),
        "body": body, "received_at": now})
    if event_id is None:
        return Recorded(writer.stored_id(integration_id, key), True)
    bus.committed(DELIVERY_STORED, {"event_id": event_id})
    return Recorded(event_id, False)


@dataclass(frozen=True)
class Delivery:
    """One delivery of a batch: the platform's id for it, what it is about, and the raw body."""

    delivery_id: str
    body: bytes
    topic: str = ""
    resource_id: str = ""
    occurred_at: datetime | None = None
    headers: dict[str, str] | None = None


def record_many(integration_id: int, kind: str, deliveries: list[Delivery], *, hold: timedelta | None = None,
                batch: bool = False, run_id: int | None = None) -> list[int]:
    """Store deliveries in the caller's transaction (it commits); ids already stored are skipped.

    Returns the new rows' ids. `hold` keeps them from the sweeper that long (the caller applies
    them itself, or a later step closes them); with `batch`, jobs of BATCH_SIZE apply them after commit.
    `run_id`: the import run that fetched them.
    """
    now = utcnow()
    due_at = now + hold if hold else now
    rows, seen = [], set()
    for given in deliveries:
        key = _text(given.delivery_id, 255)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"integration_id": integration_id, "delivery_id": key, "kind": kind, "topic": _text(given.topic, 60),
                     "resource_id": _text(given.resource_id, 100), "occurred_at": given.occurred_at,
                     "headers": _clean_headers(given.headers or {}), "body": given.body, "state": "received",
                     "attempts": 0, "next_attempt_at": due_at, "error": "", "result": "", "received_at": now,
                     "run_id": run_id})
    new_ids = []
    for start in range(0, len(rows), 500):
        new_ids += insert_many_or_nothing(db.session, InboundEvent.__table__, rows[start:start + 500],
                                          ("integration_id", "delivery_id"), InboundEvent.id)
    new_ids.sort()
    if batch:
        for start in range(0, len(new_ids), BATCH_SIZE):
            chunk = new_ids[start:start + BATCH_SIZE]
            bus.publish(db.session, BATCH_RECORDED, {"event_ids": chunk, "job_id": f"inbound-batch-{chunk[0]}"})
    return new_ids


def close_many(event_ids: list[int], result: str, outcome: str = "noted") -> None:
    """Mark stored events processed without applying anything (hints whose work another row carries)."""
    if event_ids:
        now = utcnow()
        db.session.execute(update(InboundEvent).where(InboundEvent.id.in_(event_ids), InboundEvent.state == "received")
                           .values(state="processed", result=result[:2000], processed_at=now, next_attempt_at=None,
                                   locked_until=None, outcome=outcome).execution_options(synchronize_session=False))


def count_rejection(integration_id: int, reason: str) -> None:
    """Count a refused delivery (bad or missing signature) for the integration; nothing else is kept."""
    now = utcnow()
    table = WebhookRejection.__table__
    insert_or_update(db.session, table, {"integration_id": integration_id, "count": 1, "last_reason": reason,
                                         "last_at": now},
                     ("integration_id",), {"count": table.c.count + 1, "last_reason": reason, "last_at": now})
    db.session.commit()


def rejections(integration_id: int) -> WebhookRejection | None:
    """The integration's refused-delivery counter, if anything was ever refused."""
    return db.session.get(WebhookRejection, integration_id)


def lease_seconds() -> float:
    """How long a worker may hold an event before the sweeper hands it to another (the outbox's lease)."""
    return float(current_app.config.get("SYNC_LEASE_SECONDS", 300))


def _due_condition(now: datetime):
    return and_(
        InboundEvent.state.in_(("received", "failed")),
        InboundEvent.next_attempt_at <= now,
        or_(InboundEvent.locked_until.is_(None), InboundEvent.locked_until < now),
    )


def claim(event_id: int, early: bool = False) -> InboundEvent | None:
    """Take a due event for processing (one worker wins), or None if it is not due or already taken.

    `early` takes a received event before its time: the batch job its run handed it to.
    """
    now = utcnow()
    condition = _due_condition(now) if not early else and_(
        InboundEvent.state == "received", or_(InboundEvent.locked_until.is_(None), InboundEvent.locked_until < now))
    claimed = db.session.execute(
        update(InboundEvent).where(InboundEvent.id == event_id, condition)
        .values(locked_until=now + timedelta(seconds=lease_seconds()), attempts=InboundEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return db.session.get(InboundEvent, event_id, populate_existing=True)


def claim_many(event_ids: list[int]) -> list[InboundEvent]:
    """Take the received events of a batch job in one UPDATE (those another worker holds are left); commits."""
    if not event_ids:
        return []
    now = utcnow()
    claimed = list(db.session.scalars(
        update(InboundEvent).where(InboundEvent.id.in_(event_ids), InboundEvent.state == "received",
                                   or_(InboundEvent.locked_until.is_(None), InboundEvent.locked_until < now))
        .values(locked_until=now + timedelta(seconds=lease_seconds()), attempts=InboundEvent.attempts + 1)
        .returning(InboundEvent.id).execution_options(synchronize_session=False)))
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(InboundEvent).where(InboundEvent.id.in_(claimed))
                                   .order_by(InboundEvent.id).execution_options(populate_existing=True)))


def close(event: InboundEvent, state: str, result, order_id: int | None = None, outcome: str | None = None) -> None:
    """Mark an event processed or ignored (the caller commits, together with what it applied)."""
    assert state in ("processed", "ignored")
    event.state, event.error, event.outcome = state, "", outcome
    event.result, event.message_data = keep_text(event.message_data, "result", result)
    event.message_data = keep_text(event.message_data, "error", "")[1]
    event.order_id = order_id or event.order_id
    event.processed_at, event.locked_until, event.next_attempt_at = utcnow(), None, None


def backoff(attempt: int, initial: float = BACKOFF_INITIAL) -> float:
    """Seconds before retry number `attempt`: doubling to a 1 h cap, with ±25% jitter."""
    base = min(BACKOFF_CAP, initial * 2 ** max(0, attempt - 1))
    return min(BACKOFF_CAP, base * random.uniform(0.75, 1.25))


def fail(event_id: int, error, *, retry: bool, outcome: str | None = None) -> InboundEvent:
    """Record why processing failed and commit; with `retry`, try again later (until MAX_ATTEMPTS).

    `outcome` says what the failure means for the run's history ("malformed": it cannot be read).
    """
    db.session.rollback()
    event = db.session.get(InboundEvent, event_id, populate_existing=True)
    event.state, event.locked_until, event.outcome = "failed", None, outcome
    event.error, event.message_data = keep_text(event.message_data, "error", error, lambda text: text[:2000])
    if retry and event.attempts < MAX_ATTEMPTS:
        initial = float(current_app.config.get("SYNC_BACKOFF_INITIAL", BACKOFF_INITIAL))
        event.next_attempt_at = utcnow() + timedelta(seconds=backoff(event.attempts, initial))
    else:
        event.next_attempt_at = None
    db.session.commit()
    return event


def reprocess(integration_id: int, event_id: int) -> InboundEvent:
    """Process an event again now, with a fresh set of attempts (the Reprocess button)."""
    event = db.session.get(InboundEvent, event_id)
    if event is None or event.integration_id != integration_id:
        raise NotFound("There is no such delivery for this integration.")
    event.state, event.attempts, event.next_attempt_at, event.locked_until = "received", 0, utcnow(), None
    event.outcome = None
    event.error, event.message_data = keep_text(event.message_data, "error", "")
    db.session.flush()
    bus.publish(db.session, EVENT_RECORDED, {"event_id": event.id, "job_id": event.job_id, "again": True})
    db.session.commit()
    return event


def due(limit: int = 1000) -> list[tuple[int, str]]:
    """(id, job id) of events waiting for processing whose time has come, oldest first."""
    rows = db.session.execute(
        select(InboundEvent.id, InboundEvent.attempts).where(_due_condition(utcnow()))
        .order_by(InboundEvent.next_attempt_at).limit(limit)
    ).all()
    db.session.commit()
    return [(event_id, f"inbound-event-{event_id}-a{attempts}") for event_id, attempts in rows]


def counts(integration_id: int) -> dict[str, int]:
    """The integration's deliveries by state."""
    rows = db.session.execute(select(InboundEvent.state, func.count()).where(
        InboundEvent.integration_id == integration_id).group_by(InboundEvent.state)).all()
    return {state: 0 for state in ("received", "processed", "failed", "ignored")} | dict(rows)


def page(integration_id: int, state: str = "", limit: int = 100, before_id: int | None = None) -> list[Any]:
    """The integration's latest deliveries, newest first, optionally of one state."""
    query = select(InboundEvent).where(InboundEvent.integration_id == integration_id)
    if state:
        query = query.where(InboundEvent.state == state)
    if before_id:
        query = query.where(InboundEvent.id < before_id)
    return list(db.session.scalars(query.order_by(InboundEvent.id.desc()).limit(limit)))
