"""Deliveries end to end: HTTP into the webhook endpoints, real workers on Redis, PostgreSQL.

The test drives the inbound sweeper itself (the scheduler runs it every minute); workers run with
a 5 s lease and half-second backoff so a dead worker's delivery is picked up again in seconds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from app.extensions import db, redis_connection
from app.inbound.apply import apply_order
from app.inbound.models import InboundEvent
from app.integrations.models import Integration
from app.integrations.shopify.mapping import STATES, order_from_shopify
from app.integrations.woocommerce.mapping import STATES as WC_STATES
from app.jobs import tasks
from app.orders.models import Order
from app.orders.services import Actor, change_status
from app.settings.models import NumberingScheme
from app.sync.models import SyncOperation
from tests.factories import make_integration, map_status
from tests.fakes import shopify as fake_shopify
from tests.fakes import woocommerce as fake_woocommerce
from tests.fakes.woocommerce import FakeWooCommerce


def wait_for(condition, timeout: float = 90.0, report=None) -> None:
    """Poll `condition`, sweeping the inbound ledger as the scheduler would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if condition():
            return
        tasks.sweep_inbound()
        time.sleep(0.5)
    db.session.rollback()
    assert condition(), f"not reached within {timeout} s" + (f": {report()}" if report else "")


def open_events() -> int:
    return db.session.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.state.in_(("received",))))


def ledger_report() -> str:
    rows = db.session.execute(select(InboundEvent.state, func.count()).group_by(InboundEvent.state)).all()
    odd = db.session.scalars(select(InboundEvent).where(InboundEvent.state.in_(("received", "failed"))).limit(5))
    return f"{dict(rows)}; " + "; ".join(f"#{e.id} {e.state} attempts={e.attempts} error={e.error!r}" for e in odd)


def shopify_shop():
    integration = make_integration("shopify", direction="pull", states=[(s.external_id, s.name) for s in STATES])
    map_status(integration, "paid", "paid", "pull")
    map_status(integration, "shipped", "fulfilled", "pull")
    return integration


VERSIONS = (  # minute, financial status, fulfilment, quantity
    (0, "pending", None, 1), (1, "paid", None, 1), (2, "paid", None, 2), (3, "paid", "fulfilled", 3),
    (4, "paid", "fulfilled", 4),
)


def test_500_shopify_deliveries_with_repeats_and_late_ones_end_in_the_newest_state(pg_app, workers):
    shop = shopify_shop()
    rng = random.Random(9)
    client = pg_app.test_client()
    unique = []
    for version, (minute, financial, fulfilment, quantity) in enumerate(VERSIONS):
        for order_id in range(1, 71):
            payload = fake_shopify.shopify_order(order_id, minute=minute, financial_status=financial,
                                                 fulfillment_status=fulfilment, quantity=quantity,
                                                 note="final" if version == 4 else "")
            unique.append(fake_shopify.delivery(payload, "shopify-secret", webhook_id=f"wh-{order_id}-{version}",
                                                topic="orders/updated", triggered_minute=minute))
    # 10 % of the 500 arrive late: older versions sent after everything newer.
    late = rng.sample([d for d in unique if not d[1]["X-Shopify-Webhook-Id"].endswith("-4")], 50)
    sequence = [d for d in unique if d not in late] + late
    # 30 % are repeats of deliveries already sent (Shopify retries when it thinks we did not answer).
    for _ in range(150):
        position = rng.randrange(1, len(sequence))
        sequence.insert(position, rng.choice(sequence[:position]))
    assert len(sequence) == 500
    workers.start(2, queues=("orders",))
    answers = Counter(client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers).status_code
                      for body, headers in sequence)
    assert answers == {200: 500}

    wait_for(lambda: open_events() == 0, report=ledger_report)
    assert db.session.scalar(select(func.count(InboundEvent.id))) == 350
    assert db.session.scalar(select(func.count(InboundEvent.id)).where(InboundEvent.state == "failed")) == 0
    orders = db.session.scalars(select(Order)).all()
    assert len(orders) == 70
    for order in orders:
        assert (order.status, order.customer_comment, order.items[0].quantity) == ("shipped", "final", 4), order.number
        assert order.meta["platform_version"][0].startswith("2026-11-30T10:04")
    assert len({o.number for o in orders}) == 70
    assert db.session.scalar(select(NumberingScheme.counter)) == 70  # no order number taken twice or wasted


