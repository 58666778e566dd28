"""Jobs ring the doorbell for work other domains record."""

from __future__ import annotations

from app.core.events import bus
from app.inbound.ledger import EVENT_RECORDED
from app.jobs import tasks
from app.jobs.queues import enqueue
from app.monitoring.work import AVAILABILITY_SYNC_REQUESTED, FEED_IMPORT_REQUESTED
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


@bus.subscribe(FEED_IMPORT_REQUESTED, "jobs.enqueue_feed_import", moment="after_commit")
def enqueue_feed_import(payload: dict) -> None:
    """Enqueue a feed import someone asked for again (the health page's retry)."""
    tasks.run_feed_import_job(payload["import_id"])


@bus.subscribe(AVAILABILITY_SYNC_REQUESTED, "jobs.enqueue_availability_sync", moment="after_commit")
def enqueue_availability_sync(payload: dict) -> None:
    """Enqueue an availability sync someone asked for again."""
    tasks.sync_availability_now(payload["integration_id"])
