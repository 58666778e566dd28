"""Jobs ring the doorbell for work other domains record."""

from __future__ import annotations

from app.core.events import bus
from app.inbound.ledger import EVENT_RECORDED
from app.jobs.queues import enqueue
from app.stock.stock_push import STOCK_UPDATES_RECORDED
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


@bus.subscribe(STOCK_UPDATES_RECORDED, "jobs.enqueue_stock_updates", moment="after_commit")
def enqueue_stock_updates(payload: dict) -> None:
    """Start delivering an integration's committed stock updates now (one job drains them all)."""
    for integration_id in payload["integration_ids"]:
        enqueue("app.jobs.tasks.deliver_stock_updates", integration_id, queue="integrations",
                job_id=f"stock-sync-{integration_id}", replace_finished=True, timeout=3600)
