"""The warehouse side of order status changes and of orders imported from platforms (Settings > Orders):
reserve, issue, release, reverse.

Runs inside the status change's transaction, so an order's reservation or WZ commits with the
status that caused it. Nothing here refuses the status change: a WZ that cannot be posted for lack
of stock stays a draft and the timeline says why.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.core.events import bus
from app.extensions import db
from app.orders.models import Order
from app.orders.services import PLATFORM_ORDERS_IMPORTED, STATUS_CHANGED, Actor, record_event
from app.settings.services import status_defs
from app.stock import documents, reservations, warehouses
from app.stock.models import Warehouse

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


@bus.subscribe(PLATFORM_ORDERS_IMPORTED, "stock.platform_took_stock", moment="in_transaction")
def platform_took_stock(payload: dict) -> None:
    """A platform already lowered its stock for new orders: hold (or issue) the goods in Kontor too.

    With "reserve automatically" on, the order's lines are reserved (available drops, on hand stays
    until the WZ); with it off, the WZ is posted at once (on hand drops). Either way the other
    channels get the new quantity in this transaction and the offer that sold gets no echo.
    """
    if db.session.scalar(select(Warehouse.id).limit(1)) is None:
        return  # no warehouse side yet: Kontor keeps no stock to change
    settings = warehouses.order_settings()
    integration_id = payload["integration_id"]
    cancelled = {code for code, status in status_defs().items() if status.group == "cancelled"}
    for order_id in payload["order_ids"]:
        order = db.session.get(Order, order_id, with_for_update=True)
        if order is None or order.status in cancelled:
            continue
        taken = [(integration_id, item.product_id, item.offer_id or "") for item in order.items if item.product_id]
        try:
            if settings.reserve_on_awaiting_fulfillment:
                reservations.reserve_order(order, AUTOMATION, taken)
            else:
                _issue(order, taken)
        except ValidationFailed as error:
            record_event(order, "stock_skipped", _l("Stock not changed: %(why)s", why=error.message), AUTOMATION,
                         level="warning")


def _issue(order: Order, taken: list[tuple[int, int, str]] = ()) -> None:
    document = documents.draft_wz(order, AUTOMATION)
    if document.state != "draft":
        return
    savepoint = db.session.begin_nested()
    try:
        documents.apply_document(document, AUTOMATION, taken)
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
