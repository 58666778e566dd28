"""The warehouse side of order status changes (Settings > Orders): reserve, issue, release, reverse.

Runs inside the status change's transaction, so an order's reservation or WZ commits with the
status that caused it. Nothing here refuses the status change: a WZ that cannot be posted for lack
of stock stays a draft and the timeline says why.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.core.events import bus
from app.extensions import db
from app.orders.models import Order
from app.orders.services import STATUS_CHANGED, Actor, record_event
from app.settings.services import status_defs
from app.stock import documents, reservations, warehouses

AUTOMATION = Actor("Kontor (Settings > Orders)", "automation")


@bus.subscribe(STATUS_CHANGED, "stock.follow_order_status", moment="in_transaction")
def follow_order_status(payload: dict) -> None:
    """Reserve on awaiting fulfillment, issue the WZ on the chosen status, release and reverse on cancel."""
    order = db.session.get(Order, payload["order_id"])
    if order is None:
        return
    settings = warehouses.order_settings()
    target = payload["to_status"]
    status = status_defs().get(target)
    try:
        if status is not None and status.group == "cancelled":
            _cancelled(order, settings.release_on_cancel)
        elif target == "awaiting_fulfillment" and settings.reserve_on_awaiting_fulfillment:
            reservations.reserve_order(order, AUTOMATION)
        elif settings.issue_wz_on and target == settings.issue_wz_on:
            _issue(order)
    except ValidationFailed as error:  # e.g. no warehouse yet: the seller sees why on the timeline
        record_event(order, "stock_skipped", _l("Stock not changed: %(why)s", why=error.message), AUTOMATION,
                     level="warning")


def _issue(order: Order) -> None:
    document = documents.draft_wz(order, AUTOMATION)
    if document.state != "draft":
        return
    savepoint = db.session.begin_nested()
    try:
        documents.apply_document(document, AUTOMATION)
        savepoint.commit()
    except warehouses.NotEnoughStock as refused:
        savepoint.rollback()
        record_event(order, "document_wz", _l("WZ %(number)s stays a draft: %(why)s", number=document.number,
                                              why=refused.message), AUTOMATION,
                     level="warning")


def _cancelled(order: Order, release: bool) -> None:
    wz = documents.order_wz(order.id)
    if wz is not None and wz.state == "posted":
        storno = documents.storno_of(wz, AUTOMATION)
        record_event(order, "document_wz_storno",
                     _l("Order cancelled after %(wz)s was posted: %(storno)s put the goods back.", wz=wz.number,
                        storno=storno.number), AUTOMATION)
    elif wz is not None:
        documents.discard_draft(wz, AUTOMATION)
    if release:
        reservations.release_order(order, AUTOMATION, _l("the order was cancelled"))
