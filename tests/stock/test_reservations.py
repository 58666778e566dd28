"""Reservations: orders hold stock, partial when short, released on cancel, by hand and on expiry."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.orders.models import OrderEvent
from app.orders.services import Actor, ItemInput, change_status
from app.stock import reservations, warehouses
from app.stock.models import OrderItemReservation, StockLevel, StockMovement
from tests.factories import make_order
from tests.stock.conftest import KEEPER, stocked

from decimal import Decimal


def _order(sku: str, quantity: int, status: str = "paid"):
    return make_order(status, items=[ItemInput(name=f"Item {sku}", quantity=quantity,
                                               unit_price_gross=Decimal("10"), sku=sku)])


def _level(product, warehouse) -> StockLevel:
    return db.session.scalar(select(StockLevel).where(StockLevel.product_id == product.id,
                                                      StockLevel.warehouse_id == warehouse.id)
                             .execution_options(populate_existing=True))


def test_awaiting_fulfillment_reserves_the_order_and_marks_it_reserved(app, warehouse):
    mug = stocked("KUB-350", 10, warehouse)
    order = _order("KUB-350", 3)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    level = _level(mug, warehouse)
    assert (level.on_hand, level.reserved, level.available) == (10, 3, 7)
    reservation = db.session.scalar(select(OrderItemReservation))
    assert (reservation.quantity, reservation.reserved_quantity, reservation.state) == (3, 3, "open")
    assert reservation.expires_at is not None
    db.session.refresh(order)
    assert order.fulfillment_status == "reserved"
    ledger = db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
    assert [(m.reason, m.on_hand_change, m.reserved_change, m.order_id) for m in ledger] == [
        ("pz", 10, 0, None), ("reservation", 0, 3, order.id)]


def test_a_short_order_reserves_what_there_is_and_shows_on_shortages(app, warehouse):
    stocked("KUB-350", 2, warehouse)
    order = _order("KUB-350", 5)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    [short] = reservations.shortages()
    assert (short.order_id, short.reserved_quantity, short.short) == (order.id, 2, 3)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "stock_reserved"))
    assert "3 short" in event.message and event.level == "warning"


def test_cancel_releases_the_reservation(app, warehouse):
    mug = stocked("KUB-350", 4, warehouse)
    order = _order("KUB-350", 4)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    assert _level(mug, warehouse).available == 0
    change_status(order.id, "cancelled", KEEPER)
    assert (_level(mug, warehouse).reserved, _level(mug, warehouse).available) == (0, 4)
    reservation = db.session.scalar(select(OrderItemReservation))
    assert (reservation.state, reservation.released_quantity) == ("released", 4)
    db.session.refresh(order)
    assert order.fulfillment_status == "unassigned"


def test_release_by_hand(app, warehouse):
    mug = stocked("KUB-350", 4, warehouse)
    order = _order("KUB-350", 1)
    reservations.reserve(order.id, KEEPER)
    assert reservations.release(order.id, KEEPER) == 1
    assert _level(mug, warehouse).available == 4


def test_expired_reservations_go_back_to_available(app, warehouse):
    mug = stocked("KUB-350", 4, warehouse)
    kept, expired = _order("KUB-350", 1), _order("KUB-350", 2)
    reservations.reserve(kept.id, KEEPER)
    reservations.reserve(expired.id, KEEPER)
    reservation = db.session.scalar(select(OrderItemReservation).where(OrderItemReservation.order_id == expired.id))
    reservation.expires_at = reservation.expires_at - timedelta(days=30)
    db.session.commit()
    assert reservations.expire_due() == {"orders": 1, "units": 2}
    level = _level(mug, warehouse)
    assert (level.reserved, level.available) == (1, 3)
    assert db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == expired.id,
                                                      OrderEvent.kind == "stock_reservation_expired"))


def test_a_line_without_a_product_is_reported_not_guessed(app, warehouse):
    order = _order("NO-SUCH-SKU", 1)
    outcome = reservations.reserve(order.id, KEEPER)
    assert outcome.unmatched == ["NO-SUCH-SKU"] and outcome.reserved == 0


def test_no_warehouse_yet_is_said_on_the_timeline_and_the_status_still_changes(app):
    order = _order("KUB-350", 1)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    event = db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "stock_skipped"))
    assert "no warehouse yet" in event.message


def test_ten_workers_after_the_last_five_units_reserve_exactly_five(pg_app):
    warehouse = warehouses.add_warehouse("MAG", "Main warehouse")
    mug = stocked("KUB-350", 5, warehouse)
    order_ids = [_order("KUB-350", 1).id for _ in range(10)]
    mug_id, warehouse_id = mug.id, warehouse.id
    db.session.remove()
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def worker(order_id: int) -> None:
        with pg_app.app_context():
            try:
                start.wait()
                change_status(order_id, "awaiting_fulfillment", Actor(f"worker {order_id}", "api"))
            except BaseException as error:  # reported below, never swallowed
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(order_id,)) for order_id in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    level = db.session.scalar(select(StockLevel).where(StockLevel.product_id == mug_id,
                                                       StockLevel.warehouse_id == warehouse_id))
    assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)
    held = db.session.scalars(select(OrderItemReservation)).all()
    assert sum(r.reserved_quantity for r in held) == 5
    assert sorted(r.reserved_quantity for r in held) == [0] * 5 + [1] * 5
    assert len(reservations.shortages()) == 5
    assert sum(m.reserved_change for m in db.session.scalars(select(StockMovement))) == 5
