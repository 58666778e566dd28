"""Status push: a manual or API status change reaches the platform the order came from.

The in-transaction handler writes a `status_push` operation into the outbox together with the
status change; `push_status_change` (run by a worker) delivers it. Changes from any other source
(platform, import, automation) are never pushed, so nothing echoes back and forth.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import select

from flask_babel import lazy_gettext as _l

from app.core.events import bus
from app.core.i18n import english
from app.core.secrets import hide_secrets
from app.core.types import utcnow
from app.extensions import db
from app.integrations import progress, services as integrations, state_mappings
from app.integrations.base import PlatformError, ReconnectNeeded, with_retries
from app.integrations.models import Integration, IntegrationRun
from app.orders.models import Order
from app.orders.services import STATUS_CHANGED, Actor, record_event
from app.sync import conflicts, outbox
from app.sync.conflicts import record_platform_state
from app.sync.models import SyncOperation

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


class _Superseded(Exception):
    """The order's status is no longer this push's target: a newer wish overtook it."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class _PlatformChanged(Exception):
    """Someone changed the order on the platform since Kontor last knew its state."""

    def __init__(self, state_id: str) -> None:
        super().__init__(state_id)
        self.state_id = state_id


@outbox.delivers(STATUS_PUSH)
def push_status_change(operation_id: int) -> str:
    """Deliver one status push; returns the outcome in words. Safe to run twice."""
    return outbox.deliver_in_turn(operation_id, _push)


def _push(operation: SyncOperation) -> str:
    order, integration = operation.order, operation.integration
    target = operation.payload.get("to_status")
    actor = _actor(integration)
    name = integration.name

    def close(state: str, message, level: str = "ok", kind: str | None = None) -> str:
        text = english(message)
        outbox.finish(operation, state, message)
        if order is not None:
            record_event(order, kind or f"push_{state}", message, actor, level=level, data=_data(operation))
        db.session.commit()
        return text

    if order is None:
        return close("skipped", _l("The order no longer exists."))
    if not integration.pushes:
        return close("skipped", _l("Not pushed to %(name)s: the integration is off or does not push.", name=name),
                     "warning")
    if order.status != target:
        return close("superseded", _superseded_message(operation, order.status))
    if not order.external_order_id:
        return close("skipped", _l("Not pushed to %(name)s: the order has no id on the platform.", name=name),
                     "warning")
    state = state_mappings.push_state_for(integration, target)
    if state is None:
        return close("skipped", _l("Not pushed to %(name)s: no mapping for status “%(status)s”.", name=name,
                                    status=target), "warning")
    if integration.connection_state == integrations.RECONNECT_NEEDED:
        return wait_for_reconnect(operation, order, integration, actor, announce=False)

    order_id, external_id, policy = order.id, order.external_order_id, integration.when_platform_changed
    overwritten: list[str] = []

    def before_write(platform_state: str) -> None:
        # Read the order as it is now: this runs before every write attempt. PostgreSQL (read
        # committed) sees the latest commit in every statement; SQLite must end its snapshot first.
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.commit()
        status, known = db.session.execute(select(Order.status, Order.platform_state)
                                           .where(Order.id == order_id)).one()
        if status != target:
            raise _Superseded(status)
        if known and not operation.payload.get("overwrite") and platform_state not in _kontor_states(operation, known):
            if policy != "kontor":
                raise _PlatformChanged(platform_state)
            overwritten[:] = [platform_state]
        # Noted durably before the write, so a later attempt that finds the state there knows
        # it is most likely this write, applied although its answer never arrived.
        if operation.payload.get("write_sent") != state.external_id:
            operation.payload = {**operation.payload, "write_sent": state.external_id}
            db.session.commit()

    try:
        already = integrations.call_platform(
            integration, lambda client: _deliver(client, external_id, state.external_id, before_write))
    except _Superseded as overtaken:
        return close("superseded", _superseded_message(operation, overtaken.status))
    except _PlatformChanged as changed:
        return conflicts.platform_changed(operation, changed.state_id, policy)
    except ReconnectNeeded as error:
        return wait_for_reconnect(operation, order, integration, actor, error.message)
    except PlatformError as error:
        return _failed(operation, order, integration, error, actor)
    record_platform_state(order_id, state.external_id)
    progress.move_cursor(integration.id, "last_status_pushed_at", utcnow().isoformat())
    if overwritten or operation.payload.get("overwrite"):
        was = overwritten[0] if overwritten else (operation.payload.get("conflict") or {}).get("platform_state", "")
        record_event(order, "push_overwrote",
                     _l("%(name)s had “%(theirs)s”, set on the platform; Kontor's “%(ours)s” was written over it.",
                        name=name, theirs=state_mappings.state_name(integration, was), ours=state.name),
                     actor, level="warning", data=_data(operation))
    if already and operation.payload.get("write_sent") == state.external_id:
        message = _l("Pushed to %(name)s: “%(state)s” confirmed on the platform after an unanswered write.",
                     name=name, state=state.name)
    elif already:
        message = _l("%(name)s already had the order in “%(state)s”; nothing sent.", name=name, state=state.name)
    else:
        message = _l("Pushed to %(name)s: “%(state)s”.", name=name, state=state.name)
    return close("done", message)


