"""Reservation shortfall figures, read only when the stock reservations table exists.

Reservations are being added in another room (stock); until their table is there the
dashboard shows the figure as not tracked yet instead of a zero that would look like good news.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, text

from app.extensions import db

RESERVATIONS_TABLE = "stock_reservations"


def tracked() -> bool:
    """Whether reservations are recorded at all in this database."""
    return inspect(db.engine).has_table(RESERVATIONS_TABLE)


def shortfall_counts(start: datetime) -> tuple[int, int] | None:
    """(orders with a reservation shortfall, orders with any reservation) placed since `start`; None if untracked.

    A shortfall is a reservation row whose reserved quantity is below the quantity ordered.
    """
    if not tracked():
        return None
    columns = {c["name"] for c in inspect(db.engine).get_columns(RESERVATIONS_TABLE)}
    if not {"order_id", "quantity", "reserved_quantity"} <= columns:
        return None  # a shape this query does not know: better "not tracked" than a wrong share
    row = db.session.execute(text(
        f"SELECT COUNT(DISTINCT CASE WHEN r.reserved_quantity < r.quantity THEN r.order_id END), "
        f"COUNT(DISTINCT r.order_id) FROM {RESERVATIONS_TABLE} r JOIN orders o ON o.id = r.order_id "
        "WHERE o.ordered_at >= :start"), {"start": start.replace(tzinfo=None)
                                             if db.engine.dialect.name == "sqlite" else start}).one()
    return int(row[0] or 0), int(row[1] or 0)
