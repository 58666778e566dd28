"""Importing a supplier feed: read it, report invalid rows, apply valid ones in chunks, never hang.

An import reads the feed (streaming), turns rows into typed supplier rows, stores the invalid
ones with their line numbers, and hands chunks of valid rows to `import_chunk`, each chunk one
transaction: rows are matched to products by SKU, then EAN, and every link of a matched product
gets the supplier's stock, delivery days and price. Running an import again writes the same
values, so an import that died halfway is simply run again.

Nothing stays "importing" for good: a row the database cannot store is reported on its line
while the rest of its chunk imports; a step that stops for any other reason marks the import
failed with the reason; and a recurring check (`stalled_imports`, `fail_stalled`) closes imports
that made no progress for STALL_MINUTES, e.g. after a worker was killed.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from app.core import bulk
from app.core.events import bus
from app.core.errors import NotFound, ValidationFailed
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import IntegrationRun
from app.suppliers.models import FeedImport, FeedProblem
from app.suppliers.parsing import (MAX_SKU_LENGTH, REPLACEMENT_CHARACTER, FeedError, InvalidRow, SupplierRow,
                                   typed_rows)
from app.suppliers.services import feed_rows, get_feed, mapping_of, open_feed

log = logging.getLogger("kontor.suppliers")

CHUNK_SIZE = 25_000
MAX_STORED_PROBLEMS = 5_000
# An unfinished import that made no progress for this long is marked failed by a recurring check.
STALL_MINUTES = 15
PROGRESS_EVERY = 30  # seconds between progress notes while a feed is read
ACTIVE_STATES = ("queued", "reading", "importing")
FEED_IMPORT_QUEUED = "suppliers.feed_import_queued"


def queue_import(feed_id: int, limit: int | None = None) -> FeedImport:
    """Record a new import and have the workers run it (announced now, enqueued once it is committed)."""
    feed_import = _record_import(feed_id)
    bus.publish(db.session, FEED_IMPORT_QUEUED, {"import_id": feed_import.id, "limit": limit})
    db.session.commit()
    return feed_import


def start_import(feed_id: int) -> FeedImport:
    """Record a new import, queued, for this process to run (`queue_import` has the workers run it)."""
    feed_import = _record_import(feed_id)
    db.session.commit()
    return feed_import


def _record_import(feed_id: int) -> FeedImport:
    feed = get_feed(feed_id)
    if mapping_of(feed) is None:
        raise ValidationFailed(_l("Map the feed's columns first (stock quantity and SKU or EAN)."))
    now = utcnow()
    feed_import = FeedImport(feed_id=feed.id, state="queued", started_at=now, progress_at=now,
                             source=feed.settings.get("location") or feed.settings.get("upload_name", ""))
    db.session.add(feed_import)
    db.session.flush()
    return feed_import


def get_import(import_id: int) -> FeedImport:
    """The feed import, or NotFound."""
    feed_import = db.session.get(FeedImport, import_id)
    if feed_import is None:
        raise NotFound(f"Import {import_id} does not exist.")
    return feed_import


def latest_import(feed_id: int) -> FeedImport | None:
    """The feed's newest import, or None."""
    return db.session.scalar(select(FeedImport).where(FeedImport.feed_id == feed_id)
                             .order_by(FeedImport.id.desc()))


def recent_imports(feed_id: int, limit: int = 10) -> list[FeedImport]:
    """The feed's latest imports, newest first."""
    return list(db.session.scalars(select(FeedImport).where(FeedImport.feed_id == feed_id)
                                   .order_by(FeedImport.id.desc()).limit(limit)))


def _payload(row: SupplierRow, contractor_id: int) -> str:
    price = "null" if row.purchase_price is None else f'"{row.purchase_price}"'
    days = "null" if row.delivery_days is None else str(row.delivery_days)
    return (f'{{"contractor_id":{contractor_id},"stock_quantity":{row.stock_quantity},'
            f'"delivery_days":{days},"purchase_price":{price}}}')


def _storable(value: str, limit: int = 500) -> str:
    """Text as a problem report can store it: no NUL byte (PostgreSQL refuses it), at most `limit` characters."""
    value = str(value).replace("\x00", REPLACEMENT_CHARACTER)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _problem(import_id: int, line: int, reason: str, raw: dict) -> dict[str, Any]:
    return {"feed_import_id": import_id, "line": line, "reason": _storable(reason),
            "raw": {_storable(key, 100): _storable(value) for key, value in list(raw.items())[:20]}}


