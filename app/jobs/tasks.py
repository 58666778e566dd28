"""Tasks RQ runs. Thin: they take ids and names and call services.

Each task that is started on demand has one `start_…` helper beside it: the queue, the stable job
id and the timeout are written there once. After-commit handlers (app.jobs.handlers) and the
sweepers call them; views and CLI commands call services, which announce the work with an event.
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from app.catalog.services import autolink
from app.core.errors import ValidationFailed
from app.core.health import HEARTBEAT_KEY
from app.core.types import utcnow
from app.extensions import redis_connection
from app.inbound import allegro as allegro_journal
from app.inbound import ledger
from app.inbound import prestashop as prestashop_orders
from app.inbound.imports import import_orders
from app.inbound.polling import poll_all, poll_orders
from app.inbound.services import process_batch, process_event
from app.integrations.base import PlatformError
from app.integrations.services import list_integrations
from app.integrations.state_mappings import sync_states
from app.jobs.queues import any_waiting, enqueue
from app.jobs.schedule import find
from app.monitoring import alerts, queues as rq_state
from app.stock import reservations, stock_push, stock_sync
from app.stock import services as stock_services
from app.stock.links import shop_items
from app.suppliers.imports import fail_stalled, import_chunk, queue_import, run_import, stalled_imports
from app.suppliers.services import list_feeds
from app.sync import claims, outbox, push

log = logging.getLogger("kontor.jobs")

LAST_RUN_KEY = rq_state.LAST_RUN_KEY
SWEEP_KEY = "kontor:sync:last-sweep"


def lock_key(name: str) -> str:
    return f"kontor:jobs:lock:{name}"


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def run_recurring(name: str) -> dict[str, Any]:
    """Run a scheduled job unless its previous run still holds the lock."""
    job = find(name)
    client = redis_connection.client
    lock = client.lock(lock_key(name), timeout=job.lock_timeout, blocking=False)
    if not lock.acquire():
        log.info("recurring job %s skipped: the previous run is still going", name)
        outcome = {"outcome": "skipped", "reason": "previous run still going", "at": utcnow().isoformat()}
        client.hset(LAST_RUN_KEY, f"{name}:skipped", json.dumps(outcome))
        return outcome
    started = utcnow()
    try:
        result = _resolve(job.func)()
        outcome = {"outcome": "ok", "result": result, "started": started.isoformat(),
                   "finished": utcnow().isoformat()}
        return outcome
    except Exception as error:
        outcome = {"outcome": "error", "error": str(error)[:500], "started": started.isoformat(),
                   "finished": utcnow().isoformat()}
        raise
    finally:
        client.hset(LAST_RUN_KEY, name, json.dumps(outcome, default=str))
        try:
            lock.release()
        except Exception:  # the lock expired under a very long run; nothing left to release
            log.warning("lock of recurring job %s had already expired", name)


def heartbeat() -> str:
    """Record that the scheduler and a worker are alive."""
    now = utcnow().isoformat()
    redis_connection.client.set(HEARTBEAT_KEY, now)
    return now


def last_runs() -> dict[str, dict]:
    """The last outcome of each recurring job, by name."""
    return rq_state.last_runs()


def check_alerts() -> dict[str, int]:
    """Open an alert for each condition that started, a recovery for each that ended (every 5 minutes)."""
    return alerts.check()


def prune_failed_jobs() -> int:
    """Delete failed jobs that ended more than 168 hours ago (daily at 02:00)."""
    return rq_state.prune_failed()


def process_sync_operation(operation_id: int) -> str:
    """Deliver one outbox operation (by its kind: status push, shipment push ...)."""
    return outbox.deliver(operation_id)


def start_sync_operation(operation_id: int, job_id: str, replace_finished: bool = False):
    """Enqueue one outbox operation's delivery under its stable job id."""
    return enqueue(process_sync_operation, operation_id, queue="integrations", job_id=job_id,
                   replace_finished=replace_finished)


