"""A batch of platform orders applied set-based ends exactly as the same orders applied one by one."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.inbound.apply import apply_order
from app.inbound.batch import Message, apply_orders
from app.integrations.shopify.mapping import STATES, order_from_shopify
from app.orders.models import Order, OrderEvent, OrderStatusHistory
from tests.factories import make_integration, map_status
from tests.fakes.shopify import shopify_order

SKIPPED = {"id", "number", "integration_id", "ordered_at", "status_changed_at", "created_at", "updated_at",
           "platform_state_at", "order_id", "at", "paid_at", "revision"}  # revision: flushes of the ORM path


def shop(name: str):
    integration = make_integration("shopify", direction="pull", name=name,
                                   settings={"shop_domain": f"{name}.myshopify.com"},
                                   states=[(s.external_id, s.name) for s in STATES])
    map_status(integration, "paid", "paid", "pull")
    return integration


def described(order: Order) -> dict:
    """What a seller sees of an order, without ids and moments that differ between two imports."""
    def columns(row) -> dict:
        return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in SKIPPED}
    return {"order": columns(order), "items": [columns(i) for i in order.items],
            "addresses": sorted((columns(a) for a in order.addresses), key=lambda a: a["kind"]),
            "payments": [columns(p) for p in order.payments], "shipments": [columns(s) for s in order.shipments],
            "history": [(h.from_status, h.to_status, h.change_source, h.comment) for h in order.history],
            "events": [(e.kind, e.message, e.source) for e in order.events]}


def orders_of(integration) -> list[Order]:
    db.session.expire_all()
    return list(db.session.scalars(select(Order).where(Order.integration_id == integration.id)
                                   .order_by(Order.external_order_id)))


def test_a_batch_creates_the_same_orders_as_one_by_one(app):
    alone, batched = shop("alone"), shop("batched")
    payloads = [shopify_order(n, financial_status="paid" if n % 2 else "pending", quantity=n) for n in (1, 2, 3)]
    for payload in payloads:
        apply_order(alone, order_from_shopify(payload))
        db.session.commit()
    outcomes = apply_orders(batched, [Message(n, order_from_shopify(p)) for n, p in enumerate(payloads)])
    db.session.commit()
    assert [outcome.outcome for outcome in outcomes.values()] == ["created"] * 3
    assert [described(o) for o in orders_of(batched)] == [described(o) for o in orders_of(alone)]
    numbers = [o.number for o in orders_of(batched)]
    assert len(set(numbers) | {o.number for o in orders_of(alone)}) == 6  # every number given once


def test_in_a_batch_the_newest_version_wins_and_known_orders_are_never_overwritten_by_older_ones(app):
    integration = shop("shop")
    apply_order(integration, order_from_shopify(shopify_order(1, minute=10, quantity=3)))
    apply_order(integration, order_from_shopify(shopify_order(2, minute=10, quantity=3)))
    db.session.commit()
    outcomes = apply_orders(integration, [
        Message(1, order_from_shopify(shopify_order(1, minute=5, quantity=1))),  # older than Kontor's
        Message(2, order_from_shopify(shopify_order(2, minute=10, quantity=3))),  # the same
        Message(3, order_from_shopify(shopify_order(3, minute=20, quantity=4))),  # new, newest of two
        Message(4, order_from_shopify(shopify_order(3, minute=15, quantity=2))),
        Message(5, order_from_shopify(shopify_order(1, minute=30, quantity=5))),  # newer than Kontor's
    ])
    db.session.commit()
    assert {key: applied.outcome for key, applied in outcomes.items()} == {
        1: "older", 2: "unchanged", 3: "created", 4: "older", 5: "updated"}
    quantities = {o.external_order_id: o.items[0].quantity for o in orders_of(integration)}
    assert quantities == {"1": 5, "2": 3, "3": 4}
    assert db.session.scalar(select(func.count(Order.id))) == 3
    created = db.session.scalar(select(Order).where(Order.external_order_id == "3"))
    assert db.session.scalar(select(func.count(OrderStatusHistory.id)).where(
        OrderStatusHistory.order_id == created.id)) == 1
    assert db.session.scalar(select(func.count(OrderEvent.id)).where(OrderEvent.order_id == created.id)) == 1
