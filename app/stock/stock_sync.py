"""The stock sync's health, its operations list, reconciliation with the channels, and the daily cleanup."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select

from app.catalog.models import ProductLink
from app.core.types import utcnow
from app.extensions import db
from app.integrations import services as integrations
from app.integrations.allegro.offers import AllegroOffers
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.prestashop import stock_quantities
from app.stock.allegro_push import note_allegro_ended
from app.stock.models import StockDifference, StockSyncAttempt
from app.stock.stock_push import CHANNELS, STOCK_UPDATE, _takes_stock, record_updates, subject
from app.stock.warehouses import sellable
from app.sync.models import SyncOperation

log = logging.getLogger(__name__)
STALE_HOURS = 6
KEEP_DAYS = 30
LIST_STATES = ("pending", "processing", "done", "skipped", "failed", "cancelled")


def status() -> dict[str, Any]:
    """Pending, failed, completed today, stale over 6 h, and healthy or warning."""
    now = utcnow()
    base = select(func.count(SyncOperation.id)).where(SyncOperation.kind == STOCK_UPDATE)
    pending = db.session.scalar(base.where(SyncOperation.state.in_(("pending", "processing")))) or 0
    failed = db.session.scalar(base.where(SyncOperation.state == "failed")) or 0
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    completed = db.session.scalar(base.where(SyncOperation.state == "done", SyncOperation.finished_at >= midnight)) or 0
    stale = db.session.scalar(base.where(SyncOperation.state.in_(("pending", "processing")),
                                         SyncOperation.created_at < now - timedelta(hours=STALE_HOURS))) or 0
    differences = db.session.scalar(select(func.count(StockDifference.id))) or 0
    return {"pending": pending, "failed": failed, "completed_today": completed, "stale": stale,
            "differences": differences, "status": "healthy" if not failed and not stale else "warning"}


def operations(state: str = "", limit: int = 50, offset: int = 0) -> tuple[list[SyncOperation], int]:
    """Stock updates, newest first, optionally of one state; with the total count."""
    statement = select(SyncOperation).where(SyncOperation.kind == STOCK_UPDATE)
    counting = select(func.count(SyncOperation.id)).where(SyncOperation.kind == STOCK_UPDATE)
    if state:
        statement, counting = statement.where(SyncOperation.state == state), counting.where(SyncOperation.state == state)
    rows = db.session.scalars(statement.order_by(SyncOperation.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), db.session.scalar(counting) or 0


def as_json(operation: SyncOperation) -> dict[str, Any]:
    """An operation for the API."""
    payload = operation.payload or {}
    return {"id": operation.id, "integration_id": operation.integration_id, "state": operation.state,
            "link_id": payload.get("link_id"), "product_id": payload.get("product_id"),
            "offer_id": payload.get("offer_id"), "quantity": payload.get("quantity"), "attempts": operation.attempts,
            "next_attempt_at": operation.next_attempt_at.isoformat() if operation.next_attempt_at else None,
            "last_error": operation.last_error, "result": operation.result,
            "created_at": operation.created_at.isoformat(),
            "finished_at": operation.finished_at.isoformat() if operation.finished_at else None}


def attempts_of(operation_id: int) -> list[StockSyncAttempt]:
    """The attempt log of one operation."""
    return list(db.session.scalars(select(StockSyncAttempt).where(StockSyncAttempt.operation_id == operation_id)
                                   .order_by(StockSyncAttempt.id)))


# --- reconciliation ------------------------------------------------------------------------------

def _channel_quantities(integration: Integration, links: list[ProductLink]) -> dict[int, int]:
    """{link id: quantity the channel shows} for the links it knows."""
    if integration.kind == "allegro":
        shown: dict[str, int] = {}

        def read(client) -> None:
            offers, offset = AllegroOffers(client), 0
            while True:
                page, total = offers.offers_stock(offset, 1000)
                shown.update(page)
                offset += 1000
                if not page or offset >= total:
                    return

        integrations.call_platform(integration, read)
        for link in links:
            if link.external_product_id in shown:
                note_allegro_ended(link, shown[link.external_product_id].ended_empty)
        return {link.id: shown[link.external_product_id].available for link in links
                if link.external_product_id in shown}
    dsn = integration.credentials.get("db_dsn") if integration.credentials_encrypted else None
    keys = {link.id: (int(link.external_product_id), int(link.external_combination_id or 0)) for link in links}
    if dsn:
        settings = integration.settings.get("database") or {}
        found = stock_quantities.read_quantities(dsn, settings.get("prefix", "ps_"), settings.get("shop_ids") or [1],
                                                 list(keys.values()))
        return {link_id: found[key] for link_id, key in keys.items() if key in found}

    def read_each(client) -> dict[int, int]:
        result = {}
        for link_id, (product, combination) in keys.items():
            rows = client.stock_availables(product, combination)
            if rows:
                result[link_id] = int(rows[0].get("quantity") or 0)
        return result

    return integrations.call_platform(integration, read_each)


def reconcile(integration_id: int, *, fix_all: bool = False) -> dict[str, int]:
    """Compare one channel with Kontor; list differences, and fix old ones (or all with `fix_all`)."""
    integration = integrations.get_integration(integration_id)
    if integration.kind not in CHANNELS or not _takes_stock(integration):
        return {"checked": 0, "differences": 0, "fixed": 0}
    links = list(db.session.scalars(select(ProductLink).where(ProductLink.integration_id == integration.id)))
    shown = _channel_quantities(integration, links)
    kontor = sellable(sorted({link.product_id for link in links}))
    # A difference with an update still on its way is not one: the update will settle it.
    in_flight = set(db.session.scalars(select(SyncOperation.subject).where(
        SyncOperation.kind == STOCK_UPDATE, SyncOperation.integration_id == integration.id,
        SyncOperation.state.in_(("pending", "processing")))))
    known = {d.link_id: d for d in db.session.scalars(select(StockDifference).where(
        StockDifference.integration_id == integration.id))}
    now = utcnow()
    fix_after = timedelta(hours=float(current_app.config["STOCK_SYNC_FIX_AFTER_HOURS"]))
    to_fix, seen = [], set()
    for link in links:
        if link.id not in shown or subject(link.id) in in_flight:
            continue
        ours, theirs = kontor[link.product_id], shown[link.id]
        if ours == theirs:
            continue
        seen.add(link.id)
        difference = known.get(link.id)
        if difference is None:
            difference = StockDifference(integration_id=integration.id, link_id=link.id, product_id=link.product_id,
                                         kontor_quantity=ours, channel_quantity=theirs, first_seen_at=now)
            db.session.add(difference)
        difference.kontor_quantity, difference.channel_quantity, difference.last_seen_at = ours, theirs, now
        if fix_all or now - difference.first_seen_at >= fix_after:
            to_fix.append(link.product_id)
    for link_id, difference in known.items():
        if link_id not in seen:
            db.session.delete(difference)
    fixed = record_updates(to_fix, "reconciliation") if to_fix else 0
    db.session.commit()
    return {"checked": len(shown), "differences": len(seen), "fixed": fixed}


def reconcile_all(fix_all: bool = False, integration_id: int | None = None) -> dict[str, Any]:
    """Reconcile every channel that takes stock (or one); a failing channel does not stop the others."""
    outcomes: dict[str, Any] = {}
    for integration in integrations.list_integrations():
        if integration_id and integration.id != integration_id:
            continue
        if integration.kind not in CHANNELS or not _takes_stock(integration):
            continue
        try:
            outcomes[integration.name] = reconcile(integration.id, fix_all=fix_all)
        except (PlatformError, stock_quantities.StockWriteError) as error:
            db.session.rollback()
            outcomes[integration.name] = f"failed: {error}"
    return outcomes


def differences(limit: int = 200) -> list[StockDifference]:
    """What the last reconciliations found, oldest first."""
    return list(db.session.scalars(select(StockDifference).order_by(StockDifference.first_seen_at).limit(limit)))


def cleanup(days: int = KEEP_DAYS) -> dict[str, int]:
    """Delete finished stock updates and attempt logs older than `days`."""
    cutoff = utcnow() - timedelta(days=days)
    operations_deleted = db.session.execute(delete(SyncOperation).where(
        SyncOperation.kind == STOCK_UPDATE, SyncOperation.state.in_(("done", "skipped", "cancelled")),
        SyncOperation.finished_at < cutoff)).rowcount
    attempts_deleted = db.session.execute(delete(StockSyncAttempt).where(StockSyncAttempt.at < cutoff)).rowcount
    db.session.commit()
    return {"operations": operations_deleted, "attempts": attempts_deleted}
