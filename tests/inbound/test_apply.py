"""Applying platform orders on both databases: created once, never older over newer, statuses through the workflow."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.inbound.apply import apply_order, apply_refund
from app.integrations.shopify.mapping import STATES, order_from_shopify, refund_from_shopify
from app.orders.models import Order, OrderStatusHistory
from app.sync.models import SyncOperation
from tests.factories import make_integration, map_status
from tests.fakes.shopify import shopify_order, shopify_refund


def shop(direction: str = "pull", **settings):
    integration = make_integration("shopify", direction=direction,
                                   settings={"shop_domain": "kontor-test.myshopify.com", **settings},
                                   states=[(s.external_id, s.name) for s in STATES])
    return integration


def apply(integration, payload, triggered=None) -> str:
    applied = apply_order(integration, order_from_shopify(payload), triggered)
    db.session.commit()
    return applied.outcome


def the_order() -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order))


def test_new_order_starts_in_the_mapped_status_or_the_initial_status(app):
    integration = shop(initial_status="awaiting_fulfillment")
    map_status(integration, "paid", "paid", "pull")
    assert apply(integration, shopify_order(1, financial_status="pending")) == "created"
    assert apply(integration, shopify_order(2, financial_status="paid")) == "created"
    statuses = dict(db.session.execute(select(Order.external_order_id, Order.status)).all())
    assert statuses == {"1": "awaiting_fulfillment", "2": "paid"}
    first = db.session.scalar(select(OrderStatusHistory).join(Order).where(Order.external_order_id == "2"))
    assert (first.from_status, first.change_source, first.comment) == (None, "platform", "Shopify: Paid")


def test_an_older_version_never_overwrites_a_newer_one(app):
    integration = shop()
    assert apply(integration, shopify_order(1, minute=10, quantity=3)) == "created"
    assert apply(integration, shopify_order(1, minute=5, quantity=1)) == "older"
    assert the_order().items[0].quantity == 3
    assert apply(integration, shopify_order(1, minute=10, quantity=3)) == "unchanged"
    assert apply(integration, shopify_order(1, minute=20, quantity=2)) == "updated"
    order = the_order()
    assert order.items[0].quantity == 2 and str(order.total_gross) == "113.00"
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_platform_status_changes_go_through_the_workflow_and_are_never_pushed(app):
    integration = shop(direction="both")
    map_status(integration, "paid", "paid", "pull")
    map_status(integration, "shipped", "fulfilled", "pull")
    map_status(integration, "cancelled", "cancelled", "both")
    apply(integration, shopify_order(1, minute=0))
    apply(integration, shopify_order(1, minute=1, financial_status="paid"))
    order = the_order()
    assert order.status == "paid" and order.payment_status == "paid"
    assert order.history[-1].change_source == "platform" and order.history[-1].changed_by == "Shopify"
    apply(integration, shopify_order(1, minute=2, financial_status="paid", fulfillment_status="fulfilled"))
    assert the_order().status == "shipped" and the_order().shipments[0].tracking_number == "62001"
    # Shipped orders cannot be cancelled: the workflow refuses, nothing changes, the timeline says why.
    assert apply(integration, shopify_order(1, minute=3, financial_status="paid", fulfillment_status="fulfilled",
                                            cancelled=True)) == "refused"  # the run's history counts it
    order = the_order()
    assert order.status == "shipped" and order.platform_state == "cancelled"
    [note] = [e for e in order.events if e.kind == "platform_status_refused"]
    assert note.message.startswith("Shopify says Cancelled; not applied: An order that has been shipped cannot")
    assert db.session.scalar(select(func.count(SyncOperation.id))) == 0


def test_status_changes_wait_while_the_integration_does_not_pull(app):
    integration = shop(direction="off")
    map_status(integration, "paid", "paid", "pull")
    apply(integration, shopify_order(1, minute=0))
    apply(integration, shopify_order(1, minute=1, financial_status="paid"))
    assert the_order().status == "awaiting_payment" and the_order().payment_status == "paid"


def test_a_refund_is_noted_once(app):
    integration = shop()
    apply(integration, shopify_order(1, financial_status="paid"))
    for _ in range(2):
        outcome = apply_refund(integration, refund_from_shopify(shopify_refund(9, 1, "64.00")))
        db.session.commit()
    assert outcome.outcome == "unchanged"
    order = the_order()
    assert [p.amount for p in order.payments] == [Decimal("64.00"), Decimal("-64.00")]
    assert order.payment_status == "refunded" and order.total_paid == 0
    unknown = apply_refund(integration, refund_from_shopify(shopify_refund(10, 404)))
    assert unknown.outcome == "skipped" and "does not have yet" in unknown.message