def _reason(error: BaseException) -> str:
    """Why an import step stopped, in words (never a traceback)."""
    if isinstance(error, FeedError):
        return str(error)
    if isinstance(error, DBAPIError):
        detail = str(error.orig).strip().splitlines()[0] if error.orig is not None else ""
        return f"the database refused the data ({error.orig.__class__.__name__}: {detail[:300]})"
    if error.__class__.__name__ == "JobTimeoutException":
        return "it ran longer than its time limit and was stopped"
    detail = (str(error).strip().splitlines() or [""])[0]
    return f"{error.__class__.__name__}: {detail[:300]}" if detail else error.__class__.__name__


def run_import(import_id: int, enqueue_chunk: Callable[[int, int, list], None], limit: int | None = None) -> FeedImport:
    """Read the feed, store invalid rows, and hand chunks of valid rows to `enqueue_chunk(import_id, n, rows)`.

    Whatever stops it (an unreadable feed, a database error, a timeout) marks the import failed
    with the reason; unexpected errors are raised again after that, for the job's own record.
    An import that is no longer waiting or reading (e.g. failed as stalled) is left as it is.
    """
    started = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id, FeedImport.state.in_(("queued", "reading")))
        .values(state="reading", progress_at=utcnow())).rowcount
    db.session.commit()
    feed_import = db.session.get(FeedImport, import_id, populate_existing=True)
    if not started:
        return feed_import
    try:
        return _read_and_hand_over(feed_import, enqueue_chunk, limit)
    except FeedError as error:
        db.session.rollback()
        return _fail(import_id, str(error))
    except BaseException as error:
        db.session.rollback()
        log.exception("feed import %s stopped", import_id)
        _fail(import_id, f"The import stopped: {_reason(error)}.")
        raise


def _read_and_hand_over(feed_import: FeedImport, enqueue_chunk: Callable[[int, int, list], None],
                        limit: int | None) -> FeedImport:
    import_id, feed = feed_import.id, feed_import.feed
    mapping = mapping_of(feed)
    chunk: list[tuple] = []
    problems: list[dict] = []
    counts = {"read": 0, "invalid": 0, "chunks": 0}
    noted = time.monotonic()

    def hand_over() -> None:
        enqueue_chunk(import_id, counts["chunks"], chunk.copy())
        counts["chunks"] += 1
        chunk.clear()

    with open_feed(feed) as stream:
        _, raw_rows = feed_rows(feed, stream)
        for row in typed_rows(raw_rows, mapping):
            counts["read"] += 1
            if isinstance(row, InvalidRow):
                counts["invalid"] += 1
                if counts["invalid"] <= MAX_STORED_PROBLEMS:
                    problems.append(_problem(import_id, row.line, row.reason, row.raw))
            else:
                chunk.append((row.line, row.sku, row.ean, _payload(row, feed.id)))
                if len(chunk) >= CHUNK_SIZE:
                    hand_over()
            if limit and counts["read"] >= limit:
                break
            if not counts["read"] & 4095 and time.monotonic() - noted > PROGRESS_EVERY:
                # A slow feed still shows it is alive, to the page and to the stalled-import check.
                db.session.execute(update(FeedImport).where(FeedImport.id == import_id)
                                   .values(rows_read=counts["read"], progress_at=utcnow()))
                db.session.commit()
                noted = time.monotonic()
        if chunk:
            hand_over()
    if problems:
        db.session.execute(insert(FeedProblem), problems)
    # Set the totals in one statement, so whoever makes chunks_done == chunks_total closes it.
    done = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id, FeedImport.state == "reading")
        .values(state="importing", rows_read=counts["read"], invalid=FeedImport.invalid + counts["invalid"],
                chunks_total=counts["chunks"], progress_at=utcnow())
        .returning(FeedImport.chunks_done)
    ).scalar_one_or_none()
    db.session.commit()
    if done is not None and done >= counts["chunks"]:
        _finish(import_id)
    feed.settings = {**feed.settings, "last_import_at": utcnow().isoformat()}
    db.session.commit()
    return db.session.get(FeedImport, import_id, populate_existing=True)


def _fail(import_id: int, message: str) -> FeedImport:
    """Mark an unfinished import failed with `message` (see _close_as_failed); the import as it now is."""
    _close_as_failed(import_id, message)
    return db.session.get(FeedImport, import_id, populate_existing=True)