def test_two_workers_applying_the_same_new_order_make_one_kontor_order(pg_app):
    shop_id = shopify_shop().id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def apply_in_thread(order_id: int, minute: int) -> None:
        with pg_app.app_context():
            try:
                barrier.wait(timeout=10)
                apply_order(db.session.get(Integration, shop_id),
                            order_from_shopify(fake_shopify.shopify_order(order_id, minute=minute)))
                db.session.commit()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    for order_id in range(1, 11):
        threads = [threading.Thread(target=apply_in_thread, args=(order_id, minute)) for minute in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    db.session.rollback()
    counts = dict(db.session.execute(select(Order.external_order_id, func.count()).group_by(Order.external_order_id)).all())
    assert counts == {str(n): 1 for n in range(1, 11)}
    assert db.session.scalar(select(NumberingScheme.counter)) == 10
    # Whichever came second, the newer version is the one kept.
    assert all(o.meta["platform_version"][0].startswith("2026-11-30T10:02") for o in db.session.scalars(select(Order)))


def test_a_worker_killed_mid_processing_leaves_the_delivery_to_be_processed_later(pg_app, workers):
    shop = shopify_shop()
    client = pg_app.test_client()
    url = f"/webhooks/shopify/{shop.id}"
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1, minute=0), "shopify-secret", webhook_id="a")
    first = workers.start(1, queues=("orders",))[0]
    client.post(url, data=body, headers=headers)
    wait_for(lambda: db.session.scalar(select(func.count(Order.id))) == 1, report=ledger_report)
    order_id = db.session.scalar(select(Order.id))

    # Hold the order's row, so the worker blocks inside the apply; then kill it there.
    blocker = db.engine.connect()
    transaction = blocker.begin()
    blocker.execute(sa.text("SELECT id FROM orders WHERE id = :id FOR UPDATE"), {"id": order_id})
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1, minute=1, financial_status="paid"),
                                          "shopify-secret", webhook_id="b")
    event_id = client.post(url, data=body, headers=headers).get_json()["event_id"]
    wait_for(lambda: db.session.get(InboundEvent, event_id, populate_existing=True).attempts == 1, timeout=30)
    workers.kill(first)
    transaction.rollback()
    blocker.close()
    db.session.rollback()
    event = db.session.get(InboundEvent, event_id, populate_existing=True)
    assert event.state == "received" and event.locked_until is not None

    workers.start(1, queues=("orders",))
    wait_for(lambda: db.session.get(InboundEvent, event_id, populate_existing=True).state == "processed",
             timeout=60, report=ledger_report)
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "paid"
    assert db.session.get(InboundEvent, event_id).attempts == 2


@pytest.fixture
def fake_woo():
    with FakeWooCommerce() as fake:
        yield fake
        assert fake.handler_errors == []


def test_a_platform_sourced_status_change_is_never_pushed_back(pg_app, workers, fake_woo):
    shop = make_integration("woocommerce", direction="both", settings={"site_url": fake_woo.url},
                            credentials={"consumer_key": fake_woo.consumer_key,
                                         "consumer_secret": fake_woo.consumer_secret, "webhook_secret": "wc-secret"},
                            states=[(s.external_id, s.name) for s in WC_STATES])
    map_status(shop, "awaiting_payment", "pending", "both")
    map_status(shop, "paid", "processing", "both")
    map_status(shop, "completed", "completed", "both")
    fake_woo.orders["501"] = fake_woocommerce.woocommerce_order(501, minute=0)
    workers.start(1, queues=("orders", "integrations"))
    client = pg_app.test_client()
    url = f"/webhooks/woocommerce/{shop.id}"
    for minute, status in ((0, "pending"), (1, "processing")):
        payload = fake_woocommerce.woocommerce_order(501, minute=minute, status=status, paid=status == "processing")
        fake_woo.orders["501"] = payload  # the shop is where its webhook says it is
        body, headers = fake_woocommerce.delivery(payload, "wc-secret", delivery_id=str(minute))
        assert client.post(url, data=body, headers=headers).status_code == 200
    wait_for(lambda: open_events() == 0 and db.session.scalar(select(Order.status)) == "paid", report=ledger_report)
    order = db.session.scalar(select(Order))
    assert order.history[-1].change_source == "platform"
    time.sleep(2)  # give a wrongly queued push every chance to reach the shop
    assert db.session.scalar(select(func.count(SyncOperation.id))) == 0
    assert fake_woo.writes == []

    # The channel itself works: a person's change does reach the shop.
    change_status(order.id, "completed", Actor("Olga Operator", "manual"))
    deadline = time.monotonic() + 30
    while not fake_woo.writes and time.monotonic() < deadline:
        tasks.sweep_outbox()
        time.sleep(0.5)
    assert fake_woo.writes == [("PUT", "501", {"status": "completed"})]


def test_a_delivery_whose_enqueue_was_lost_is_processed_by_the_sweeper(pg_app, workers):
    shop = shopify_shop()
    pg_app.config["DISABLED_EVENT_HANDLERS"] = ("jobs.enqueue_webhook_delivery",)  # the doorbell never rings
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(7, minute=0), "shopify-secret", webhook_id="lost")
    response = pg_app.test_client().post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers)
    assert response.status_code == 200
    assert redis_connection.queue("orders").job_ids == []
    workers.start(1, queues=("orders",))
    wait_for(lambda: db.session.scalar(select(InboundEvent.state)) == "processed", timeout=60, report=ledger_report)
    assert db.session.scalar(select(Order.external_order_id)) == "7"


def test_deliveries_get_their_batch_job_from_the_flusher_without_a_sweep(pg_app, workers):
    shop = shopify_shop()
    pg_app.config["WEBHOOK_ENQUEUE_INTERVAL"] = 0.05  # as in production: the jobs start off the request
    client = pg_app.test_client()
    for n in range(1, 6):
        body, headers = fake_shopify.delivery(fake_shopify.shopify_order(n, minute=0), "shopify-secret",
                                              webhook_id=f"f{n}")
        assert client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers).status_code == 200
    workers.start(1, queues=("orders",))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and open_events():  # no sweep here: only the flusher's jobs
        db.session.rollback()
        time.sleep(0.2)
    db.session.rollback()
    assert open_events() == 0, ledger_report()
    assert db.session.scalar(select(func.count(Order.id))) == 5
