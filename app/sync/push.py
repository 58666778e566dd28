"""Status push: a manual or API status change reaches the platform the order came from.

The in-transaction handler writes a `status_push` operation into the outbox together with the
status change; `push_status_change` (run by a worker) delivers it. Changes from any other source
(platform, import, automation) are never pushed, so nothing echoes back and forth.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from app.core.events import bus
from app.core.types import utcnow
from app.extensions import db
from app.integrations import services as integrations
from app.integrations.base import PlatformError, RevisionConflict, with_retries
from app.integrations.models import Integration, IntegrationRun
from app.orders.models import Order
from app.orders.services import STATUS_CHANGED, Actor, record_event
from app.sync import outbox
from app.sync.outbox import SyncOperation

log = logging.getLogger("kontor.sync")

STATUS_PUSH = "status_push"
PUSHED_SOURCES = ("manual", "api")


@bus.subscribe(STATUS_CHANGED, "sync.queue_status_push", moment="in_transaction")
def queue_status_push(payload: dict) -> None:
    """Write the outbox row for a change that should reach the order's platform."""
    if payload["change_source"] not in PUSHED_SOURCES or not payload.get("integration_id"):
        return
    integration = db.session.get(Integration, payload["integration_id"])
    if integration is None or not integration.pushes:
        return
    outbox.record(STATUS_PUSH, integration.id, {"to_status": payload["to_status"], "history_id": payload["history_id"],
                                                "changed_at": payload["at"]}, order_id=payload["order_id"])


def _actor(integration: Integration) -> Actor:
    return Actor(f"Sync to {integration.name}", "automation")


@outbox.delivers(STATUS_PUSH)
def push_status_change(operation_id: int) -> str:
    """Deliver one status push; returns the outcome in words. Safe to run twice."""
    operation = outbox.claim(operation_id)
    if operation is None:
        return "not due or already handled"
    order, integration = operation.order, operation.integration
    target = operation.payload.get("to_status")
    actor = _actor(integration)
    name = integration.name

    def close(state: str, message: str, level: str = "ok") -> str:
        outbox.finish(operation, state, message)
        if order is not None:
            record_event(order, f"push_{state}", message, actor, level=level,
                         data={"operation_id": operation.id, "integration_id": integration.id})
        db.session.commit()
        return message

    if order is None:
        return close("skipped", "The order no longer exists.")
    if not integration.pushes:
        return close("skipped", f"Not pushed to {name}: the integration is off or does not push.", "warning")
    if order.status != target:
        return close("skipped", f"Not pushed to {name}: the order moved on to “{order.status}” since.")
    if not order.external_order_id:
        return close("skipped", f"Not pushed to {name}: the order has no id on the platform.", "warning")
    state = integrations.push_state_for(integration, target)
    if state is None:
        return close("skipped", f"Not pushed to {name}: no mapping for status “{target}”.", "warning")

    try:
        already = integrations.call_platform(integration, lambda client: _deliver(client, order.external_order_id,
                                                                                  state.external_id))
    except PlatformError as error:
        return _failed(operation, order, integration, error, actor)
    record_platform_state(order.id, state.external_id)
    integrations.move_cursor(integration.id, "last_status_pushed_at", utcnow().isoformat())
    message = (f"{name} already had the order in “{state.name}”; nothing sent." if already
               else f"Pushed to {name}: “{state.name}”.")
    return close("done", message)


def record_platform_state(order_id: int, state_id: str) -> None:
    """Note the order's state on its platform (the caller commits).

    A plain UPDATE on purpose: this is sync bookkeeping, not an edit, so it must not bump the
    order's revision and make a person's concurrent status change fail as stale.
    """
    db.session.execute(Order.__table__.update().where(Order.__table__.c.id == order_id)
                       .values(platform_state=state_id, platform_state_at=utcnow()))


@with_retries
def _deliver(client, external_order_id: str, state_id: str) -> bool:
    """Set the state unless the platform already has it; True if it already had. Retries a 409 once.

    Transient failures retry the whole read-then-write, so a write whose answer was lost is
    seen as already applied instead of being sent twice.
    """
    current = client.fetch_order_state(external_order_id)
    if current.state_id == state_id:
        return True
    try:
        client.set_order_state(external_order_id, state_id, current.revision)
    except RevisionConflict:
        current = client.fetch_order_state(external_order_id)
        if current.state_id == state_id:
            return True
        client.set_order_state(external_order_id, state_id, current.revision)
    return False


def _failed(operation: SyncOperation, order: Order, integration: Integration, error: PlatformError,
            actor: Actor) -> str:
    if error.retryable:
        next_at = outbox.retry_later(operation, error.message)
        if next_at is not None:
            message = (f"Push to {integration.name} failed (attempt {operation.attempts}): {error.message} "
                       f"Retrying at {next_at:%H:%M:%S} UTC.")
            record_event(order, "push_retry", message, actor, level="warning",
                         data={"operation_id": operation.id, "integration_id": integration.id})
            db.session.commit()
            return message
    else:
        outbox.fail(operation, error.message)
    message = f"Push to {integration.name} failed: {error.message}"
    if operation.attempts >= outbox.MAX_ATTEMPTS and error.retryable:
        message += f" (gave up after {operation.attempts} attempts)"
    record_event(order, "push_failed", message, actor, level="error",
                 data={"operation_id": operation.id, "integration_id": integration.id})
    db.session.commit()
    return message


def order_sync_summary(order: Order) -> dict | None:
    """What the order page shows about the push: platform state, last operation and its state."""
    if order.integration is None:
        return None
    operation = db.session.scalar(select(SyncOperation).where(SyncOperation.order_id == order.id,
                                                              SyncOperation.kind == STATUS_PUSH)
                                  .order_by(SyncOperation.id.desc()))
    return {
        "integration": order.integration,
        "platform_state": integrations.state_name(order.integration, order.platform_state)
        if order.platform_state else None,
        "platform_state_at": order.platform_state_at,
        "operation": operation,
    }


def record_sweep(counts_by_integration: dict[int, dict[str, int]], started_at: datetime) -> None:
    """Log one sweeper run per integration that had anything to report."""
    for integration_id, counts in counts_by_integration.items():
        if any(counts.values()):
            db.session.add(IntegrationRun(integration_id=integration_id, kind="status_push", started_at=started_at,
                                          finished_at=utcnow(), counts=counts,
                                          message=", ".join(f"{v} {k}" for k, v in counts.items() if v)))
    db.session.commit()


def finished_since(since: datetime) -> dict[int, dict[str, int]]:
    """Per integration: status pushes done, skipped and failed since a moment."""
    rows = db.session.execute(
        select(SyncOperation.integration_id, SyncOperation.state)
        .where(SyncOperation.kind == STATUS_PUSH, SyncOperation.finished_at >= since)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    names = {"done": "pushed", "skipped": "skipped", "failed": "failed", "cancelled": "cancelled"}
    for integration_id, state in rows:
        bucket = counts.setdefault(integration_id, {"pushed": 0, "skipped": 0, "failed": 0, "cancelled": 0})
        bucket[names[state]] += 1
    return counts
