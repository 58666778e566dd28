"""Availability sync: write each linked product's availability into its PrestaShop shop.

Straight into the shop's database (set-based, in chunks) when database settings are given,
otherwise through the webservice's stock_availables, rate-limited. With "only changed" (the
default), a product whose computed availability equals what was last written is not sent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from app.catalog.models import ProductLink
from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration, IntegrationRun
from app.integrations.services import get_integration
from app.stock.availability import Availability, AvailabilityRules, decide

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
        return {"changed": self.changed, "unchanged": self.unchanged + self.skipped_unchanged, "missing": self.missing}


def database_settings(integration: Integration) -> dict[str, Any]:
    """The shop database settings with defaults: prefix, shop ids, language ids, only changed."""
    settings = dict(integration.settings.get("database") or {})
    settings.setdefault("prefix", "ps_")
    settings.setdefault("shop_ids", [1])
    settings.setdefault("language_ids", [int(integration.settings.get("language_id", 1))])
    settings.setdefault("only_changed", True)
    return settings


def _plan(integration: Integration, rules: AvailabilityRules, limit: int | None, only_changed: bool):
    """Decide every link's availability; return (writes, link ids with their new key, skipped count)."""
    from app.integrations.prestashop.database import AvailabilityWrite

    query = (select(ProductLink.id, ProductLink.external_product_id, ProductLink.external_combination_id,
                    ProductLink.supplier_availability, ProductLink.meta)
             .where(ProductLink.integration_id == integration.id).order_by(ProductLink.id))
    if limit:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    by_product: dict[str, list] = {}
    for row in rows:
        by_product.setdefault(row.external_product_id, []).append(row)
    writes, remembered, skipped = [], [], 0
    for product_id, product_rows in by_product.items():
        decisions = [(row, decide(row.supplier_availability, rules)) for row in product_rows]
        text_owner = _text_owner(decisions)
        for row, availability in decisions:
            texts = text_owner[1].texts if row is text_owner[0] else None
            key = [availability.key(), texts is not None]
            if only_changed and (row.meta or {}).get("written") == key:
                skipped += 1
                continue
            if not product_id.isdigit() or not str(row.external_combination_id).isdigit():
                continue
            writes.append(AvailabilityWrite(int(product_id), int(row.external_combination_id),
                                            availability.out_of_stock, texts or None))
            remembered.append((row.id, key, row.meta or {}))
    return writes, remembered, skipped, len(rows)


def _text_owner(decisions: list[tuple[Any, Availability]]):
    """The link whose decision sets the product's texts: the product itself, else its best combination."""
    for row, availability in decisions:
        if str(row.external_combination_id) == "0":
            return row, availability
    return max(decisions, key=lambda pair: (pair[1].out_of_stock, -int(pair[0].id)))


def sync_availability(integration_id: int, *, limit: int | None = None, dry_run: bool = False) -> SyncResult:
    """Compute and write the availability of every linked product of a PrestaShop integration."""
    from app.integrations.prestashop.database import PrestaShopDatabase

    started, clock = utcnow(), time.monotonic()
    integration = get_integration(integration_id)
    if integration.kind != "prestashop":
        raise ValidationFailed("Availability is synced to PrestaShop integrations.")
    settings = database_settings(integration)
    rules = AvailabilityRules.from_settings(integration.settings.get("availability") or {})
    dsn = integration.credentials.get("db_dsn")
    writes, remembered, skipped, considered = _plan(integration, rules, limit, settings["only_changed"])
    result = SyncResult(integration_id, dry_run, considered=considered, skipped_unchanged=skipped)
    if dsn:
        report = PrestaShopDatabase(dsn, settings["prefix"]).write_availability(
            writes, shop_ids=settings["shop_ids"], language_ids=settings["language_ids"], dry_run=dry_run)
        result.changed, result.unchanged, result.missing = report.changed, report.unchanged, report.missing
        result.changed_rows = [_describe_change(row) for row in report.changed_rows]
        result.missing_rows = [row.reason for row in report.missing_rows]
        # A row missing in the shop is reported on every run until the shop has it.
        missing_keys = {(row.key.get("id_product"), row.key.get("id_product_attribute", 0))
                        for row in report.missing_rows}
    else:
        from app.stock.webservice import write_availability_webservice

        result.via = "webservice"
        report = write_availability_webservice(integration, writes, dry_run=dry_run)
        result.changed, result.unchanged, result.missing = report["changed"], report["unchanged"], report["missing"]
        result.changed_rows, result.missing_rows = report["changed_rows"], report["missing_rows"]
        missing_keys = report.get("missing_keys", set())
    if not dry_run:
        _remember(writes, remembered, missing_keys)
    result.duration = time.monotonic() - clock
    db.session.add(IntegrationRun(
        integration_id=integration_id, kind="availability_dry_run" if dry_run else "availability_sync",
        started_at=started, finished_at=utcnow(), counts=result.counts(),
        message=f"{result.duration:.1f} s via {result.via}"))
    db.session.commit()
    return result


def _describe_change(row) -> str:
    key = ", ".join(f"{name} {value}" for name, value in row.key.items())
    changes = "; ".join(f"{column}: {row.before.get(column)!r} → {value!r}" for column, value in row.after.items())
    return f"{row.table} ({key}): {changes}"


def _remember(writes, remembered: list[tuple[int, list, dict]], missing_keys: set) -> None:
    """Note on each link what was written, so an unchanged product is not sent next time."""
    now = utcnow().isoformat()
    rows = [{"id": link_id, "meta": {**meta, "written": key, "written_at": now}}
            for write, (link_id, key, meta) in zip(writes, remembered)
            if (write.id_product, write.id_product_attribute) not in missing_keys]
    for start in range(0, len(rows), 5000):
        db.session.execute(update(ProductLink), rows[start:start + 5000])
    db.session.commit()
