"""Allegro orders end to end: the journal read as the scheduler would, real workers applying the forms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from app.core.types import utcnow
from app.extensions import db
from app.inbound import allegro as journal
from app.inbound.models import InboundEvent
from app.integrations.progress import set_cursor
from app.orders.models import Order
from app.settings.models import NumberingScheme
from tests.factories import make_integration
from tests.fakes.allegro import FakeAllegro
from tests.inbound.test_flows import ledger_report, wait_for

ORDERS = 1000


def test_1000_orders_through_shuffled_events_with_duplicates_become_1000_orders_at_their_newest_revision(
        pg_app, workers):
    with FakeAllegro(seed=11) as fake:
        access, refresh = fake.issue_tokens()
        integration = make_integration("allegro", direction="pull", settings={
            "environment": "sandbox", "client_id": fake.client_id, "api_url": fake.api_url,
            "auth_url": fake.auth_url}, credentials={"client_secret": fake.client_secret, "access_token": access,
                                                     "refresh_token": refresh})
        integration.token_expires_at = utcnow() + timedelta(hours=12)
        set_cursor(integration.id, journal.CURSOR, journal.START)
        db.session.commit()
        start = datetime.now(timezone.utc) - timedelta(hours=2)
        ids = []
        for n in range(ORDERS):
            moment = start + timedelta(seconds=n)
            order_id = fake.put_form(form_status="BOUGHT", updated_at=moment, event="BOUGHT")
            fake.put_form(order_id, form_status="FILLED_IN", updated_at=moment + timedelta(minutes=1), event="FILLED_IN")
            fake.put_form(order_id, form_status="READY_FOR_PROCESSING", updated_at=moment + timedelta(minutes=2),
                          event="READY_FOR_PROCESSING")
            ids.append(order_id)
        for order_id in fake.random.sample(ids, ORDERS // 5):  # 20 % duplicates with ids of their own
            fake.add_event(order_id, "READY_FOR_PROCESSING")
        fake.shuffle_journal()
        assert len(fake.events) == 3 * ORDERS + ORDERS // 5

        workers.start(2, queues=("orders",))
        counts = journal.poll_journal(integration.id)
        assert counts["new_events"] == len(fake.events)
        wait_for(lambda: db.session.scalar(select(func.count(InboundEvent.id)).where(
            InboundEvent.state == "received")) == 0, timeout=240, report=ledger_report)
        assert db.session.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.state == "failed")) == 0
        revisions = dict(db.session.execute(select(Order.external_order_id, Order.meta)).all())
        assert len(revisions) == ORDERS
        assert {order_id: meta["platform_revision"] for order_id, meta in revisions.items()} == {
            order_id: fake.orders[order_id]["revision"] for order_id in ids}
        assert db.session.scalar(select(func.count(Order.id)).where(Order.payment_status == "paid")) == ORDERS
        assert db.session.scalar(select(NumberingScheme.counter)) == ORDERS
        # Forms came 100 a request from the list, not one GET per order.
        singles = [r for r in fake.requests_log if r.path.startswith("/order/checkout-forms/")]
        assert len(singles) < 20
        assert fake.spec_violations == [] and fake.handler_errors == []
