"""JSON API v1 for the stock sync: status, the operations list, reconcile, retry and cancel."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.accounts.api_auth import api_user, protect
from app.core import params
from app.core.errors import BadParameter, NotFound, answer_in_json
from app.extensions import db
from app.orders.services import Actor
from app.stock import stock_sync
from app.stock.stock_push import STOCK_UPDATE
from app.sync import operations
from app.sync.models import SyncOperation

bp = Blueprint("stock_api", __name__, url_prefix="/api/v1/stock-sync")
protect(bp)
answer_in_json(bp)


def _operation(operation_id: int) -> SyncOperation:
    operation = db.session.get(SyncOperation, operation_id)
    if operation is None or operation.kind != STOCK_UPDATE:
        raise NotFound(f"Stock update {operation_id} does not exist.")
    return operation


@bp.get("/status")
def status():
    """Pending, failed, completed today, stale, and whether the sync is healthy."""
    return jsonify(stock_sync.status())


@bp.get("/pending")
def pending():
    """Stock updates, newest first: ?status=&limit=&offset=."""
    state = request.args.get("status", "")
    if state and state not in stock_sync.LIST_STATES:
        raise BadParameter(f"status must be one of: {', '.join(stock_sync.LIST_STATES)}.", field="status")
    limit = params.int_arg(request.args.get("limit"), "limit", default=50, minimum=1, maximum=500)
    offset = params.int_arg(request.args.get("offset"), "offset", default=0, minimum=0, maximum=10_000_000)
    rows, total = stock_sync.operations(state, limit, offset)
    return jsonify(operations=[stock_sync.as_json(op) for op in rows], total=total, limit=limit, offset=offset)


@bp.post("/reconcile")
def reconcile():
    """Reconcile every channel (or ?integration_id=) now and fix every difference found."""
    integration_id = None
    if request.args.get("integration_id"):
        integration_id = params.id_arg(request.args["integration_id"], "integration_id", what="integration")
    return jsonify(results=stock_sync.reconcile_all(fix_all=True, integration_id=integration_id))


@bp.post("/retry/<int:operation_id>")
def retry(operation_id: int):
    """Send a failed, skipped or cancelled stock update again."""
    _operation(operation_id)
    operation = operations.retry(operation_id, Actor.user(api_user(), "api"))
    return jsonify(operation=stock_sync.as_json(operation))


@bp.delete("/cancel/<int:operation_id>")
def cancel(operation_id: int):
    """Give up on a stock update not yet delivered."""
    _operation(operation_id)
    operation = operations.cancel(operation_id, Actor.user(api_user(), "api"))
    return jsonify(operation=stock_sync.as_json(operation))