def _close_as_failed(import_id: int, message: str, stalled_before: datetime | None = None) -> bool:
    """Mark the import failed, and note it in the feed's run log, unless it finished (or moved on since
    `stalled_before`); True if this call closed it."""
    conditions = [FeedImport.id == import_id, FeedImport.state.in_(ACTIVE_STATES)]
    if stalled_before is not None:
        conditions.append(func.coalesce(FeedImport.progress_at, FeedImport.started_at) < stalled_before)
    message = _storable(message, 2000)
    started = db.session.execute(update(FeedImport).where(*conditions).values(
        state="failed", error=message, finished_at=utcnow(), progress_at=utcnow())
        .returning(FeedImport.feed_id, FeedImport.started_at)).one_or_none()
    if started is not None:
        db.session.add(IntegrationRun(integration_id=started.feed_id, kind="feed_import", ok=False,
                                      started_at=started.started_at, message=message, finished_at=utcnow()))
        log.warning("feed import %s failed: %s", import_id, message)
    db.session.commit()
    return started is not None


def _finish(import_id: int) -> None:
    finished = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id, FeedImport.state == "importing")
        .values(state="done", finished_at=utcnow(), progress_at=utcnow())
    ).rowcount
    if finished:
        feed_import = db.session.get(FeedImport, import_id, populate_existing=True)
        _count_missed_import(feed_import.feed_id, feed_import.started_at)
        db.session.add(IntegrationRun(
            integration_id=feed_import.feed_id, kind="feed_import", started_at=feed_import.started_at,
            finished_at=utcnow(), counts={"read": feed_import.rows_read, "matched": feed_import.matched,
                                          "unmatched": feed_import.unmatched, "invalid": feed_import.invalid,
                                          "links updated": feed_import.links_updated},
            message=f"{feed_import.rows_read} rows"))
    db.session.commit()


