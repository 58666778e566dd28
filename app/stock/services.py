"""Availability sync: write each linked product's availability into its PrestaShop shop.

Straight into the shop's database (set-based, in chunks) when database settings are given,
otherwise through the webservice's stock_availables, rate-limited. Either way each row is
compared with what the shop holds now, so a value changed in the shop is repaired and a run with
nothing to change writes nothing; both paths report in one shape (AvailabilityReport).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from flask_babel import lazy_gettext as _l

from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.integrations.base import AvailabilityReport, MissingRow, RowChange
from app.integrations.models import Integration, IntegrationRun
from app.integrations.prestashop.database import PrestaShopDatabase
from app.integrations.services import get_integration
from app.stock.availability import AvailabilityRules
from app.stock.plan import Plan, plan_availability, plan_batches
from app.stock.webservice import write_availability_webservice

log = logging.getLogger("kontor.stock")

RUN_KINDS = ("availability_sync", "availability_dry_run")
MISSING_CSV_COLUMNS = ("table", "id_product", "id_product_attribute", "id_shop", "id_shop_group", "id_lang",
                       "reason")


@dataclass
class SyncResult:
    """What one availability sync did (or, in a dry run, would do): products and shop rows, counted apart."""

    integration_id: int
    dry_run: bool
    considered: int = 0  # linked products and combinations
    sent: int = 0  # of them, written (or compared) in the shop
    without_supplier_data: int = 0
    taken_as_zero: int = 0
    products_missing: int = 0  # sent products/combinations lacking at least one shop row
    changed: int = 0  # shop rows
    unchanged: int = 0
    missing: int = 0
    duration: float = 0.0
    changed_rows: list[str] = field(default_factory=list)  # a sample
    missing_rows: list[str] = field(default_factory=list)  # all of them
    run_id: int | None = None
    via: str = "database"

    def counts(self) -> dict[str, int]:
        """The run record's counts: shop rows changed, already right and missing; products by outcome."""
        return {"changed": self.changed, "unchanged": self.unchanged, "missing": self.missing,
                "linked products": self.considered, "products sent": self.sent,
                "products without supplier data": self.without_supplier_data,
                "products taken as 0": self.taken_as_zero, "products with missing rows": self.products_missing}

    def rows_summary(self):
        """Shop rows, in words (a lazy message: said in the reader's language)."""
        if self.dry_run:
            return _l("shop rows: %(changed)s would change, %(unchanged)s already right, %(missing)s missing in the "
                      "shop", changed=self.changed, unchanged=self.unchanged, missing=self.missing)
        return _l("shop rows: %(changed)s changed, %(unchanged)s already right, %(missing)s missing in the shop",
                  changed=self.changed, unchanged=self.unchanged, missing=self.missing)

    def products_summary(self) -> str:
        """Linked products, in words."""
        return (f"linked products: {self.considered}, sent {self.sent}, without supplier data (not written) "
                f"{self.without_supplier_data}, taken as 0 (missing from the feed) {self.taken_as_zero}, "
                f"with missing shop rows {self.products_missing}")


def database_settings(integration: Integration) -> dict[str, Any]:
    """The shop database settings with defaults: prefix, shop ids, language ids, only changed."""
    settings = dict(integration.settings.get("database") or {})
    settings.setdefault("prefix", "ps_")
    settings.setdefault("shop_ids", [1])
    settings.setdefault("language_ids", [int(integration.settings.get("language_id", 1))])
    settings.setdefault("only_changed", True)
    return settings


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
    if integration.kind != "prestashop":
        raise ValidationFailed(_l("Availability is synced to PrestaShop integrations."))
    settings = database_settings(integration)
    rules = AvailabilityRules.from_settings(integration.settings.get("availability") or {})
    dsn = integration.credentials.get("db_dsn")
    if dsn:
        # The plan is made batch by batch while the shop's database writes the batches before.
        plan = Plan()
        with PrestaShopDatabase(dsn, settings["prefix"]) as shop:
            report = shop.write_availability_batches(
                plan_batches(integration, rules, plan, limit), shop_ids=settings["shop_ids"],
                language_ids=settings["language_ids"], dry_run=dry_run, only_changed=settings["only_changed"])
        via = "database"
    else:
        plan = plan_availability(integration, rules, limit)
        report = write_availability_webservice(integration, plan.writes, dry_run=dry_run,
                                               only_changed=settings["only_changed"])
        via = "webservice"
    result = _result(integration.id, plan, report, via)
    result.duration = time.monotonic() - clock
    run = IntegrationRun(
        integration_id=integration.id, kind=RUN_KINDS[1] if dry_run else RUN_KINDS[0],
        started_at=started, finished_at=utcnow(), counts=result.counts(),
        details={"missing_rows": [_missing_record(row) for row in report.missing_rows],
                 "changed_rows": result.changed_rows})
    seconds = f"{result.duration:.1f}"
    if via == "database":
        run.say(_l("%(duration)s s via database; %(rows)s", duration=seconds, rows=result.rows_summary()))
    else:
        run.say(_l("%(duration)s s via webservice; %(rows)s", duration=seconds, rows=result.rows_summary()))
    db.session.add(run)
    db.session.commit()
    result.run_id = run.id
    return result


def _result(integration_id: int, plan: Plan, report: AvailabilityReport, via: str) -> SyncResult:
    return SyncResult(
        integration_id, report.dry_run, considered=plan.considered, sent=report.products,
        without_supplier_data=plan.without_supplier_data, taken_as_zero=plan.taken_as_zero,
        products_missing=len(report.missing_keys), changed=report.changed, unchanged=report.unchanged,
        missing=report.missing, changed_rows=[_describe_change(row) for row in report.changed_rows],
        missing_rows=[row.reason for row in report.missing_rows], via=via)


def _describe_change(row: RowChange) -> str:
    key = ", ".join(f"{name} {value}" for name, value in row.key.items())
    changes = "; ".join(f"{column}: {row.before.get(column)!r} → {value!r}" for column, value in row.after.items()
                        if row.before.get(column) != value)
    return f"{row.table} ({key}): {changes}"


def _missing_record(row: MissingRow) -> dict[str, Any]:
    return {"table": row.table, **row.key, "reason": row.reason}


# --- the run log's missing rows ---------------------------------------------------------------


def availability_run(integration_id: int, run_id: int) -> IntegrationRun:
    """An availability sync run of the integration, or NotFound."""
    run = db.session.get(IntegrationRun, run_id)
    if run is None or run.integration_id != integration_id or run.kind not in RUN_KINDS:
        raise NotFound(f"Availability run {run_id} does not exist.")
    return run


def latest_availability_run(integration_id: int) -> IntegrationRun | None:
    """The integration's newest availability run (dry runs included), or None."""
    return db.session.scalar(select(IntegrationRun).where(
        IntegrationRun.integration_id == integration_id, IntegrationRun.kind.in_(RUN_KINDS))
        .order_by(IntegrationRun.id.desc()).limit(1))


def missing_rows_csv(run: IntegrationRun) -> Iterator[str]:
    """Every shop row the run could not find, as CSV lines (table, ids, reason)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(MISSING_CSV_COLUMNS)
    yield buffer.getvalue()
    for record in (run.details or {}).get("missing_rows", []):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([record.get(column, "") for column in MISSING_CSV_COLUMNS])
        yield buffer.getvalue()
