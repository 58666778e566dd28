"""Reservation shortfall figures: orders whose reservations hold less than they ordered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from app.extensions import db
from app.orders.models import Order
from app.stock.models import OrderItemReservation


def shortfall_counts(start: datetime) -> tuple[int, int]:
    """(orders with a reservation shortfall, orders with any reservation) placed since `start`.

    A shortfall is a reservation row whose reserved quantity is below the quantity ordered.
    """
    r = OrderItemReservation
    short, reserved = db.session.execute(
        select(func.count(func.distinct(case((r.reserved_quantity < r.quantity, r.order_id)))),
               func.count(func.distinct(r.order_id)))
        .join(Order, Order.id == r.order_id).where(Order.ordered_at >= start)
    ).one()
    return int(short or 0), int(reserved or 0)
