"""Built-in subscribers to order events (more are added by the sync and stock domains)."""

from __future__ import annotations

import logging

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app.core import cache
from app.core.events import bus
from app.orders.models import Order, OrderPayment, OrderShipment
from app.orders.services import ORDERS_CHANGED, STATUS_CHANGED

log = logging.getLogger("kontor.orders")


@bus.subscribe(STATUS_CHANGED, "orders.log_status_change", moment="after_commit")
def log_status_change(payload: dict) -> None:
    """Write each committed status change to the log, one line an operator can grep."""
    log.info(
        "order %s (%s) status %s -> %s by %s",
        payload["order_id"], payload["number"], payload["from_status"], payload["to_status"],
        payload["change_source"],
    )


@sa_event.listens_for(Session, "after_flush")
def _note_order_changes(session: Session, _context) -> None:
    # Payments and shipments count too: the dashboard's shipping times are built from them.
    if any(isinstance(obj, (Order, OrderPayment, OrderShipment))
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[ORDERS_CHANGED] = True


@sa_event.listens_for(Session, "after_commit")
def _invalidate_order_lists(session: Session) -> None:
    """After a commit that changed orders, cached order lists are not served again."""
    if session.info.pop(ORDERS_CHANGED, False):
        cache.bump("orders")


@sa_event.listens_for(Session, "after_rollback")
def _forget_order_changes(session: Session) -> None:
    session.info.pop(ORDERS_CHANGED, None)
