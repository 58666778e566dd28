"""Reservation shortfall figures: orders whose reservations hold less than they ordered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from app.extensions import db
from app.orders.models import Order
from app.stock.models import OrderItemReservation


def shortfall_counts(bucket, since: datetime) -> dict[str, tuple[int, int]]:
    """Per bucket of the order's placing time: (orders with a reservation shortfall, orders with any reservation).

    `bucket` turns a time column into the period key; an order falls in one bucket only, so the counts of
    several buckets add up. A shortfall is a reservation row whose reserved quantity is below the quantity ordered.
    """
    r = OrderItemReservation
    key = bucket(Order.ordered_at)
    rows = db.session.execute(
        select(key, func.count(func.distinct(case((r.reserved_quantity < r.quantity, r.order_id)))),
               func.count(func.distinct(r.order_id)))
        .join(Order, Order.id == r.order_id).where(Order.ordered_at >= since).group_by(key)
    ).all()
    return {row_key: (int(short or 0), int(reserved or 0)) for row_key, short, reserved in rows}
