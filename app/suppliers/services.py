"""Supplier feeds: where they come from, what their columns mean, and importing them in chunks.

An import reads the feed (streaming), turns rows into typed supplier rows, stores the invalid
ones with their line numbers, and hands chunks of valid rows to `import_chunk`, each chunk one
transaction: rows are matched to products by SKU, then EAN, and every link of a matched product
gets the supplier's stock, delivery days and price. Running an import again writes the same
values, so an import that died halfway is simply run again.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager

from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import requests
from flask import current_app
from sqlalchemy import insert, select, text, update

from app.core import bulk
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration, IntegrationRun
from app.suppliers.models import FeedImport, FeedProblem
from app.suppliers.parsing import ColumnMapping, FeedError, InvalidRow, SupplierRow, typed_rows

log = logging.getLogger("kontor.suppliers")

FEED_KIND = "supplier_feed"
SOURCE_TYPES = {"upload": "Uploaded file", "path": "File on the server", "url": "HTTP(S) address"}
FORMATS = {"csv": "CSV", "xml": "XML"}
MAPPING_FIELDS = ("sku", "ean", "stock_quantity", "delivery_days", "purchase_price")
CHUNK_SIZE = 25_000
MAX_STORED_PROBLEMS = 5_000
DEFAULT_MAX_MB = 200
URL_TIMEOUT = (10, 60)


# --- feeds ----------------------------------------------------------------------


def get_feed(feed_id: int) -> Integration:
    """The supplier feed integration, or NotFound."""
    feed = db.session.get(Integration, feed_id)
    if feed is None or feed.kind != FEED_KIND:
        raise NotFound(f"Supplier feed {feed_id} does not exist.")
    return feed


def list_feeds() -> list[Integration]:
    """All supplier feeds by name."""
    return list(db.session.scalars(select(Integration).where(Integration.kind == FEED_KIND)
                                   .order_by(Integration.name)))


def upload_folder(feed: Integration) -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "feeds" / str(feed.id)


def save_feed(feed: Integration | None, *, name: str, source_type: str, location: str, format: str,
              item_path: str = "", max_mb: int = DEFAULT_MAX_MB, upload: BinaryIO | None = None,
              upload_name: str = "") -> Integration:
    """Create or change a supplier feed; an uploaded file is stored under instance/feeds/<id>/."""
    if not name.strip():
        raise ValidationFailed("Give the feed a name, e.g. the supplier's.", field="name")
    if source_type not in SOURCE_TYPES:
        raise ValidationFailed("Choose where the feed comes from.", field="source_type")
    if format not in FORMATS:
        raise ValidationFailed("Choose CSV or XML.", field="format")
    if source_type == "url" and not location.startswith(("http://", "https://")):
        raise ValidationFailed("The address must start with http:// or https://.", field="location")
    if source_type == "path" and not location.startswith("/"):
        raise ValidationFailed("Give the full path of the file on the server, starting with /.", field="location")
    if format == "xml" and not item_path.strip():
        raise ValidationFailed("Name the element that repeats for each product, e.g. product or offers/offer.",
                               field="item_path")
    if source_type == "upload" and upload is None and not (feed and feed.settings.get("upload_file")):
        raise ValidationFailed("Choose the file to upload.", field="upload")
    if feed is None:
        feed = Integration(kind=FEED_KIND, sync_direction="off", settings={})
        db.session.add(feed)
    feed.name = name.strip()
    feed.settings = {**(feed.settings or {}), "source_type": source_type, "location": location.strip(),
                     "format": format, "item_path": item_path.strip(), "max_mb": int(max_mb or DEFAULT_MAX_MB)}
    db.session.flush()
    if upload is not None:
        folder = upload_folder(feed)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / ("upload.xml" if format == "xml" else "upload.csv")
        with open(target, "wb") as handle:
            _copy_capped(upload, handle, feed.settings["max_mb"])
        feed.settings = {**feed.settings, "upload_file": str(target), "upload_name": upload_name}
    db.session.commit()
    return feed


def _copy_capped(source: BinaryIO, target: BinaryIO, max_mb: int) -> None:
    limit, copied = max_mb * 1024 * 1024, 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > limit:
            raise ValidationFailed(f"The file is larger than the {max_mb} MB limit.", field="upload")
        target.write(chunk)


class CappedStream:
    """A binary stream that refuses to read past a size limit (for feeds from the network)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.limit, self.read_bytes = raw, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else 1024 * 1024)
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise FeedError(f"The feed is larger than the {self.limit // (1024 * 1024)} MB limit; stopped reading.")
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def closed(self) -> bool:
        return False