def _kontor_states(operation: SyncOperation, known: str) -> set[str]:
    """Platform states Kontor knows of for the order: the last one seen and any it may have written.

    A write whose answer was lost (an earlier push that then failed) may have landed, so its
    state is Kontor's own doing, not a change made on the platform.
    """
    written = db.session.scalars(select(SyncOperation.payload).where(
        SyncOperation.order_id == operation.order_id, SyncOperation.integration_id == operation.integration_id,
        SyncOperation.kind == STATUS_PUSH, SyncOperation.id <= operation.id)).all()
    return {known, *(p.get("write_sent") for p in written if p and p.get("write_sent"))}


def _superseded_message(operation: SyncOperation, status: str):
    newer = outbox.newer_operation(operation)
    name = operation.integration.name
    if newer is not None:
        return _l("Not pushed to %(name)s: superseded by push #%(id)s (the order moved on to “%(status)s” "
                  "before this one was written).", name=name, id=newer.id, status=status)
    return _l("Not pushed to %(name)s: the order moved on to “%(status)s” before this push was written.",
              name=name, status=status)


def _data(operation: SyncOperation) -> dict:
    return {"operation_id": operation.id, "integration_id": operation.integration_id}


def wait_for_reconnect(operation: SyncOperation, order: Order, integration: Integration, actor: Actor,
                       reason: str = "", announce: bool = True) -> str:
    """Put an operation back to wait, without spending an attempt, until the account is connected again."""
    message = _l("Waiting for %(name)s to be connected again: %(reason)s The push goes out once the account is "
                 "reconnected.", name=integration.name,
                 reason=reason or _l("the platform no longer accepts the authorisation."))
    text = english(message)
    first = operation.last_error != hide_secrets(text)
    outbox.wait_for_reconnect(operation, message)
    if announce or first:
        record_event(order, "push_waiting", message, actor, level="warning", data=_data(operation))
    db.session.commit()
    return text


@bus.subscribe(integrations.INTEGRATION_RECONNECTED, "sync.deliver_after_reconnect", moment="in_transaction")
def deliver_after_reconnect(payload: dict) -> None:
    """Operations that waited for the seller to reconnect become due now."""
    outbox.wake_integration(payload["integration_id"])


@with_retries
def _deliver(client, external_order_id: str, state_id: str, before_write: Callable[[str], None]) -> bool:
    """Set the state unless the platform already has it; True if it already had.

    Every attempt (tenacity retries included: 5xx, timeouts, 409 revision conflicts) reads the
    platform's state and revision and then the order's wish again before writing, so a write
    whose answer was lost is found applied instead of sent twice, and no retry writes an older wish.
    """
    current = client.fetch_order_state(external_order_id)
    if current.state_id == state_id:
        return True
    before_write(current.state_id)
    client.set_order_state(external_order_id, state_id, current.revision)
    return False


def _failed(operation: SyncOperation, order: Order, integration: Integration, error: PlatformError,
            actor: Actor) -> str:
    if error.retryable:
        db.session.commit()
        status = db.session.scalar(select(Order.status).where(Order.id == order.id))
        if status != operation.payload.get("to_status"):
            # No point in a later attempt: a newer change of the order has its own push.
            superseded = _superseded_message(operation, status)
            outbox.finish(operation, "superseded", superseded)
            record_event(order, "push_superseded", superseded, actor, data=_data(operation))
            db.session.commit()
            return operation.result
        next_at = outbox.retry_later(operation, error.message)
        if next_at is not None:
            message = _l("Push to %(name)s failed (attempt %(attempt)s): %(error)s Retrying at %(at)s UTC.",
                         name=integration.name, attempt=operation.attempts, error=operation.last_error,
                         at=next_at.strftime("%H:%M:%S"))
            record_event(order, "push_retry", message, actor, level="warning", data=_data(operation))
            db.session.commit()
            return english(message)
    else:
        outbox.fail(operation, error.message)
    if operation.attempts >= outbox.MAX_ATTEMPTS and error.retryable:
        message = _l("Push to %(name)s failed: %(error)s (gave up after %(attempts)s attempts)",
                     name=integration.name, error=operation.last_error, attempts=operation.attempts)
    else:
        message = _l("Push to %(name)s failed: %(error)s", name=integration.name, error=operation.last_error)
    record_event(order, "push_failed", message, actor, level="error", data=_data(operation))
    db.session.commit()
    return english(message)


def order_sync_summary(order: Order) -> dict | None:
    """What the order page shows about the push: platform state, last operation and its state."""
    if order.integration is None:
        return None
    operation = db.session.scalar(select(SyncOperation).where(SyncOperation.order_id == order.id,
                                                              SyncOperation.kind == STATUS_PUSH)
                                  .order_by(SyncOperation.id.desc()))
    return {
        "integration": order.integration,
        "platform_state": state_mappings.state_name(order.integration, order.platform_state)
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
    names = {"done": "pushed", "skipped": "skipped", "superseded": "superseded", "failed": "failed",
             "cancelled": "cancelled"}
    for integration_id, state in rows:
        bucket = counts.setdefault(integration_id, {"pushed": 0, "skipped": 0, "superseded": 0, "failed": 0,
                                                    "cancelled": 0})
        bucket[names[state]] += 1
    return counts