def _count_missed_import(feed_id: int, started_at: datetime) -> None:
    """One more import without it, on every link this feed set before and this import did not.

    The feed's rule for products it stops listing (app.catalog.supply) reads the count; an import
    that lists the product again replaces the whole payload, so the count starts over.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        missed = ("(jsonb_set(supplier_availability::jsonb, '{missed_imports}', to_jsonb("
                  "COALESCE((supplier_availability->>'missed_imports')::int, 0) + 1)))::json")
        feed = "(supplier_availability->>'contractor_id')::int"
    else:
        missed = ("json_set(supplier_availability, '$.missed_imports', "
                  "COALESCE(json_extract(supplier_availability, '$.missed_imports'), 0) + 1)")
        feed = "json_extract(supplier_availability, '$.contractor_id')"
    connection.execute(text(
        f"UPDATE integration_product_links SET supplier_availability = {missed} "
        f"WHERE supplier_updated_at < :started AND {feed} = :feed"
    ).bindparams(bindparam("started", type_=UTCDateTime)), {"started": started_at, "feed": feed_id})


def import_chunk(import_id: int, rows: list[tuple]) -> dict[str, int]:
    """Apply one chunk of (line, sku, ean, payload) rows; safe to run again.

    A row the database cannot store is reported on its line and the rest of the chunk imports.
    Anything else that stops the chunk marks the import failed with the reason, then is raised.
    """
    try:
        return _import_chunk(import_id, rows)
    except BaseException as error:
        db.session.rollback()
        log.exception("chunk of feed import %s stopped", import_id)
        _fail(import_id, f"A chunk of {len(rows)} rows stopped: {_reason(error)}. Rows already imported stay; "
                         f"run the import again.")
        raise


def _import_chunk(import_id: int, rows: list[tuple]) -> dict[str, int]:
    storable, problems = [], []
    for row in rows:
        line, sku, ean, payload = row
        if "\x00" in f"{sku}{ean}{payload}" or len(sku) > MAX_SKU_LENGTH or len(ean) > 32:
            problems.append(_problem(import_id, line, "the row holds a value the database cannot store "
                                     "(a NUL byte or an over-long SKU or EAN)", {"sku": sku, "ean": ean}))
        else:
            storable.append(row)
    matched = updated = 0
    for part, error in _stored_in_parts(storable):
        if error is None:
            matched, updated = matched + part[0], updated + part[1]
        else:
            problems.append(_problem(import_id, part[0], f"the database refused the row: {error}",
                                     {"sku": part[1], "ean": part[2]}))
    if problems:
        db.session.execute(insert(FeedProblem), problems)
    applied = len(rows) - len(problems)
    counters = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id)
        .values(matched=FeedImport.matched + matched, unmatched=FeedImport.unmatched + (applied - matched),
                invalid=FeedImport.invalid + len(problems), links_updated=FeedImport.links_updated + updated,
                chunks_done=FeedImport.chunks_done + 1, progress_at=utcnow())
        .returning(FeedImport.chunks_done, FeedImport.chunks_total, FeedImport.state)
    ).one()
    db.session.commit()
    if counters.state == "importing" and counters.chunks_done >= counters.chunks_total:
        _finish(import_id)
    return {"rows": len(rows), "matched": matched, "links_updated": updated, "refused": len(problems)}


def _stored_in_parts(rows: list[tuple]) -> Iterator[tuple[tuple, str | None]]:
    """Apply rows, all in one transaction; if the database refuses, halve until the refused rows are found.

    Yields ((matched, links updated), None) per applied part and (row, reason) per refused row.
    Each applied part is committed: the values are absolute, so a part applied twice changes nothing.
    """
    pending = [rows] if rows else []
    while pending:
        part = pending.pop()
        try:
            yield _apply(part), None
            db.session.commit()
        except DBAPIError as error:
            db.session.rollback()
            if len(part) == 1:
                yield part[0], _reason(error)
            else:
                middle = len(part) // 2
                pending.extend((part[middle:], part[:middle]))


def _apply(rows: list[tuple]) -> tuple[int, int]:
    """Match rows to products by SKU, then EAN, and set the matched products' links (the caller commits)."""
    connection = db.session.connection()
    bulk.begin_write(connection)
    bulk.without_jit(connection)
    bulk.temp_table(connection, "feed_chunk", "line INTEGER, sku VARCHAR(64), ean VARCHAR(32), payload TEXT")
    bulk.temp_table(connection, "feed_match", "line INTEGER, product_id INTEGER")
    bulk.load(connection, "feed_chunk", ("line", "sku", "ean", "payload"), rows)
    connection.execute(text(
        "INSERT INTO feed_match (line, product_id) SELECT f.line, p.id FROM feed_chunk f "
        "JOIN products p ON p.sku = f.sku WHERE f.sku <> ''"))
    connection.execute(text(
        "INSERT INTO feed_match (line, product_id) SELECT f.line, p.id FROM feed_chunk f "
        "JOIN products p ON p.ean = f.ean WHERE f.ean <> '' "
        "AND NOT EXISTS (SELECT 1 FROM feed_match m WHERE m.line = f.line)"))
    matched = connection.execute(text("SELECT count(DISTINCT line) FROM feed_match")).scalar_one()
    payload = "f.payload::json" if connection.dialect.name == "postgresql" else "f.payload"
    updated = connection.execute(text(
        f"UPDATE integration_product_links SET supplier_availability = {payload}, supplier_updated_at = :now "
        "FROM feed_match m JOIN feed_chunk f ON f.line = m.line "
        "WHERE integration_product_links.product_id = m.product_id"), {"now": utcnow()}).rowcount
    return matched, updated


# --- imports that stopped without a word ----------------------------------------------------


def stalled_imports(minutes: int = STALL_MINUTES) -> list[FeedImport]:
    """Unfinished imports that made no progress for `minutes` (a worker died, a job was lost)."""
    cutoff = utcnow() - timedelta(minutes=minutes)
    return list(db.session.scalars(
        select(FeedImport).where(FeedImport.state.in_(ACTIVE_STATES),
                                 func.coalesce(FeedImport.progress_at, FeedImport.started_at) < cutoff)
        .order_by(FeedImport.id)))


def fail_stalled(import_id: int, minutes: int = STALL_MINUTES) -> bool:
    """Mark an import failed if it still made no progress for `minutes`; True if it was."""
    return _close_as_failed(import_id, f"The import made no progress for {minutes} minutes (its worker stopped or "
                                       f"its job was lost), so it was stopped. Rows already imported stay; run the "
                                       f"import again.", stalled_before=utcnow() - timedelta(minutes=minutes))


def problems_csv(import_id: int) -> Iterator[str]:
    """The invalid rows of an import as CSV lines (line, reason, raw values)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "reason", "row"])
    yield buffer.getvalue()
    rows = db.session.scalars(select(FeedProblem).where(FeedProblem.feed_import_id == import_id)
                              .order_by(FeedProblem.line))
    for problem in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([problem.line, problem.reason, json.dumps(problem.raw, ensure_ascii=False)])
        yield buffer.getvalue()