def sweep_outbox() -> dict[str, int]:
    """Re-enqueue due and abandoned operations and log what finished since the last sweep."""
    started = utcnow()
    client = redis_connection.client
    last = client.get(SWEEP_KEY)
    since = datetime.fromisoformat(last.decode()) if last else started - timedelta(minutes=1)
    reclaimed = claims.reclaim_abandoned()
    enqueued = 0
    for operation_id, job_id in claims.due():
        if start_sync_operation(operation_id, job_id, replace_finished=True):
            enqueued += 1
    push.record_sweep(push.finished_since(since), started)
    client.set(SWEEP_KEY, started.isoformat())
    return {"enqueued": enqueued, "reclaimed": reclaimed}


def process_inbound_event(event_id: int) -> str:
    """Apply one stored delivery (webhook, polled order)."""
    return process_event(event_id)


def start_inbound_event(event_id: int, job_id: str):
    """Enqueue one stored delivery's processing under its stable job id (again if an earlier job ended)."""
    return enqueue(process_inbound_event, event_id, queue="orders", job_id=job_id, replace_finished=True)


def process_inbound_batch(event_ids: list[int]) -> dict[str, int]:
    """Apply stored deliveries fetched in bulk (checkout forms, shop orders): their orders set-based, one commit."""
    return process_batch(event_ids)


def start_inbound_batch(event_ids: list[int], job_id: str):
    """Enqueue one job for a batch of stored deliveries; the sweeper takes any it never reached."""
    return enqueue(process_inbound_batch, event_ids, queue="orders", job_id=job_id, timeout=1800)


def import_orders_now(integration_id: int) -> dict[str, int]:
    """Import one integration's changed orders now (the "Import now" button)."""
    return import_orders(integration_id)


def start_order_import(integration_id: int):
    """Enqueue an order import of one integration; one at a time per integration."""
    return enqueue(import_orders_now, integration_id, queue="orders", job_id=f"order-import-{integration_id}",
                   replace_finished=True, timeout=3600)


def read_all_allegro_journals() -> dict[str, str]:
    """Read the order event journal of every enabled Allegro integration (every minute)."""
    return allegro_journal.poll_all()


def import_all_prestashop_orders() -> dict[str, str]:
    """Import the orders each enabled PrestaShop shop changed since the last import (every 10 minutes)."""
    return prestashop_orders.import_all()


def sweep_inbound() -> dict[str, int]:
    """Enqueue stored deliveries that are due: never processed (lost job, dead worker) or failed and due a retry."""
    enqueued = 0
    for event_id, job_id in ledger.due():
        if start_inbound_event(event_id, job_id):
            enqueued += 1
    return {"enqueued": enqueued}


def poll_shop_orders(integration_id: int) -> dict[str, int]:
    """Store the orders one Shopify or WooCommerce shop changed since the last poll."""
    return poll_orders(integration_id)


def poll_all_shops() -> dict[str, str]:
    """Poll every enabled Shopify and WooCommerce shop for changed orders (webhooks can be late or missing)."""
    return poll_all()


def sync_platform_states(integration_id: int) -> dict[str, int]:
    """Refresh one integration's platform states."""
    return sync_states(integration_id)


def sync_all_platform_states() -> dict[str, str]:
    """Refresh the platform states of every enabled integration; one failure does not stop the rest."""
    outcomes = {}
    for integration in list_integrations():
        if not integration.enabled or integration.kind == "generic":  # a generic sender has no states to list
            continue
        try:
            outcomes[integration.name] = f"{sync_states(integration.id)['states']} states"
        except PlatformError as error:
            outcomes[integration.name] = f"failed: {error.message}"
    return outcomes


# --- supplier feeds, product links, availability ------------------------------------------


def run_feed_import(import_id: int, limit: int | None = None) -> dict[str, Any]:
    """Read a feed and enqueue its chunks on the import queue."""
    feed_import = run_import(import_id, start_feed_chunk, limit=limit)
    return {"state": feed_import.state, "rows": feed_import.rows_read, "chunks": feed_import.chunks_total}


def import_feed_chunk(import_id: int, rows: list) -> dict[str, int]:
    """Apply one chunk of a feed import."""
    return import_chunk(import_id, rows)


def start_feed_import(import_id: int, limit: int | None = None):
    """Enqueue reading a recorded feed import (it then enqueues its chunks)."""
    return enqueue(run_feed_import, import_id, limit, queue="import", job_id=f"feed-import-{import_id}",
                   timeout=3600)


