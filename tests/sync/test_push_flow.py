"""Status pushes end to end: fake platforms over real HTTP, real workers, real Redis, PostgreSQL.

The test drives the outbox sweeper itself every half second (the scheduler runs it every minute),
and workers run with shortened waits (retry scale, backoff and lease) so faults resolve in seconds.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import redis
from sqlalchemy import func, select

from app.core.types import utcnow
from app.extensions import db
from app.orders.models import Order
from app.orders.services import Actor, change_status
from app.sync.models import SyncOperation
from tests.factories import make_integration, make_order, map_status
from tests.sync.conftest import wait_until

MANUAL = Actor("Olga Operator", "manual")
PS_MAPPING = {"paid": "2", "picking": "3", "shipped": "4", "cancelled": "6"}


def prestashop_shop(fake, direction="both"):
    integration = make_integration("prestashop", direction=direction, settings={
        "shop_url": fake.url, "language_id": 1}, credentials={"api_key": fake.api_key},
        states=[(state_id, f"State {state_id}") for state_id in fake.states])
    for status, state_id in PS_MAPPING.items():
        map_status(integration, status, state_id, "both")
    return integration


def open_operations() -> int:
    return db.session.scalar(select(func.count(SyncOperation.id)).where(
        SyncOperation.state.in_(("pending", "processing"))))


def outbox_report() -> str:
    """Operations by state, and the open ones in detail, for a failure message."""
    rows = db.session.execute(select(SyncOperation.state, func.count()).group_by(SyncOperation.state)).all()
    stuck = db.session.scalars(select(SyncOperation).where(SyncOperation.state != "done").limit(5)).all()
    return f"{dict(rows)}; " + "; ".join(
        f"#{op.id} {op.state} attempts={op.attempts} gen={op.generation} next={op.next_attempt_at:%H:%M:%S} "
        f"lease={op.locked_until} error={op.last_error!r} result={op.result!r}" for op in stuck)


def test_200_changes_with_flaky_platform_all_arrive_once(pg_app, workers, fake_prestashop):
    fake_prestashop.fail_rate = 0.2
    fake_prestashop.fail_retry_after = 0
    shop = prestashop_shop(fake_prestashop)
    orders = []
    for n in range(100):
        external_id = fake_prestashop.add_order(state="10")
        orders.append(make_order("awaiting_payment", integration_id=shop.id, external_order_id=external_id))
    workers.start(2)
    for order in orders:
        change_status(order.id, "paid", MANUAL)
    for order in orders:
        change_status(order.id, "picking", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    # A push still waiting when the next change came is replaced by it; one already on its way
    # is superseded once the order has moved on. Nothing else is allowed.
    undelivered = db.session.scalars(select(SyncOperation).where(SyncOperation.state != "done")).all()
    assert all(op.state == "superseded" and "moved on" in op.result for op in undelivered), outbox_report()
    for order in orders:
        assert fake_prestashop.orders[order.external_order_id] == PS_MAPPING["picking"]
    posts = Counter((p["order_id"], p["state_id"]) for p in fake_prestashop.history_posts)
    assert max(posts.values()) == 1, "a change reached the shop twice"
    assert fake_prestashop.handler_errors == []


def test_platform_sourced_changes_are_never_pushed(pg_app, workers, fake_prestashop):
    shop = prestashop_shop(fake_prestashop)
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="10"))
    workers.start(1)
    change_status(order.id, "paid", Actor("PrestaShop", "platform"))
    change_status(order.id, "picking", Actor("Import", "import"))
    time.sleep(2)
    assert db.session.scalar(select(func.count(SyncOperation.id))) == 0
    assert fake_prestashop.history_posts == []


def test_a_worker_killed_mid_push_loses_nothing(pg_app, workers, fake_prestashop):
    shop = prestashop_shop(fake_prestashop)
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="10"))
    fake_prestashop.delay_next(1, seconds=3, on="POST /api/order_histories")
    [worker] = workers.start(1)
    change_status(order.id, "paid", MANUAL)
    wait_until(lambda: any(r.method == "POST" for r in fake_prestashop.requests_log), timeout=30, sweep=False,
               every=0.05)
    workers.kill(worker)  # the POST is in flight: the shop may or may not have applied it
    workers.start(1)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    assert fake_prestashop.orders[order.external_order_id] == "2"
    operation = db.session.scalars(select(SyncOperation)).one()
    assert operation.state == "done"
    assert len([p for p in fake_prestashop.history_posts if p["state_id"] == "2"]) == 1


def test_a_flushed_redis_loses_nothing(pg_app, workers, fake_prestashop, redis_server):
    shop = prestashop_shop(fake_prestashop)
    orders = [make_order("awaiting_payment", integration_id=shop.id,
                         external_order_id=fake_prestashop.add_order(state="10")) for _ in range(20)]
    for order in orders:
        change_status(order.id, "paid", MANUAL)
    redis.Redis.from_url(redis_server).flushdb()  # every queued job is gone
    workers.start(1)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    assert all(fake_prestashop.orders[o.external_order_id] == "2" for o in orders)


def test_two_workers_racing_on_an_expired_allegro_token_refresh_it_once(pg_app, workers, fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    fake_allegro.expire_access_tokens()
    integration = make_integration("allegro", direction="push", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url}, credentials={"client_secret": fake_allegro.client_secret,
                                                         "access_token": access, "refresh_token": refresh},
        states=[("PROCESSING", "Processing"), ("SENT", "Sent")])
    integration.token_expires_at = utcnow() + timedelta(hours=1)  # Kontor believes it is still valid
    db.session.commit()
    map_status(integration, "paid", "PROCESSING", "push")
    orders = [make_order("awaiting_payment", integration_id=integration.id,
                         external_order_id=fake_allegro.add_order(status="NEW")) for _ in range(6)]
    for order in orders:
        change_status(order.id, "paid", MANUAL)
    workers.start(2)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    assert fake_allegro.refresh_count == 1
    assert all(fake_allegro.orders[o.external_order_id]["status"] == "PROCESSING" for o in orders)
    assert fake_allegro.spec_violations == []
    db.session.expire_all()
    assert all(db.session.get(Order, o.id).platform_state == "PROCESSING" for o in orders)
