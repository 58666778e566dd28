"""Availability sync: write each linked product's availability into its PrestaShop shop.

Straight into the shop's database (set-based, in chunks) when database settings are given,
otherwise through the webservice's stock_availables, rate-limited. With "only changed" (the
default), a product whose computed availability equals what was last written is not sent.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from flask_babel import lazy_gettext as _l

from app.catalog.models import ProductLink
from app.core import bulk
from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration, IntegrationRun
from app.integrations.prestashop.database import AvailabilityWrite, PrestaShopDatabase
from app.integrations.services import get_integration
from app.stock.availability import Availability, AvailabilityRules, decide
from app.stock.webservice import write_availability_webservice

log = logging.getLogger("kontor.stock")


@dataclass
class SyncResult:
    """What one availability sync did (or, in a dry run, would do)."""

    integration_id: int
    dry_run: bool
    considered: int = 0
    skipped_unchanged: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0
    duration: float = 0.0
    changed_rows: list = field(default_factory=list)
    missing_rows: list = field(default_factory=list)
    via: str = "database"

    def counts(self) -> dict[str, int]:
        """Shop rows changed, already right and missing, and links not sent because nothing changed."""
        return {"changed": self.changed, "unchanged": self.unchanged, "missing": self.missing,
                "not sent": self.skipped_unchanged}


def database_settings(integration: Integration) -> dict[str, Any]:
    """The shop database settings with defaults: prefix, shop ids, language ids, only changed."""
    settings = dict(integration.settings.get("database") or {})
    settings.setdefault("prefix", "ps_")
    settings.setdefault("shop_ids", [1])
    settings.setdefault("language_ids", [int(integration.settings.get("language_id", 1))])
    settings.setdefault("only_changed", True)
    return settings


def _plan(integration: Integration, rules: AvailabilityRules, limit: int | None, only_changed: bool):
    """Decide every link's availability; return (writes, what to remember per write, skipped, considered).

    Runs once per link, 100,000 times in a big shop, so it reads only what the rule needs (the
    supplier's stock and delivery days, extracted by the database) and decides each distinct
    (stock, delivery days) once. Links' metadata has few distinct values (what was written, when),
    so each is parsed once, and the metadata to remember is built once per (old metadata, key).
    """
    supplier = ProductLink.supplier_availability
    query = (select(ProductLink.id, ProductLink.external_product_id, ProductLink.external_combination_id,
                    supplier["stock_quantity"].as_string(), supplier["delivery_days"].as_string(),
                    cast(ProductLink.meta, Text))
             .where(ProductLink.integration_id == integration.id).order_by(ProductLink.id))
    if limit:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    links_per_product = Counter(row[1] for row in rows)
    decided: dict[tuple, tuple[Availability, list, list]] = {}
    metas: dict[str | None, dict] = {None: {}}
    writes, remembered, skipped = [], [], 0
    # product id -> (link id, combination id, decision, metadata) of each of its links
    with_combinations: dict[str, list[tuple]] = {}

    def plan(link_id: int, product_id: str, combination_id: str, decision: tuple, meta: dict, texts: bool) -> None:
        nonlocal skipped
        availability, with_texts, without_texts = decision
        key = with_texts if texts else without_texts
        if only_changed and meta.get("written") == key:
            skipped += 1
            return
        if not product_id.isdigit() or not str(combination_id).isdigit():
            return
        writes.append(AvailabilityWrite(int(product_id), int(combination_id), availability.out_of_stock,
                                        (availability.texts or None) if texts else None))
        remembered.append((link_id, meta, key))

    for link_id, product_id, combination_id, stock, days, meta_text in rows:
        decision = decided.get((stock, days))
        if decision is None:
            availability = decide({"stock_quantity": _json_value(stock), "delivery_days": _json_value(days)}, rules)
            # (availability, key when this link sets the product's texts, key when it does not)
            key = availability.key()
            decision = decided[(stock, days)] = (availability, [key, True], [key, False])
        meta = metas.get(meta_text)
        if meta is None:
            meta = metas[meta_text] = json.loads(meta_text) or {}
        if links_per_product[product_id] == 1:  # most products: no combinations, so the link sets the texts
            plan(link_id, product_id, combination_id, decision, meta, True)
        else:
            with_combinations.setdefault(product_id, []).append((link_id, combination_id, decision, meta))
    for product_id, product_rows in with_combinations.items():
        owner, best = _text_owner(product_rows), _best(product_rows)
        for row in product_rows:
            decision = row[2]
            if row is owner and str(row[1]) == "0":
                # PrestaShop reads a product's own row (and its texts) for the whole product: it may
                # be ordered as soon as any of its combinations may, and says what the best one says.
                decision = best[2]
            plan(row[0], product_id, row[1], decision, row[3], row is owner)
    return writes, remembered, skipped, len(rows)


def _best(product_rows: list[tuple]):
    """The link of a product whose decision is most generous (orders allowed), the product row on a tie."""
    return max(product_rows, key=lambda row: (row[2][0].out_of_stock, str(row[1]) == "0", -int(row[0])))


def _json_value(raw: Any) -> Any:
    """A JSON scalar as the database extracted it (text on PostgreSQL) back as the value it holds."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _text_owner(product_rows: list[tuple]):
    """The link whose decision sets the product's texts: the product itself, else its best combination.

    Rows are (link id, combination id, (availability, ...), metadata), as _plan collects them.
    """
    for row in product_rows:
        if str(row[1]) == "0":
            return row
    return _best(product_rows)


def sync_availability(integration_id: int, *, limit: int | None = None, dry_run: bool = False) -> SyncResult:
    """Compute and write the availability of every linked product of a PrestaShop integration.

    A run that fails (dry run included) is recorded in the integration's run log with its error
    in words, the shop database's password blanked out, and the error is raised again.
    """
    started = utcnow()
    integration = get_integration(integration_id)
    try:
        return _sync_availability(integration, started, limit=limit, dry_run=dry_run)
    except BaseException as error:
        db.session.rollback()
        message = failure_message(error, integration)
        log.warning("availability sync of integration %s failed: %s", integration_id, message)
        db.session.add(IntegrationRun(
            integration_id=integration_id, kind="availability_dry_run" if dry_run else "availability_sync",
            started_at=started, finished_at=utcnow(), ok=False, message=message))
        db.session.commit()
        raise


def failure_message(error: BaseException, integration: Integration) -> str:
    """Why a sync failed, in words, without the shop database's password."""
    message = getattr(error, "message", None)
    if not isinstance(message, str) or not message:
        lines = str(error).strip().splitlines()
        message = f"{error.__class__.__name__}: {lines[0][:300]}" if lines else error.__class__.__name__
    return redacted(message, integration)


def redacted(message: str, integration: Integration) -> str:
    """A message with the shop database's DSN and password blanked out."""
    dsn = integration.credentials.get("db_dsn") if integration.credentials_encrypted else None
    try:
        password = make_url(dsn).password if dsn else None
    except ArgumentError:
        password = None
    for secret in filter(None, (dsn, password)):
        message = message.replace(secret, "•••")
    return message


def _sync_availability(integration: Integration, started, *, limit: int | None, dry_run: bool) -> SyncResult:
    clock = time.monotonic()
    integration_id = integration.id
    if integration.kind != "prestashop":
        raise ValidationFailed(_l("Availability is synced to PrestaShop integrations."))
    settings = database_settings(integration)
    rules = AvailabilityRules.from_settings(integration.settings.get("availability") or {})
    dsn = integration.credentials.get("db_dsn")
    writes, remembered, skipped, considered = _plan(integration, rules, limit, settings["only_changed"])
    result = SyncResult(integration_id, dry_run, considered=considered, skipped_unchanged=skipped)
    if dsn:
        with PrestaShopDatabase(dsn, settings["prefix"]) as shop, ThreadPoolExecutor(max_workers=1) as pool:
            # The shop (another database) is written while the links are noted here; a failed write
            # rolls the notes back, and rows missing in the shop are un-noted once the report says which.
            writing = pool.submit(shop.write_availability, writes, shop_ids=settings["shop_ids"],
                                  language_ids=settings["language_ids"], dry_run=dry_run)
            try:
                if not dry_run:
                    _store_meta(_written_meta(writes, remembered))
                report = writing.result()
            except BaseException:
                db.session.rollback()
                raise
        result.changed, result.unchanged, result.missing = report.changed, report.unchanged, report.missing
        result.changed_rows = [_describe_change(row) for row in report.changed_rows]
        result.missing_rows = [row.reason for row in report.missing_rows]
        if not dry_run:
            # Not noted as written, so a row missing in the shop is reported on every run until it exists.
            _store_meta([(link_id, json.dumps(meta)) for write, (link_id, meta, _key) in zip(writes, remembered)
                         if (write.id_product, write.id_product_attribute) in report.missing_keys])
            db.session.commit()
        missing_keys = None
    else:
        result.via = "webservice"
        report = write_availability_webservice(integration, writes, dry_run=dry_run)
        result.changed, result.unchanged, result.missing = report["changed"], report["unchanged"], report["missing"]
        result.changed_rows, result.missing_rows = report["changed_rows"], report["missing_rows"]
        missing_keys = report.get("missing_keys", set())
    if not dry_run and missing_keys is not None:
        _store_meta(_written_meta(writes, remembered, missing_keys))
        db.session.commit()
    result.duration = time.monotonic() - clock
    db.session.add(IntegrationRun(
        integration_id=integration_id, kind="availability_dry_run" if dry_run else "availability_sync",
        started_at=started, finished_at=utcnow(), counts=result.counts(),
        message=f"{result.duration:.1f} s via {result.via}"))
    db.session.commit()
    return result


def _describe_change(row) -> str:
    key = ", ".join(f"{name} {value}" for name, value in row.key.items())
    changes = "; ".join(f"{column}: {row.before.get(column)!r} → {value!r}" for column, value in row.after.items()
                        if row.before.get(column) != value)
    return f"{row.table} ({key}): {changes}"


def _written_meta(writes, remembered: list[tuple[int, dict, list]], skip: set = frozenset()) -> list[tuple[int, str]]:
    """(link id, new metadata as JSON) noting what was written, so an unchanged product is not sent next time.

    Many links share the same old metadata and key, so each new value is serialised once.
    """
    now = utcnow().isoformat()
    serialised: dict[tuple[int, int], str] = {}
    rows = []
    for write, (link_id, meta, key) in zip(writes, remembered):
        if (write.id_product, write.id_product_attribute) in skip:
            continue
        # The metas and keys are shared objects that live as long as `remembered`, so id() is stable.
        value = serialised.get((id(meta), id(key)))
        if value is None:
            value = serialised[(id(meta), id(key))] = json.dumps({**meta, "written": key, "written_at": now})
        rows.append((link_id, value))
    return rows


def _store_meta(rows: list[tuple[int, str]]) -> None:
    """Set links' metadata in one set-based UPDATE (the caller commits)."""
    if not rows:
        return
    connection = db.session.connection()
    bulk.begin_write(connection)
    bulk.without_jit(connection)
    bulk.temp_table(connection, "written_links", "id INTEGER PRIMARY KEY, meta TEXT")
    bulk.load(connection, "written_links", ("id", "meta"), rows)
    meta = "CAST(w.meta AS json)" if connection.dialect.name == "postgresql" else "w.meta"
    connection.execute(text(f"UPDATE integration_product_links SET metadata = {meta} FROM written_links w"
                            " WHERE integration_product_links.id = w.id"))