def start_feed_chunk(import_id: int, number: int, rows: list) -> None:
    """Enqueue applying one chunk of a feed import."""
    enqueue(import_feed_chunk, import_id, rows, queue="import", job_id=f"feed-import-{import_id}-chunk-{number}",
            timeout=1800)


def import_all_feeds() -> dict[str, str]:
    """Start an import of every enabled, mapped supplier feed (the hourly run)."""
    started = {}
    for feed in list_feeds():
        if not feed.enabled:
            continue
        try:
            feed_import = queue_import(feed.id)
        except ValidationFailed as error:
            started[feed.name] = f"not started: {error.message}"
            continue
        started[feed.name] = f"import {feed_import.id}"
    return started


def fail_stalled_feed_imports() -> dict[str, int]:
    """Mark feed imports failed that made no progress for 15 minutes, unless their jobs still wait in the queue."""
    outcome = {"failed": 0, "waiting": 0}
    for feed_import in stalled_imports():
        jobs = [f"feed-import-{feed_import.id}"]
        if feed_import.state == "importing":
            jobs += [f"feed-import-{feed_import.id}-chunk-{n}" for n in range(feed_import.chunks_total)]
        if any_waiting(jobs):  # queued behind other work is not stalled
            outcome["waiting"] += 1
        elif fail_stalled(feed_import.id):
            outcome["failed"] += 1
    return outcome


def autolink_products(integration_id: int, create_missing: bool = False) -> dict[str, int]:
    """Link a shop's products and combinations to Kontor products by SKU, then EAN."""
    return autolink(integration_id, shop_items(integration_id), create_missing=create_missing)


def start_autolink(integration_id: int, create_missing: bool = False):
    """Enqueue linking one shop's products (again if an earlier run ended)."""
    return enqueue(autolink_products, integration_id, create_missing, queue="integrations",
                   job_id=f"autolink-{integration_id}", timeout=3600, replace_finished=True)


def sync_availability(integration_id: int, limit: int | None = None, dry_run: bool = False) -> dict[str, int]:
    """Write linked products' availability into one PrestaShop shop."""
    return stock_services.sync_availability(integration_id, limit=limit, dry_run=dry_run).counts()


def sync_all_availability() -> dict[str, Any]:
    """Sync availability to every enabled PrestaShop integration that has it switched on (every 30 min)."""
    outcomes: dict[str, Any] = {}
    for integration in list_integrations():
        if integration.kind != "prestashop" or not integration.enabled:
            continue
        if not (integration.settings.get("availability") or {}).get("enabled"):
            continue
        try:
            outcomes[integration.name] = stock_services.sync_availability(integration.id).counts()
        except Exception as error:  # one shop's failure must not stop the others
            log.exception("availability sync of %s failed", integration.name)
            outcomes[integration.name] = f"failed: {error}"
    return outcomes


def start_availability_sync(integration_id: int):
    """Enqueue one shop's availability sync (again if an earlier run ended)."""
    return enqueue(sync_availability, integration_id, queue="integrations", job_id=f"availability-{integration_id}",
                   timeout=1800, replace_finished=True)


# --- warehouse: reservations, stock to the channels ----------------------------------------


def expire_reservations() -> dict[str, int]:
    """Release reservations whose time ran out (every 5 minutes)."""
    return reservations.expire_due()


def deliver_stock_updates(integration_id: int) -> str:
    """Deliver every due stock update of one integration, in batches."""
    return stock_push.deliver_due(integration_id)


def start_stock_updates(integration_id: int):
    """Enqueue the delivery of an integration's stock updates; one job per integration drains them all."""
    return enqueue(deliver_stock_updates, integration_id, queue="integrations", job_id=f"stock-sync-{integration_id}",
                   replace_finished=True, timeout=3600)


def reconcile_stock() -> dict[str, Any]:
    """Compare the channels' quantities with Kontor's, list differences and fix the old ones (every 30 min)."""
    return stock_sync.reconcile_all()


def clean_stock_sync() -> dict[str, int]:
    """Delete finished stock updates and attempt logs older than 30 days (daily)."""
    return stock_sync.cleanup()
