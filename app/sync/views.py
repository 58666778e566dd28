"""Sync pages: failed and waiting operations with retry and cancel, and an order's push state."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from sqlalchemy import func, select

from app.core.auth import role_required
from app.core.htmx import render_fragment, render_page_or_fragment, trigger
from app.extensions import db, htmx
from app.integrations import services as integrations
from flask_login import current_user

from app.orders.services import Actor, get_order, record_event
from app.settings.services import status_defs
from app.core.errors import Conflict
from app.sync import conflicts, outbox, push, shipments
from app.sync.outbox import SyncOperation

bp = Blueprint("sync", __name__, url_prefix="/sync")

OPEN_STATES = ("failed", "conflict", "pending", "processing")
# The list's filter: "open" (the default: what still needs delivering or a choice) or one state.
FILTERS = {"open": "Not delivered", "conflict": "Changed on the platform", "failed": "Failed",
           "pending": "Waiting", "superseded": "Superseded", "skipped": "Skipped", "done": "Delivered",
           "cancelled": "Cancelled"}


def _operations(integration_id: int, shown: str) -> list[SyncOperation]:
    states = OPEN_STATES if shown == "open" else (shown,)
    return list(db.session.scalars(
        select(SyncOperation).where(SyncOperation.integration_id == integration_id, SyncOperation.state.in_(states))
        .order_by(SyncOperation.state, SyncOperation.next_attempt_at.desc()).limit(200)
    ))


@bp.get("/integrations/<int:integration_id>/operations")
def integration_operations(integration_id: int):
    """One integration's pushes: not delivered by default, or those in one state (a section of its page, or a page)."""
    integration = integrations.get_integration(integration_id)
    shown = request.args.get("state", "open")
    if shown not in FILTERS:
        shown = "open"
    return render_page_or_fragment("sync/operations.html", "sync/_operations.html", integration=integration,
                                   operations=_operations(integration_id, shown), statuses=status_defs(),
                                   shown=shown, filters=FILTERS)


@bp.get("/failed")
def failed_summary():
    """A banner counting failed pushes per integration (shown on the integrations list)."""
    rows = db.session.execute(
        select(SyncOperation.integration_id, func.count()).where(SyncOperation.state == "failed")
        .group_by(SyncOperation.integration_id)
    ).all()
    return render_fragment("sync/_failed_summary.html",
                           failed=[(integrations.get_integration(i), n) for i, n in rows])


def _respond(operation: SyncOperation):
    if request.form.get("from") == "order" and operation.order_id:
        return order_panel(operation.order_id)
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=operation.integration_id))
    response = render_fragment("sync/_operation_row.html", operation=operation, statuses=status_defs())
    return trigger(response, "operations-changed")


@bp.post("/operations/<int:operation_id>/retry")
@role_required("operator")
def retry(operation_id: int):
    """Send a failed push again now, with a fresh set of attempts."""
    try:
        operation = outbox.retry_now(operation_id)
    except ValueError:
        abort(409)
    _note(operation, "push_retry_requested", "asked to retry the push")
    return _respond(operation)


def _note(operation: SyncOperation, kind: str, words: str) -> None:
    """Put who retried or cancelled a push on the order's timeline."""
    if operation.order is not None:
        record_event(operation.order, kind, f"{current_user.name} {words} to {operation.integration.name}",
                     Actor.user(current_user), level="warning" if kind.endswith("cancelled") else "ok")
        db.session.commit()


@bp.post("/operations/<int:operation_id>/cancel")
@role_required("operator")
def cancel(operation_id: int):
    """Give up on a push that has not been delivered."""
    try:
        operation = outbox.cancel(operation_id)
    except ValueError:
        abort(409)
    _note(operation, "push_cancelled", "cancelled the push")
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/choose-kontor")
@role_required("operator")
def choose_kontor(operation_id: int):
    """Push Kontor's status over the one changed on the platform."""
    try:
        operation = conflicts.choose_kontor(operation_id, Actor.user(current_user))
    except Conflict:
        db.session.rollback()
        abort(409)
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/choose-platform")
@role_required("operator")
def choose_platform(operation_id: int):
    """Keep the status changed on the platform and take it into Kontor."""
    try:
        operation = conflicts.choose_platform(operation_id, Actor.user(current_user))
    except Conflict:
        db.session.rollback()
        abort(409)
    return _respond(operation)


@bp.get("/orders/<int:order_id>")
def order_panel(order_id: int):
    """The order's platform state and push state (polls itself while a push is on its way)."""
    order = get_order(order_id)
    if not htmx and request.method == "GET":
        return redirect(url_for("orders.detail", order_id=order_id))
    summary = push.order_sync_summary(order)
    shipment_pushes = shipments.order_shipment_pushes(order) if summary else []
    operation = summary["operation"] if summary else None
    busy = any(op.state in ("pending", "processing") for op in [operation, *shipment_pushes] if op is not None)
    response = render_fragment("sync/_order_panel.html", order=order, summary=summary, statuses=status_defs(),
                               shipment_pushes=shipment_pushes, busy=busy)
    if request.args.get("poll") and not busy:
        # The push this panel was waiting for has an outcome: the timeline shows it now.
        trigger(response, "push-finished")
    return response
