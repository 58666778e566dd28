"""When the platform changed the order too: a push found a state nobody in Kontor set.

The push reads the platform's state before writing. When it is neither the last state Kontor
knows (`Order.platform_state`, or one Kontor itself may have written) nor the target, someone
changed the order on the platform. The integration's setting decides: Kontor wins (the push
writes and the timeline notes what it overwrote), the platform wins (its state comes into Kontor
through the pull mappings as a platform change, so it is never pushed back), or ask (the
operation waits as a conflict and the order page offers both).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import Conflict, TransitionRefused
from app.core.i18n import english
from app.core.types import utcnow
from app.extensions import db
from app.integrations import state_mappings
from app.integrations.models import Integration
from app.orders.models import Order
from app.orders.services import Actor, move_status, record_event
from app.settings.services import status_defs
from app.sync import outbox
from app.sync.models import SyncOperation


def record_platform_state(order_id: int, state_id: str) -> None:
    """Note the order's state on its platform (the caller commits).

    A plain UPDATE on purpose: this is sync bookkeeping, not an edit, so it must not bump the
    order's revision and make a person's concurrent status change fail as stale.
    """
    db.session.execute(Order.__table__.update().where(Order.__table__.c.id == order_id)
                       .values(platform_state=state_id, platform_state_at=utcnow()))


def _names(operation: SyncOperation, platform_state: str) -> tuple[str, str, str]:
    """(platform's state, Kontor's wish as a platform state, last known state), in words."""
    integration = operation.integration
    wish = state_mappings.push_state_for(integration, operation.payload.get("to_status", ""))
    known = operation.order.platform_state if operation.order else None
    return (state_mappings.state_name(integration, platform_state), wish.name if wish else "—",
            state_mappings.state_name(integration, known) if known else "—")


def _data(operation: SyncOperation) -> dict:
    return {"operation_id": operation.id, "integration_id": operation.integration_id}


def platform_changed(operation: SyncOperation, platform_state: str, policy: str) -> str:
    """Handle a platform-side change found by a push (policy ask or platform); the operation is claimed."""
    integration, order = operation.integration, operation.order
    theirs, ours, known = _names(operation, platform_state)
    actor = Actor(f"Sync to {integration.name}", "automation")
    if policy == "platform":
        return take_platform_state(operation, platform_state, actor,
                                   _l("%(name)s had “%(theirs)s”, changed on the platform (Kontor last saw "
                                      "“%(known)s”); the platform wins, so “%(ours)s” was not pushed.",
                                      name=integration.name, theirs=theirs, known=known, ours=ours))
    message = _l("%(name)s has “%(theirs)s”, changed on the platform since Kontor last saw “%(known)s”; Kontor would "
                 "push “%(ours)s”. Choose on the order which one stays.", name=integration.name, theirs=theirs,
                 known=known, ours=ours)
    outbox.hold_for_choice(operation, message, {"platform_state": platform_state, "platform_state_name": theirs,
                                                "kontor_state_name": ours})
    record_event(order, "push_conflict", message, actor, level="warning", data=_data(operation))
    db.session.commit()
    return english(message)


def take_platform_state(operation: SyncOperation, platform_state: str, actor: Actor, message) -> str:
    """Bring the platform's state into Kontor through the pull mappings and close the push as skipped."""
    integration: Integration = operation.integration
    order = db.session.get(Order, operation.order_id, with_for_update=True, populate_existing=True)
    theirs = state_mappings.state_name(integration, platform_state)
    target = state_mappings.pull_status_for(integration, platform_state)
    platform = Actor(integration.name, "platform")  # a platform change: never pushed back
    if target is None:
        message = _l("%(said)s %(then)s", said=message, then=_l(
            "No pull mapping for “%(theirs)s”, so the order's status stays “%(status)s”.", theirs=theirs,
            status=order.status))
    elif target != order.status:
        try:
            move_status(order, target, platform, comment=f"{integration.name}: {theirs} (changed on the platform)")
            name = status_defs().get(target)
            message = _l("%(said)s %(then)s", said=message, then=_l("The order moved to “%(status)s”.",
                                                                       status=name.name if name else target))
        except TransitionRefused as refused:
            message = _l("%(said)s %(then)s", said=message,
                         then=_l("The order's status stays: %(why)s", why=refused.message))
    record_platform_state(order.id, platform_state)
    outbox.finish(operation, "skipped", message)
    record_event(order, "push_platform_kept", message, actor, level="warning", data=_data(operation))
    db.session.commit()
    return english(message)


def _conflict(operation_id: int) -> SyncOperation:
    operation = db.session.get(SyncOperation, operation_id, with_for_update=True)
    if operation is None or operation.state != "conflict" or operation.order_id is None:
        raise Conflict("This push is no longer waiting for a choice; reload the order.")
    return operation


def choose_kontor(operation_id: int, actor: Actor) -> SyncOperation:
    """The person chose Kontor's value: push it over the platform's, noting what was overwritten."""
    operation = _conflict(operation_id)
    theirs = (operation.payload.get("conflict") or {}).get("platform_state_name", "")
    operation.payload = {**operation.payload, "overwrite": True}
    operation.state, operation.next_attempt_at, operation.finished_at = "pending", utcnow(), None
    operation.generation += 1
    record_event(operation.order, "push_conflict_resolved",
                 _l("%(who)s chose Kontor's status over %(name)s's “%(theirs)s”; pushing it.", who=actor.name,
                    name=operation.integration.name, theirs=theirs),
                 actor, data=_data(operation))
    outbox.announce(operation)
    db.session.commit()
    return operation


def choose_platform(operation_id: int, actor: Actor) -> SyncOperation:
    """The person chose the platform's value: take it into Kontor and drop the push."""
    operation = _conflict(operation_id)
    platform_state = (operation.payload.get("conflict") or {}).get("platform_state", "")
    theirs, ours, _ = _names(operation, platform_state)
    take_platform_state(operation, platform_state, actor,
                        _l("%(who)s kept %(name)s's “%(theirs)s”; “%(ours)s” was not pushed.", who=actor.name,
                           name=operation.integration.name, theirs=theirs, ours=ours))
    return operation


def open_conflict(order: Order) -> SyncOperation | None:
    """The order's push waiting for a choice, if any."""
    return db.session.scalar(select(SyncOperation).where(SyncOperation.order_id == order.id,
                                                         SyncOperation.state == "conflict")
                             .order_by(SyncOperation.id.desc()).limit(1))
