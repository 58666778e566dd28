"""Sync pages: failed and waiting operations with retry and cancel, and an order's push state."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import func, select

from app.core.auth import role_required
from app.core.htmx import render_fragment, render_page_or_fragment, trigger
from app.extensions import db, htmx
from app.integrations import services as integrations
from app.orders.services import get_order
from app.settings.services import status_defs
from app.sync import outbox, push
from app.sync.outbox import SyncOperation

bp = Blueprint("sync", __name__, url_prefix="/sync")

OPEN_STATES = ("failed", "pending", "processing")


def _open_operations(integration_id: int) -> list[SyncOperation]:
    return list(db.session.scalars(
        select(SyncOperation).where(SyncOperation.integration_id == integration_id,
                                    SyncOperation.state.in_(OPEN_STATES))
        .order_by(SyncOperation.state, SyncOperation.next_attempt_at).limit(200)
    ))


@bp.get("/integrations/<int:integration_id>/operations")
def integration_operations(integration_id: int):
    """Failed and waiting pushes of one integration (a section of its page, or a page of its own)."""
    integration = integrations.get_integration(integration_id)
    return render_page_or_fragment("sync/operations.html", "sync/_operations.html", integration=integration,
                                   operations=_open_operations(integration_id), statuses=status_defs())


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
    return _respond(operation)


@bp.post("/operations/<int:operation_id>/cancel")
@role_required("operator")
def cancel(operation_id: int):
    """Give up on a push that has not been delivered."""
    try:
        operation = outbox.cancel(operation_id)
    except ValueError:
        abort(409)
    return _respond(operation)


@bp.get("/orders/<int:order_id>")
def order_panel(order_id: int):
    """The order's platform state and push state (polls itself while a push is on its way)."""
    order = get_order(order_id)
    if not htmx and request.method == "GET":
        return redirect(url_for("orders.detail", order_id=order_id))
    return render_fragment("sync/_order_panel.html", order=order, summary=push.order_sync_summary(order),
                           statuses=status_defs())
