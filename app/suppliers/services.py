"""Supplier feeds: where they come from, what their columns mean, and a preview of their first rows.

Reading a source safely (the feeds folder, public addresses, the size limit) is
app.suppliers.sources; importing a feed is app.suppliers.imports.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.catalog import supply
from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from app.integrations.models import Integration
from app.suppliers import csv as csv_feed, sources, xml as xml_feed
from app.suppliers.parsing import ColumnMapping, FeedError, typed_rows

FEED_KIND = "supplier_feed"
SOURCE_TYPES = {"upload": _l("Uploaded file"), "path": _l("File on the server"), "url": _l("HTTP(S) address")}
FORMATS = {"csv": "CSV", "xml": "XML"}
MAPPING_FIELDS = ("sku", "ean", "stock_quantity", "delivery_days", "purchase_price")
DEFAULT_MAX_MB = 200
MB = 1024 * 1024
# The preview shows 20 rows: it never reads further than this, whatever the feed's size limit.
PREVIEW_BYTES = 4 * MB


# --- feeds ----------------------------------------------------------------------


def get_feed(feed_id: int) -> Integration:
    """The supplier feed integration, or NotFound."""
    feed = db.session.get(Integration, feed_id)
    if feed is None or feed.kind != FEED_KIND:
        raise NotFound(_l("Supplier feed %(feed_id)s does not exist.", feed_id=feed_id))
    return feed


def list_feeds() -> list[Integration]:
    """All supplier feeds by name."""
    return list(db.session.scalars(select(Integration).where(Integration.kind == FEED_KIND)
                                   .order_by(Integration.name)))


def upload_folder(feed: Integration) -> Path:
    """Where a feed's uploaded file is kept: instance/feeds/<id>/."""
    return Path(current_app.config["INSTANCE_PATH"]) / "feeds" / str(feed.id)


def feeds_dir() -> Path:
    """The one folder path feeds may read from (KONTOR_FEEDS_DIR, by default instance/feeds/)."""
    configured = current_app.config.get("FEEDS_DIR")
    return Path(configured or Path(current_app.config["INSTANCE_PATH"]) / "feeds").resolve()


def _allowed_hosts() -> frozenset[str]:
    return frozenset(current_app.config.get("FEED_ALLOWED_HOSTS") or ())


def _check_location(source_type: str, location: str) -> None:
    """Refuse, next to the field, a path outside the feeds folder or an address that is not public."""
    try:
        if source_type == "url":
            sources.check_url(location, _allowed_hosts())
        elif source_type == "path":
            sources.resolve_feed_path(location, feeds_dir())
    except FeedError as error:
        raise ValidationFailed(str(error), field="location") from None


def save_feed(feed: Integration | None, *, name: str, source_type: str, location: str, format: str,
              item_path: str = "", max_mb: int = DEFAULT_MAX_MB, upload: BinaryIO | None = None,
              upload_name: str = "", missing_products: str = supply.KEEP,
              missing_after: int = supply.DEFAULT_AFTER_IMPORTS) -> Integration:
    """Create or change a supplier feed; an uploaded file is stored under instance/feeds/<id>/.

    `missing_products` says what a product the feed stops listing is taken to have: its last
    known stock (keep) or stock 0 after `missing_after` imports without it (zero).
    """
    location = location.strip() if source_type != "upload" else ""  # an upload has no address to keep
    if not name.strip():
        raise ValidationFailed(_l("Give the feed a name, e.g. the supplier's."), field="name")
    if source_type not in SOURCE_TYPES:
        raise ValidationFailed(_l("Choose where the feed comes from."), field="source_type")
    if format not in FORMATS:
        raise ValidationFailed(_l("Choose CSV or XML."), field="format")
    if source_type == "url" and not location.startswith(("http://", "https://")):
        raise ValidationFailed(_l("The address must start with http:// or https://."), field="location")
    if source_type == "path" and not location:
        raise ValidationFailed(_l("Give the path of the file in the feeds folder %(feeds_dir)s.", feeds_dir=feeds_dir()), field="location")
    _check_location(source_type, location)
    if format == "xml" and not item_path.strip():
        raise ValidationFailed(_l("Name the element that repeats for each product, e.g. product or offers/offer."),
                               field="item_path")
    if missing_products not in supply.MISSING_POLICIES:
        raise ValidationFailed(_l("Choose what happens to products the feed stops listing."), field="missing_products")
    if not isinstance(missing_after, int) or not 1 <= missing_after <= supply.MAX_AFTER_IMPORTS:
        raise ValidationFailed(_l("Give a number of imports from 1 to %(most)s.", most=supply.MAX_AFTER_IMPORTS),
                               field="missing_after")
    if source_type == "upload" and upload is None and not (feed and feed.settings.get("upload_file")):
        raise ValidationFailed(_l("Choose the file to upload."), field="upload")
    if feed is None:
        feed = Integration(kind=FEED_KIND, sync_direction="off", settings={})
        db.session.add(feed)
    feed.name = name.strip()
    feed.settings = {**(feed.settings or {}), "source_type": source_type, "location": location,
                     "format": format, "item_path": item_path.strip(), "max_mb": int(max_mb or DEFAULT_MAX_MB),
                     "missing_products": missing_products, "missing_after": missing_after}
    db.session.flush()
    if upload is not None:
        folder = upload_folder(feed)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / ("upload.xml" if format == "xml" else "upload.csv")
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as handle:
                _copy_capped(upload, handle, feed.settings["max_mb"])
        except BaseException:
            partial.unlink(missing_ok=True)  # a refused replacement leaves the previous upload as it was
            raise
        os.replace(partial, target)
        feed.settings = {**feed.settings, "upload_file": str(target), "upload_name": upload_name}
    db.session.commit()
    return feed


