"""Jobs ring the doorbell for work other domains record."""

from __future__ import annotations

from app.core.events import bus
from app.inbound.imports import IMPORT_REQUESTED
from app.inbound.ledger import BATCH_RECORDED, EVENT_RECORDED
from app.jobs.queues import enqueue
from app.sync.outbox import OPERATION_RECORDED


@bus.subscribe(OPERATION_RECORDED, "jobs.enqueue_sync_operation", moment="after_commit")
def enqueue_sync_operation(payload: dict) -> None:
    """Enqueue a committed outbox operation; if Redis is down, the sweeper enqueues it later."""
    enqueue("app.jobs.tasks.process_sync_operation", payload["operation_id"], queue="integrations",
            job_id=payload["job_id"])


@bus.subscribe(EVENT_RECORDED, "jobs.enqueue_inbound_event", moment="after_commit")
def enqueue_inbound_event(payload: dict) -> None:
    """Enqueue a committed delivery's processing; if Redis is down, the inbound sweeper enqueues it later."""
    enqueue("app.jobs.tasks.process_inbound_event", payload["event_id"], queue="orders", job_id=payload["job_id"],
            replace_finished=True)


@bus.subscribe(BATCH_RECORDED, "jobs.enqueue_inbound_batch", moment="after_commit")
def enqueue_inbound_batch(payload: dict) -> None:
    """Enqueue one job for a batch of committed deliveries; the sweeper takes any it never reached."""
    enqueue("app.jobs.tasks.process_inbound_batch", payload["event_ids"], queue="orders", job_id=payload["job_id"],
            timeout=1800)


@bus.subscribe(IMPORT_REQUESTED, "jobs.enqueue_order_import", moment="after_commit")
def enqueue_order_import(payload: dict) -> None:
    """Start an order import of one integration ("Import now"); one at a time per integration."""
    enqueue("app.jobs.tasks.import_orders_now", payload["integration_id"], queue="orders",
            job_id=f"order-import-{payload['integration_id']}", replace_finished=True, timeout=3600)
