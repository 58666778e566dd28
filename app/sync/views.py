"""Sync pages: failed and waiting operations with retry and cancel, and an order's push state."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from app.core.auth import role_required
from app.core.errors import Conflict, NotFound
from app.core.htmx import render_fragment, render_page_or_fragment, trigger
from app.extensions import db, htmx
from app.integrations import services as integrations
from app.orders.services import Actor, get_order
from app.settings.services import status_defs
from app.sync import conflicts, operations, push, shipments
from app.sync.models import SyncOperation

bp = Blueprint("sync", __name__, url_prefix="/sync")


@bp.get("/integrations/<int:integration_id>/operations")
def integration_operations(integration_id: int):
    """One integration's pushes: not delivered by default, or those in one state (a section of its page, or a page)."""
    integration = integrations.get_integration(integration_id)
    shown = request.args.get("state", "open")
    if shown not in operations.FILTERS:
        shown = "open"
    return render_page_or_fragment("sync/operations.html", "sync/_operations.html", integration=integration,
                                   operations=operations.operations_in(integration_id, shown),
                                   statuses=status_defs(), shown=shown, filters=operations.FILTERS)


@bp.get("/failed")
def failed_summary():
    """A banner counting failed pushes per integration (shown on the integrations list)."""
    return render_fragment("sync/_failed_summary.html",
                           failed=[(integrations.get_integration(i), n) for i, n in operations.failed_by_integration()])


def _respond(operation: SyncOperation):
    if request.form.get("from") == "order" and operation.order_id:
        return order_panel(operation.order_id)
    if not htmx:
        if operation.integration_id is None:
            return redirect(url_for("monitoring.health"))
        return redirect(url_for("integrations.detail", integration_id=operation.integration_id))
    response = render_fragment("sync/_operation_row.html", operation=operation, statuses=status_defs())
    return trigger(response, "operations-changed")


def _refused(error: Conflict | NotFound, operation_id: int):
    """A refused retry or cancel: 409 with the reason in words, in the row the button was in."""
    db.session.rollback()
    operation = db.session.get(SyncOperation, operation_id)
    if operation is None or not htmx:
        raise error  # the error page, or JSON, with the reason and 409
    return render_fragment("sync/_operation_row.html", status_code=409, operation=operation, statuses=status_defs(),
                           refusal=error.message)


@bp.post("/operations/<int:operation_id>/retry")
@role_required("operator")
def retry(operation_id: int):
    """Send a failed push again now, with a fresh set of attempts."""
    try:
        operation = operations.retry(operation_id, Actor.user(current_user))
    except (Conflict, NotFound) as error:
        return _refused(error, operation_id)
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/cancel")
@role_required("operator")
def cancel(operation_id: int):
    """Give up on a push that has not been delivered."""
    try:
        operation = operations.cancel(operation_id, Actor.user(current_user))
    except (Conflict, NotFound) as error:
        return _refused(error, operation_id)
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/choose-kontor")
@role_required("operator")
def choose_kontor(operation_id: int):
    """Push Kontor's status over the one changed on the platform."""
    try:
        operation = conflicts.choose_kontor(operation_id, Actor.user(current_user))
    except (Conflict, NotFound) as error:
        return _refused(error, operation_id)
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/choose-platform")
@role_required("operator")
def choose_platform(operation_id: int):
    """Keep the status changed on the platform and take it into Kontor."""
    try:
        operation = conflicts.choose_platform(operation_id, Actor.user(current_user))
    except (Conflict, NotFound) as error:
        return _refused(error, operation_id)
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