@contextmanager
def open_feed(feed: Integration) -> Iterator[BinaryIO]:
    """Open the feed's source as a binary stream (a URL is streamed, never loaded whole)."""
    settings = feed.settings
    limit = int(settings.get("max_mb", DEFAULT_MAX_MB)) * 1024 * 1024
    source_type = settings.get("source_type")
    if source_type in ("upload", "path"):
        path = settings.get("upload_file") if source_type == "upload" else settings.get("location")
        if not path or not os.path.exists(path):
            raise FeedError(f"The feed file {path or '(none uploaded)'} does not exist.")
        if os.path.getsize(path) > limit:
            raise FeedError(f"The feed file is larger than the {limit // (1024 * 1024)} MB limit.")
        with open(path, "rb") as handle:
            yield handle
        return
    try:
        response = requests.get(settings.get("location", ""), stream=True, timeout=URL_TIMEOUT,
                                headers={"User-Agent": "Kontor feed reader"})
    except requests.RequestException as error:
        raise FeedError(f"Could not download the feed: {error.__class__.__name__}: {str(error)[:200]}") from error
    with response:
        if response.status_code >= 400:
            raise FeedError(f"The feed address answered HTTP {response.status_code}.")
        response.raw.decode_content = True
        yield CappedStream(response.raw, limit)


def _rows(feed: Integration, stream: BinaryIO):
    """(headers, raw rows) of a feed stream in its format."""
    if feed.settings.get("format") == "xml":
        from app.suppliers import xml as xml_feed

        return None, xml_feed.read_xml(stream, feed.settings.get("item_path", ""))
    from app.suppliers import csv as csv_feed

    reader = csv_feed.read_csv(stream)
    return reader.headers, reader


def mapping_of(feed: Integration) -> ColumnMapping | None:
    """The feed's column mapping, or None until stock quantity and a key are mapped."""
    chosen = feed.settings.get("mapping") or {}
    if not chosen.get("stock_quantity") or not (chosen.get("sku") or chosen.get("ean")):
        return None
    return ColumnMapping(**{name: chosen.get(name) or None for name in MAPPING_FIELDS})


def preview(feed_id: int, limit: int = 20) -> dict[str, Any]:
    """Headers of the feed and its first rows as they will be read; remembers the headers."""
    feed = get_feed(feed_id)
    with open_feed(feed) as stream:
        if feed.settings.get("format") == "xml":
            from app.suppliers import xml as xml_feed

            headers = xml_feed.xml_headers(stream, feed.settings.get("item_path", ""))
            raw_rows = None
        else:
            headers, raw_rows = _rows(feed, stream)
            raw_rows = [row for _, row in zip(range(limit), raw_rows)]
    if raw_rows is None:
        with open_feed(feed) as stream:
            _, rows = _rows(feed, stream)
            raw_rows = [row for _, row in zip(range(limit), rows)]
    feed.settings = {**feed.settings, "headers": list(headers)}
    db.session.commit()
    mapping = mapping_of(feed)
    typed = list(typed_rows(raw_rows, mapping)) if mapping else []
    return {"headers": list(headers), "raw": raw_rows, "typed": typed, "mapping": mapping}


def save_mapping(feed_id: int, chosen: dict[str, str]) -> Integration:
    """Store which feed column holds SKU, EAN, stock, delivery days and price."""
    feed = get_feed(feed_id)
    headers = set(feed.settings.get("headers") or [])
    mapping = {name: (chosen.get(name) or "").strip() for name in MAPPING_FIELDS}
    unknown = [value for value in mapping.values() if value and headers and value not in headers]
    if unknown:
        raise ValidationFailed(f"The feed has no column “{unknown[0]}”; refresh the preview.", field="mapping")
    if not mapping["stock_quantity"]:
        raise ValidationFailed("Choose the column with the stock quantity.", field="stock_quantity")
    if not (mapping["sku"] or mapping["ean"]):
        raise ValidationFailed("Choose the SKU column, the EAN column, or both: rows are matched by them.",
                               field="sku")
    feed.settings = {**feed.settings, "mapping": mapping}
    db.session.commit()
    return feed


# --- imports ----------------------------------------------------------------------


def start_import(feed_id: int) -> FeedImport:
    """Record a new import, queued; the caller enqueues `run_import`."""
    feed = get_feed(feed_id)
    if mapping_of(feed) is None:
        raise ValidationFailed("Map the feed's columns first (stock quantity and SKU or EAN).")
    feed_import = FeedImport(integration_id=feed.id, state="queued",
                             source=feed.settings.get("location") or feed.settings.get("upload_name", ""))
    db.session.add(feed_import)
    db.session.commit()
    return feed_import


def get_import(import_id: int) -> FeedImport:
    """The feed import, or NotFound."""
    feed_import = db.session.get(FeedImport, import_id)
    if feed_import is None:
        raise NotFound(f"Import {import_id} does not exist.")
    return feed_import


def latest_import(feed_id: int) -> FeedImport | None:
    return db.session.scalar(select(FeedImport).where(FeedImport.integration_id == feed_id)
                             .order_by(FeedImport.id.desc()))


