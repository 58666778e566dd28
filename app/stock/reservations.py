"""Reservations: stock held for order items in the default warehouse, partial when short.

Taking stock is a read of what is available followed by a conditional UPDATE that only applies
while it is still there; a lost race re-reads and takes what is left. So ten workers after the
last five units reserve exactly five between them and report the rest as shortages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.catalog.models import Product
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.orders.models import Order, OrderItem
from app.orders.services import Actor, record_event
from app.stock import warehouses
from app.stock.models import OrderItemReservation
from app.stock.warehouses import Movement

HELD = ("open", "partially_released")
RACE_RETRIES = 20


@dataclass
class ReservationOutcome:
    reserved: int = 0
    short: int = 0
    unmatched: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def product_for(item: OrderItem) -> int | None:
    """The Kontor product an order line sold: its link if set, else one product with its SKU, else its EAN."""
    if item.product_id:
        return item.product_id
    for column, value in ((Product.sku, item.sku), (Product.ean, item.ean)):
        if value:
            ids = db.session.scalars(select(Product.id).where(column == value).limit(2)).all()
            if len(ids) == 1:
                return ids[0]
    return None


def take(product_id: int, warehouse_id: int, wanted: int, *, actor: str, order_id: int | None) -> int:
    """Reserve up to `wanted` units; returns how many were reserved (the caller's transaction)."""
    for _ in range(RACE_RETRIES):
        free = warehouses.available(product_id, warehouse_id)
        amount = min(wanted, free)
        if amount <= 0:
            return 0
        if warehouses.move(Movement(product_id, warehouse_id, reserved_change=amount), "reservation",
                           actor=actor, order_id=order_id):
            return amount
    return 0


def _lock(order_id: int) -> Order:
    order = db.session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    return order


def reserve_order(order: Order, actor: Actor, taken: list[tuple[int, int, str]] = ()) -> ReservationOutcome:
    """Reserve every line of an order (locked by the caller) that is not yet fully reserved; caller commits.

    `taken`: offers whose platform already lowered its stock for this order (see warehouses.announce).
    """
    warehouse = warehouses.default_warehouse()
    settings = warehouses.order_settings()
    # A sale the platform already counted stands whatever the clock says: its hold never lapses by itself.
    lapses = settings.reservation_hours and not taken
    expires = utcnow() + timedelta(hours=settings.reservation_hours) if lapses else None
    outcome = ReservationOutcome()
    touched: set[int] = set()
    for item in order.items:
        held = db.session.scalars(select(OrderItemReservation).where(
            OrderItemReservation.order_item_id == item.id, OrderItemReservation.state.in_(HELD))).all()
        missing = item.quantity - sum(r.reserved_quantity for r in held)
        if missing <= 0:
            continue
        product_id = product_for(item)
        if product_id is None:
            outcome.unmatched.append(item.sku or item.name)
            continue
        got = take(product_id, warehouse.id, missing, actor=actor.name, order_id=order.id)
        reservation = next((r for r in held if r.warehouse_id == warehouse.id), None)
        if reservation is None:
            reservation = OrderItemReservation(order_id=order.id, order_item_id=item.id, product_id=product_id,
                                               warehouse_id=warehouse.id, quantity=item.quantity,
                                               reserved_quantity=0, state="open")
            db.session.add(reservation)
        reservation.reserved_quantity += got
        reservation.expires_at = expires
        outcome.reserved += got
        outcome.short += missing - got
        if got:
            touched.add(product_id)
        outcome.lines.append(f"{item.sku or item.name}: {got} of {missing}")
    db.session.flush()
    if outcome.reserved:
        order.fulfillment_status = "reserved"
    warehouses.announce(touched, "reservation", taken)
    if outcome.lines or outcome.unmatched:
        message = _l("Reserved %(count)s unit(s) in %(warehouse)s", count=outcome.reserved, warehouse=warehouse.code)
        if outcome.short:
            message = _l("%(said)s; %(short)s short (see Shortages)", said=message, short=outcome.short)
        if outcome.unmatched:
            message = _l("%(said)s; no product for %(skus)s", said=message, skus=", ".join(outcome.unmatched))
        record_event(order, "stock_reserved", _l("%(said)s.", said=message), actor,
                     level="warning" if outcome.short or outcome.unmatched else "ok")
    return outcome


def reserve(order_id: int, actor: Actor) -> ReservationOutcome:
    """Reserve an order's lines by hand (or from a job) in its own transaction."""
    try:
        outcome = reserve_order(_lock(order_id), actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return outcome


def release_held(reservation: OrderItemReservation, actor: str, reason: str = "release") -> int:
    """Give back what a reservation holds (the caller's transaction); returns the units released."""
    amount = reservation.reserved_quantity
    if amount and not warehouses.move(Movement(reservation.product_id, reservation.warehouse_id,
                                               reserved_change=-amount), reason, actor=actor,
                                      order_id=reservation.order_id):
        raise ValidationFailed(_l("The stock row no longer holds this reservation; reload and check the stock."))
    reservation.released_quantity += amount
    reservation.reserved_quantity = 0
    reservation.state = "released"
    reservation.released_at = utcnow()
    return amount


def release_order(order: Order, actor: Actor, why: str) -> int:
    """Release everything an order holds (the caller's transaction); returns the units released."""
    held = db.session.scalars(select(OrderItemReservation).where(
        OrderItemReservation.order_id == order.id, OrderItemReservation.state.in_(HELD))).all()
    released = sum(release_held(r, actor.name) for r in held)
    if held:
        warehouses.announce({r.product_id for r in held}, "release")
        if order.fulfillment_status == "reserved":
            order.fulfillment_status = "unassigned"
        record_event(order, "stock_released", _l("Released %(count)s reserved unit(s): %(why)s.", count=released, why=why),
                     actor)
    return released


def release(order_id: int, actor: Actor) -> int:
    """Release an order's reservations by hand."""
    try:
        released = release_order(_lock(order_id), actor, _l("released by hand"))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return released


def expire_due() -> dict[str, int]:
    """Release reservations whose time ran out (the job every 5 minutes)."""
    now = utcnow()
    order_ids = db.session.scalars(select(OrderItemReservation.order_id).where(
        OrderItemReservation.state.in_(HELD), OrderItemReservation.expires_at <= now).distinct()).all()
    released = 0
    actor = Actor("Reservation expiry", "automation")
    for order_id in order_ids:
        order = _lock(order_id)
        due = db.session.scalars(select(OrderItemReservation).where(
            OrderItemReservation.order_id == order_id, OrderItemReservation.state.in_(HELD),
            OrderItemReservation.expires_at <= now)).all()
        units = sum(release_held(r, actor.name, "release") for r in due)
        warehouses.announce({r.product_id for r in due}, "release")
        if not db.session.scalar(select(func.count(OrderItemReservation.id)).where(
                OrderItemReservation.order_id == order_id, OrderItemReservation.state.in_(HELD))):
            if order.fulfillment_status == "reserved":
                order.fulfillment_status = "unassigned"
        record_event(order, "stock_reservation_expired",
                     _l("Reservation expired: %(count)s unit(s) went back to available stock.", count=units), actor,
                     level="warning")
        db.session.commit()
        released += units
    return {"orders": len(order_ids), "units": released}


def consume(order_id: int, product_id: int, warehouse_id: int, quantity: int) -> int:
    """Close the reservations a posted WZ used up; returns how many reserved units it takes over."""
    held = db.session.scalars(select(OrderItemReservation).where(
        OrderItemReservation.order_id == order_id, OrderItemReservation.product_id == product_id,
        OrderItemReservation.warehouse_id == warehouse_id, OrderItemReservation.state.in_(HELD))
        .order_by(OrderItemReservation.id)).all()
    used = 0
    for reservation in held:
        part = min(reservation.reserved_quantity, quantity - used)
        used += part
        reservation.released_quantity += reservation.reserved_quantity
        reservation.reserved_quantity = 0
        reservation.state = "released"
        reservation.released_at = utcnow()
    return used


def held_for(order_id: int, product_id: int, warehouse_id: int) -> int:
    """Units an order holds of a product in a warehouse."""
    return int(db.session.scalar(select(func.coalesce(func.sum(OrderItemReservation.reserved_quantity), 0)).where(
        OrderItemReservation.order_id == order_id, OrderItemReservation.product_id == product_id,
        OrderItemReservation.warehouse_id == warehouse_id, OrderItemReservation.state.in_(HELD))) or 0)


def order_reservations(order_id: int) -> list[OrderItemReservation]:
    """An order's reservations, for its page."""
    return list(db.session.scalars(select(OrderItemReservation).where(OrderItemReservation.order_id == order_id)
                                   .order_by(OrderItemReservation.id)))


def shortages(limit: int = 500) -> list[OrderItemReservation]:
    """Held reservations that got less than the line needs: what is missing for which orders."""
    return list(db.session.scalars(select(OrderItemReservation).where(
        OrderItemReservation.state.in_(HELD),
        OrderItemReservation.reserved_quantity < OrderItemReservation.quantity)
        .order_by(OrderItemReservation.created_at).limit(limit)))
