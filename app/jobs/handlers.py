"""Jobs ring the doorbell for work other domains record: each handler starts its job after the commit."""

from __future__ import annotations

from app.catalog.services import AUTOLINK_REQUESTED
from app.core.events import bus
from app.inbound.imports import IMPORT_REQUESTED
from app.inbound.ledger import BATCH_RECORDED, DELIVERY_STORED, EVENT_RECORDED
from app.jobs import tasks
from app.jobs.doorbell import doorbell
from app.monitoring.work import AVAILABILITY_SYNC_REQUESTED
from app.stock.stock_push import STOCK_UPDATES_RECORDED
from app.suppliers.imports import FEED_IMPORT_QUEUED
from app.sync.outbox import OPERATION_RECORDED


@bus.subscribe(OPERATION_RECORDED, "jobs.enqueue_sync_operation", moment="after_commit")
def enqueue_sync_operation(payload: dict) -> None:
    """Enqueue a committed outbox operation; if Redis is down, the sweeper enqueues it later."""
    tasks.start_sync_operation(payload["operation_id"], payload["job_id"])


@bus.subscribe(EVENT_RECORDED, "jobs.enqueue_inbound_event", moment="after_commit")
def enqueue_inbound_event(payload: dict) -> None:
    """Enqueue a committed delivery's processing; if Redis is down, the inbound sweeper enqueues it later."""
    tasks.start_inbound_event(payload["event_id"], payload["job_id"])


@bus.subscribe(DELIVERY_STORED, "jobs.enqueue_webhook_delivery", moment="after_commit")
def enqueue_webhook_delivery(payload: dict) -> None:
    """Have a stored webhook delivery's batch job started within WEBHOOK_ENQUEUE_INTERVAL; the sweeper backs it up."""
    doorbell.ring(payload["event_id"])


@bus.subscribe(FEED_IMPORT_QUEUED, "jobs.enqueue_feed_import", moment="after_commit")
def enqueue_feed_import(payload: dict) -> None:
    """Enqueue a committed feed import; one Redis could not take is marked failed by the stalled-import check."""
    tasks.start_feed_import(payload["import_id"], payload.get("limit"))


@bus.subscribe(AUTOLINK_REQUESTED, "jobs.enqueue_autolink", moment="after_commit")
def enqueue_autolink(payload: dict) -> None:
    """Enqueue linking a shop's products by SKU, then EAN."""
    tasks.start_autolink(payload["integration_id"], payload["create_missing"])


@bus.subscribe(BATCH_RECORDED, "jobs.enqueue_inbound_batch", moment="after_commit")
def enqueue_inbound_batch(payload: dict) -> None:
    """Enqueue one job for a batch of committed deliveries; the sweeper takes any it never reached."""
    tasks.start_inbound_batch(payload["event_ids"], payload["job_id"])


@bus.subscribe(IMPORT_REQUESTED, "jobs.enqueue_order_import", moment="after_commit")
def enqueue_order_import(payload: dict) -> None:
    """Start an order import of one integration ("Import now"); one at a time per integration."""
    tasks.start_order_import(payload["integration_id"])


@bus.subscribe(AVAILABILITY_SYNC_REQUESTED, "jobs.enqueue_availability_sync", moment="after_commit")
def enqueue_availability_sync(payload: dict) -> None:
    """Enqueue an availability sync someone asked for again (the health page's retry)."""
    tasks.start_availability_sync(payload["integration_id"])


@bus.subscribe(STOCK_UPDATES_RECORDED, "jobs.enqueue_stock_updates", moment="after_commit")
def enqueue_stock_updates(payload: dict) -> None:
    """Start delivering an integration's committed stock updates now (one job drains them all)."""
    for integration_id in payload["integration_ids"]:
        tasks.start_stock_updates(integration_id)