def recent_imports(feed_id: int, limit: int = 10) -> list[FeedImport]:
    return list(db.session.scalars(select(FeedImport).where(FeedImport.integration_id == feed_id)
                                   .order_by(FeedImport.id.desc()).limit(limit)))


def _payload(row: SupplierRow, contractor_id: int) -> str:
    price = "null" if row.purchase_price is None else f'"{row.purchase_price}"'
    days = "null" if row.delivery_days is None else str(row.delivery_days)
    return (f'{{"contractor_id":{contractor_id},"stock_quantity":{row.stock_quantity},'
            f'"delivery_days":{days},"purchase_price":{price}}}')


def run_import(import_id: int, enqueue_chunk: Callable[[int, int, list], None], limit: int | None = None) -> FeedImport:
    """Read the feed, store invalid rows, and hand chunks of valid rows to `enqueue_chunk(import_id, n, rows)`."""
    feed_import = db.session.get(FeedImport, import_id)
    feed = feed_import.integration
    mapping = mapping_of(feed)
    feed_import.state = "reading"
    db.session.commit()
    chunk: list[tuple] = []
    problems: list[dict] = []
    counts = {"read": 0, "invalid": 0, "chunks": 0}

    def flush_problems() -> None:
        if problems:
            db.session.execute(insert(FeedProblem), problems)
            problems.clear()

    def hand_over() -> None:
        enqueue_chunk(import_id, counts["chunks"], chunk.copy())
        counts["chunks"] += 1
        chunk.clear()

    try:
        with open_feed(feed) as stream:
            _, raw_rows = _rows(feed, stream)
            for row in typed_rows(raw_rows, mapping):
                counts["read"] += 1
                if isinstance(row, InvalidRow):
                    counts["invalid"] += 1
                    if counts["invalid"] <= MAX_STORED_PROBLEMS:
                        problems.append({"feed_import_id": import_id, "line": row.line, "reason": row.reason[:500],
                                         "raw": dict(list(row.raw.items())[:20])})
                else:
                    chunk.append((row.line, row.sku, row.ean, _payload(row, feed.id)))
                    if len(chunk) >= CHUNK_SIZE:
                        hand_over()
                if limit and counts["read"] >= limit:
                    break
            if chunk:
                hand_over()
        flush_problems()
    except FeedError as error:
        db.session.rollback()
        return _fail(import_id, str(error))
    # Set the totals in one statement, so whoever makes chunks_done == chunks_total closes it.
    done = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id)
        .values(state="importing", rows_read=counts["read"], invalid=counts["invalid"],
                chunks_total=counts["chunks"])
        .returning(FeedImport.chunks_done)
    ).scalar_one()
    db.session.commit()
    if done >= counts["chunks"]:
        _finish(import_id)
    feed.settings = {**feed.settings, "last_import_at": utcnow().isoformat()}
    db.session.commit()
    return db.session.get(FeedImport, import_id, populate_existing=True)


def _fail(import_id: int, message: str) -> FeedImport:
    feed_import = db.session.get(FeedImport, import_id, populate_existing=True)
    feed_import.state, feed_import.error, feed_import.finished_at = "failed", message, utcnow()
    db.session.add(IntegrationRun(integration_id=feed_import.integration_id, kind="feed_import", ok=False,
                                  message=message, finished_at=utcnow()))
    db.session.commit()
    log.warning("feed import %s failed: %s", import_id, message)
    return feed_import


def _finish(import_id: int) -> None:
    finished = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id, FeedImport.state == "importing")
        .values(state="done", finished_at=utcnow())
    ).rowcount
    if finished:
        feed_import = db.session.get(FeedImport, import_id, populate_existing=True)
        db.session.add(IntegrationRun(
            integration_id=feed_import.integration_id, kind="feed_import", started_at=feed_import.started_at,
            finished_at=utcnow(), counts={"read": feed_import.rows_read, "matched": feed_import.matched,
                                          "unmatched": feed_import.unmatched, "invalid": feed_import.invalid,
                                          "links updated": feed_import.links_updated},
            message=f"{feed_import.rows_read} rows"))
    db.session.commit()


def import_chunk(import_id: int, rows: list[tuple]) -> dict[str, int]:
    """Apply one chunk of (line, sku, ean, payload) rows in one transaction; safe to run again."""
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
    counters = db.session.execute(
        update(FeedImport).where(FeedImport.id == import_id)
        .values(matched=FeedImport.matched + matched, unmatched=FeedImport.unmatched + (len(rows) - matched),
                links_updated=FeedImport.links_updated + updated, chunks_done=FeedImport.chunks_done + 1)
        .returning(FeedImport.chunks_done, FeedImport.chunks_total, FeedImport.state)
    ).one()
    db.session.commit()
    if counters.state == "importing" and counters.chunks_done >= counters.chunks_total:
        _finish(import_id)
    return {"rows": len(rows), "matched": matched, "links_updated": updated}


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


