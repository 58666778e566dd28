"""Demo data looks like a real shop's past: nothing happens after now."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.types import utcnow
from app.demo import seed_demo_orders, seed_demo_stock
from app.extensions import db
from app.orders.models import Order, OrderNote, OrderPayment, OrderShipment, OrderStatusHistory
from app.stock.models import OrderItemReservation, StockLevel, Warehouse
from tests.factories import make_user


def test_demo_orders_never_lie_in_the_future(app):
    assert seed_demo_orders(300) == 300
    now = utcnow()
    latest = {
        "ordered_at": db.session.scalar(select(func.max(Order.ordered_at))),
        "status_changed_at": db.session.scalar(select(func.max(Order.status_changed_at))),
        "updated_at": db.session.scalar(select(func.max(Order.updated_at))),
        "timeline": db.session.scalar(select(func.max(OrderStatusHistory.at))),
        "paid_at": db.session.scalar(select(func.max(OrderPayment.paid_at))),
        "shipped_at": db.session.scalar(select(func.max(OrderShipment.shipped_at))),
        "note": db.session.scalar(select(func.max(OrderNote.created_at))),
    }
    future = {name: at for name, at in latest.items() if at is not None and at > now}
    assert not future, f"demo data after {now}: {future}"


def test_an_orders_status_since_is_its_last_timeline_entry(app):
    seed_demo_orders(50)
    for order in db.session.scalars(select(Order)):
        last = db.session.scalar(select(func.max(OrderStatusHistory.at)).where(OrderStatusHistory.order_id == order.id))
        assert order.status_changed_at == last
        assert order.ordered_at <= last


def test_the_demo_has_a_warehouse_with_stock_and_reservations_for_open_orders(app, client, login):
    seed_demo_orders(300)
    seeded = seed_demo_stock()
    assert seeded["products"] == 10 and seeded["reserved_orders"] > 0
    [warehouse] = db.session.scalars(select(Warehouse)).all()
    assert warehouse.is_default
    levels = db.session.scalars(select(StockLevel)).all()
    assert len(levels) == 10 and all(level.on_hand > 0 for level in levels)
    assert sum(level.reserved for level in levels) > 0
    held = db.session.scalars(select(OrderItemReservation)).all()
    assert {r.order_id for r in held} and all(r.reserved_quantity > 0 for r in held)
    assert seed_demo_stock()["products"] == 0  # only once
    login(make_user("operator"))
    page = client.get("/stock").get_data(as_text=True)
    assert "KUB-350" in page and "MAG" in page