def _copy_capped(source: BinaryIO, target: BinaryIO, max_mb: int) -> None:
    limit, copied = max_mb * MB, 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > limit:
            raise ValidationFailed(_l("The file is larger than the %(max_mb)s MB limit.", max_mb=max_mb), field="upload")
        target.write(chunk)


@contextmanager
def open_feed(feed: Integration) -> Iterator[BinaryIO]:
    """Open the feed's source as a binary stream capped at its size limit (see app.suppliers.sources)."""
    settings = feed.settings
    limit = int(settings.get("max_mb", DEFAULT_MAX_MB)) * MB
    source_type = settings.get("source_type")
    if source_type == "upload":
        stored = Path(settings.get("upload_file") or "")
        # Kontor wrote this path itself (see save_feed), but the web and worker processes may have
        # different instance folders: so check its shape, not its folder: feeds/<feed id>/upload.csv|xml.
        if stored.name not in ("upload.csv", "upload.xml") or stored.parent.name != str(feed.id) \
                or stored.parent.parent.name != "feeds":
            raise FeedError("No file has been uploaded for this feed yet.")
        opened = sources.open_file(stored.name, stored.parent, limit)
    elif source_type == "path":
        opened = sources.open_file(settings.get("location") or "", feeds_dir(), limit)
    elif source_type == "url":
        opened = sources.open_url(settings.get("location") or "", limit, _allowed_hosts())
    else:
        raise FeedError("The feed has no source; edit it and choose where it comes from.")
    with opened as stream:
        yield stream


def feed_rows(feed: Integration, stream: BinaryIO):
    """(headers, raw rows) of a feed stream in its format."""
    if feed.settings.get("format") == "xml":
        return None, xml_feed.read_xml(stream, feed.settings.get("item_path", ""))
    reader = csv_feed.read_csv(stream)
    return reader.headers, reader


def mapping_of(feed: Integration) -> ColumnMapping | None:
    """The feed's column mapping, or None until stock quantity and a key are mapped."""
    chosen = feed.settings.get("mapping") or {}
    if not chosen.get("stock_quantity") or not (chosen.get("sku") or chosen.get("ean")):
        return None
    return ColumnMapping(**{name: chosen.get(name) or None for name in MAPPING_FIELDS})


@contextmanager
def _open_preview(feed: Integration) -> Iterator[BinaryIO]:
    with open_feed(feed) as stream:
        yield sources.CappedStream(stream, PREVIEW_BYTES, (
            f"The feed's first rows run past {PREVIEW_BYTES // MB} MB, so the preview stopped reading. Check that "
            f"the source is a CSV or XML feed (one product per line or element)."))


def preview(feed_id: int, limit: int = 20) -> dict[str, Any]:
    """Headers of the feed and its first rows as they will be read; remembers the headers.

    Reads only what it shows: the first rows, and never more than PREVIEW_BYTES.
    """
    feed = get_feed(feed_id)
    with _open_preview(feed) as stream:
        if feed.settings.get("format") == "xml":
            headers = xml_feed.xml_headers(stream, feed.settings.get("item_path", ""))
            raw_rows = None
        else:
            headers, raw_rows = feed_rows(feed, stream)
            raw_rows = [row for _, row in zip(range(limit), raw_rows)]
    if raw_rows is None:
        with _open_preview(feed) as stream:
            _, rows = feed_rows(feed, stream)
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
        raise ValidationFailed(_l("The feed has no column “%(unknown)s”; refresh the preview.", unknown=unknown[0]), field="mapping")
    if not mapping["stock_quantity"]:
        raise ValidationFailed(_l("Choose the column with the stock quantity."), field="stock_quantity")
    if not (mapping["sku"] or mapping["ean"]):
        raise ValidationFailed(_l("Choose the SKU column, the EAN column, or both: rows are matched by them."),
                               field="sku")
    feed.settings = {**feed.settings, "mapping": mapping}
    db.session.commit()
    return feed


def missing_policy(feed: Integration) -> supply.MissingPolicy:
    """The feed's rule for products it stops listing."""
    return supply.MissingPolicy.of(feed.settings)
