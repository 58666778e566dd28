"""Issue 8's cases, each a flow: fake platforms over real HTTP, real `worker.py` processes, Redis, PostgreSQL.

Workers run with shortened waits (platform retry scale 0.01, backoff 0.5 s, lease 5 s unless a
test sets the production 30 s). Most tests drive the outbox sweeper themselves every half second
(the scheduler runs it every minute); case 2 runs the real scheduler instead.
"""

from __future__ import annotations

import time
from datetime import timedelta

import redis
from sqlalchemy import func, select, text

from app.core.types import utcnow
from app.extensions import db
from app.integrations import services as integrations
from app.integrations.models import Integration
from app.orders.models import Order, OrderEvent, OrderStatusHistory
from app.orders.services import Actor, change_status
from app.sync.models import SyncOperation
import pytest

from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user, map_status
from tests.sync.conftest import wait_until
from tests.sync.test_push_flow import PS_MAPPING, open_operations, outbox_report, prestashop_shop

MANUAL = Actor("Olga Operator", "manual")
STEPS = ("paid", "picking", "shipped")


@pytest.fixture
def client(pg_app):
    return pg_app.test_client()


def sign_in(client, role: str) -> str:
    """Sign a new user with `role` in through the login form; returns the CSRF token for posts."""
    user = make_user(role)
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": "password123",
                                           "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    return csrf_from(client.get("/orders").get_data(as_text=True))


def allegro_account(fake, *, refresh_token: str | None = None, name: str | None = None, expired: bool = False):
    """An Allegro integration connected to the fake, pushing paid as PROCESSING and shipped as SENT."""
    access, refresh = fake.issue_tokens()
    if expired:
        fake.expire_access_tokens()
    credentials = {"client_secret": fake.client_secret, "access_token": access}
    if refresh_token != "":
        credentials["refresh_token"] = refresh_token or refresh
    integration = make_integration("allegro", direction="push", name=name, settings={
        "environment": "sandbox", "client_id": fake.client_id, "api_url": fake.api_url, "auth_url": fake.auth_url},
        credentials=credentials, states=[("NEW", "New"), ("PROCESSING", "Processing"), ("SENT", "Sent")])
    integration.token_expires_at = utcnow() + timedelta(hours=12)  # Kontor believes the token still works
    db.session.commit()
    map_status(integration, "paid", "PROCESSING", "push")
    map_status(integration, "shipped", "SENT", "push")
    return integration


def operations_of(order: Order) -> list[SyncOperation]:
    return list(db.session.scalars(select(SyncOperation).where(SyncOperation.order_id == order.id)
                                   .order_by(SyncOperation.id)))


def event_messages(order: Order, kind: str) -> list[str]:
    return list(db.session.scalars(select(OrderEvent.message).where(OrderEvent.order_id == order.id,
                                                                    OrderEvent.kind == kind)))


# --- case 1 ------------------------------------------------------------------------------------

def test_case_1_an_older_push_never_overwrites_a_newer_one(pg_app, workers, fake_prestashop):
    fake_prestashop.fail_rate = 0.2  # every request: GETs and POSTs alike
    fake_prestashop.fail_retry_after = 0
    shop = prestashop_shop(fake_prestashop)
    orders = [make_order("awaiting_payment", integration_id=shop.id,
                         external_order_id=fake_prestashop.add_order(state="10")) for _ in range(200)]
    workers.start(2)
    for status in STEPS:  # three quick changes of every order while both workers push
        for order in orders:
            change_status(order.id, status, MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=150, report=outbox_report)

    wanted = PS_MAPPING["shipped"]
    wrong = [o.external_order_id for o in orders if fake_prestashop.orders[o.external_order_id] != wanted]
    assert wrong == [], f"{len(wrong)} orders ended in another state than their last status's"
    order_of_wishes = [PS_MAPPING[s] for s in STEPS]
    for order in orders:
        posted = [p["state_id"] for p in fake_prestashop.history_posts if p["order_id"] == order.external_order_id]
        assert posted == sorted(posted, key=order_of_wishes.index), f"an older wish landed after a newer one: {posted}"
        assert len(posted) == len(set(posted)), f"a state was written twice: {posted}"
    states = dict(db.session.execute(select(SyncOperation.state, func.count()).group_by(SyncOperation.state)).all())
    assert set(states) <= {"done", "superseded"}, outbox_report()
    superseded = db.session.scalars(select(SyncOperation).where(SyncOperation.state == "superseded")).all()
    assert all("moved on" in op.result for op in superseded)
    assert fake_prestashop.handler_errors == []


# --- case 2 ------------------------------------------------------------------------------------

def test_case_2_a_flushed_redis_heals_without_restarting_anything(pg_app, workers, fake_prestashop, redis_server):
    fake_prestashop.latency = 0.1
    shop = prestashop_shop(fake_prestashop)
    orders = [make_order("awaiting_payment", integration_id=shop.id,
                         external_order_id=fake_prestashop.add_order(state="10")) for _ in range(50)]
    workers.start_scheduler(interval=1)
    workers.start(1, queues=("integrations", "default"))
    workers.start(1)
    for order in orders:
        change_status(order.id, "paid", MANUAL)
    wait_until(lambda: len(fake_prestashop.history_posts) >= 5, timeout=30, sweep=False, every=0.05)
    redis.Redis.from_url(redis_server).flushdb()  # the queued jobs, the schedule and the heartbeat are gone
    flushed_at = time.monotonic()

    # No sweeping from the test: only the scheduler, which must put its schedule back by itself.
    wait_until(lambda: open_operations() == 0, timeout=120, sweep=False, report=lambda: outbox_report()
               + workers.output(1500))

    assert time.monotonic() - flushed_at < 120
    assert all(fake_prestashop.orders[o.external_order_id] == "2" for o in orders)
    wait_until(lambda: pg_app.test_client().get("/healthz").status_code == 200, timeout=30, sweep=False)
    assert all(process.poll() is None for process in workers.processes), "a process died"


# --- case 3 ------------------------------------------------------------------------------------

def test_case_3_revision_conflicts_are_retried_like_a_5xx(pg_app, workers, fake_allegro):
    allegro = allegro_account(fake_allegro)
    twice = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    stubborn = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    workers.start(1)
    # The buyer keeps modifying the order: two 409s for one, four (more than one attempt's three) for the other.
    fake_allegro.fail_next(2, 409, on=f"PUT .*{twice.external_order_id}/fulfillment")
    fake_allegro.fail_next(4, 409, on=f"PUT .*{stubborn.external_order_id}/fulfillment")
    change_status(twice.id, "paid", MANUAL)
    change_status(stubborn.id, "paid", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    for order in (twice, stubborn):
        assert fake_allegro.orders[order.external_order_id]["status"] == "PROCESSING"
        [operation] = operations_of(order)
        assert operation.state == "done", outbox_report()
    assert [op.attempts for op in operations_of(twice) + operations_of(stubborn)] == [1, 2]
    assert any("changed on Allegro meanwhile" in m for m in event_messages(stubborn, "push_retry"))
    # Every resend was based on a freshly read revision.
    puts = [r for r in fake_allegro.requests_log if r.method == "PUT"]
    assert len(puts) == 2 + 1 + 4 + 1
    assert fake_allegro.spec_violations == []


# --- case 4 ------------------------------------------------------------------------------------

def test_case_4_a_lost_refresh_answer_is_retried_at_once_and_a_gone_grant_waits_for_reconnect(
        pg_app, workers, fake_allegro, client):
    fake_allegro.refresh_grace = 30  # Allegro takes a just-used refresh token again for a short while
    lost = allegro_account(fake_allegro, expired=True, name="Allegro lost answer")
    order = make_order("awaiting_payment", integration_id=lost.id, external_order_id=fake_allegro.add_order())
    fake_allegro.fail_next(1, 503, on="POST /auth/oauth/token", after=True)  # applied, answer lost
    workers.start(1)
    started = time.monotonic()
    change_status(order.id, "paid", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=30, report=outbox_report)

    assert time.monotonic() - started < 20, "the refresh was not retried at once"
    assert fake_allegro.orders[order.external_order_id]["status"] == "PROCESSING"
    assert fake_allegro.refresh_count == 2
    db.session.expire_all()
    assert db.session.get(Integration, lost.id).connection_state != "reconnect_needed"

    # Now the grant is gone for good (refresh token used long ago): pushes wait, nothing fails.
    fake_allegro.refresh_grace = 0
    gone = allegro_account(fake_allegro, refresh_token="eyJ.refresh.used-long-ago", expired=True,
                           name="Allegro gone")
    waiting = [make_order("awaiting_payment", integration_id=gone.id, external_order_id=fake_allegro.add_order())
               for _ in range(3)]
    for each in waiting:
        change_status(each.id, "paid", MANUAL)
    wait_until(lambda: db.session.get(Integration, gone.id, populate_existing=True).connection_state
               == "reconnect_needed", timeout=30)
    time.sleep(1)
    db.session.rollback()
    for each in waiting:
        [operation] = operations_of(each)
        assert operation.state == "pending" and operation.attempts == 0, outbox_report()
        assert "connected again" in operation.last_error
    sign_in(client, "admin")
    for page in ("/orders", f"/integrations/{gone.id}"):
        body = client.get(page).get_data(as_text=True)
        assert "Reconnect needed" in body and "Allegro gone" in body, page
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/orders").get_data(as_text=True))})
    sign_in(client, "viewer")
    assert "Reconnect needed" not in client.get("/orders").get_data(as_text=True)

    # The seller connects again: the waiting pushes go out without anyone retrying them.
    device = integrations.start_allegro_connection(gone.id)
    fake_allegro.confirm_device(device["user_code"])
    assert integrations.poll_allegro_connection(gone.id) == "connected"
    wait_until(lambda: open_operations() == 0, timeout=30, sweep=False, report=outbox_report)
    assert all(fake_allegro.orders[o.external_order_id]["status"] == "PROCESSING" for o in waiting)


# --- case 5 ------------------------------------------------------------------------------------

def _stored_texts_containing(value: str) -> list[str]:
    """table.column of every stored text (text, varchar, json) that contains `value`."""
    columns = db.session.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND data_type IN ('text', 'character varying', 'json', 'jsonb')")).all()
    found = []
    for table, column in columns:
        hit = db.session.execute(text(f'SELECT 1 FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE :v LIMIT 1'),
                                 {"v": f"%{value}%"}).first()
        if hit:
            found.append(f"{table}.{column}")
    return found


def test_case_5_no_token_or_secret_is_ever_stored_in_a_message_or_logged(pg_app, workers, fake_allegro):
    used = "eyJ.refresh.already-used-" + "x" * 20
    gone = allegro_account(fake_allegro, refresh_token=used, expired=True, name="Allegro used token")
    no_refresh = allegro_account(fake_allegro, refresh_token="", expired=True, name="Allegro without refresh")
    fine = allegro_account(fake_allegro, expired=True, name="Allegro refreshing")
    orders = {integration.id: make_order("awaiting_payment", integration_id=integration.id,
                                         external_order_id=fake_allegro.add_order())
              for integration in (gone, no_refresh, fine)}
    fake_allegro.fail_next(2, 503, on="PUT")
    workers.start(1)
    for order in orders.values():
        change_status(order.id, "paid", MANUAL)
    wait_until(lambda: db.session.scalar(select(func.count(SyncOperation.id)).where(
        SyncOperation.state.in_(("done", "failed")))) == 2, timeout=60, report=outbox_report)
    for integration in (gone, no_refresh, fine):
        integrations.test_connection(integration.id)  # what the page's "Test connection" does
    db.session.rollback()

    # The platform echoed tokens back (401 "Access token expired: …", 400 "Invalid refresh token: …").
    assert "reconnect_needed" == db.session.get(Integration, gone.id).connection_state
    assert db.session.scalar(select(SyncOperation.state).where(SyncOperation.order_id == orders[no_refresh.id].id)) \
        == "failed"
    secrets = {used, fake_allegro.client_secret, *fake_allegro.access_tokens, *fake_allegro.refresh_tokens}
    for secret in secrets:
        assert _stored_texts_containing(secret) == [], f"a token is stored in plain text: {secret[:12]}…"
        assert secret not in workers.log_text(), f"a token is in the worker's log: {secret[:12]}…"
    assert "[hidden]" in db.session.scalar(select(SyncOperation.last_error).where(
        SyncOperation.order_id == orders[no_refresh.id].id))


# --- case 6 ------------------------------------------------------------------------------------

def test_case_6_a_change_made_on_the_platform_is_never_overwritten_silently(pg_app, workers, fake_prestashop,
                                                                            client):
    shops = {}
    for choice in ("ask", "kontor", "platform"):
        shop = prestashop_shop(fake_prestashop)
        if choice != "ask":  # ask is the default
            shop.settings = {**shop.settings, "when_platform_changed": choice}
        db.session.commit()
        shops[choice] = shop
    orders = {}
    for choice, shop in shops.items():
        order = make_order("paid", integration_id=shop.id, external_order_id=fake_prestashop.add_order(state="2"))
        db.session.execute(Order.__table__.update().where(Order.__table__.c.id == order.id)
                           .values(platform_state="2"))  # Kontor last saw "Payment accepted"
        db.session.commit()
        with fake_prestashop.lock:
            fake_prestashop.orders[order.external_order_id] = "4"  # set to Shipped in the shop's back office
        orders[choice] = order
    workers.start(1)
    for order in orders.values():
        change_status(order.id, "picking", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    ask, kontor, platform = orders["ask"], orders["kontor"], orders["platform"]
    # Kontor wins: pushed, and the timeline says what was overwritten.
    assert fake_prestashop.orders[kontor.external_order_id] == "3"
    assert any("set on the platform" in m and "written over" in m for m in event_messages(kontor, "push_overwrote"))
    # The platform wins: nothing pushed, its state came in as a platform change (never pushed back).
    assert fake_prestashop.orders[platform.external_order_id] == "4"
    assert db.session.get(Order, platform.id).status == "shipped"
    last = db.session.scalars(select(OrderStatusHistory).where(OrderStatusHistory.order_id == platform.id)
                              .order_by(OrderStatusHistory.id.desc())).first()
    assert (last.to_status, last.change_source) == ("shipped", "platform")
    assert [op.state for op in operations_of(platform)] == ["skipped"]
    # Ask: nothing pushed, the order shows both values and waits for a choice.
    assert fake_prestashop.orders[ask.external_order_id] == "4"
    [waiting] = operations_of(ask)
    assert waiting.state == "conflict"
    token = sign_in(client, "operator")
    panel = client.get(f"/sync/orders/{ask.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "State 4" in panel and "State 3" in panel and "Push Kontor" in panel  # the shop's and Kontor's
    assert fake_prestashop.history_posts == [p for p in fake_prestashop.history_posts
                                             if p["order_id"] == kontor.external_order_id]

    response = client.post(f"/sync/operations/{waiting.id}/choose-kontor", data={"from": "order"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    wait_until(lambda: open_operations() == 0, timeout=30, report=outbox_report)
    assert fake_prestashop.orders[ask.external_order_id] == "3"
    assert event_messages(ask, "push_overwrote")


# --- case 7 ------------------------------------------------------------------------------------

def test_case_7_a_push_held_by_a_killed_worker_completes_within_a_minute(pg_app, workers, fake_prestashop):
    pg_app.config["SYNC_LEASE_SECONDS"] = 30  # the production lease
    shop = prestashop_shop(fake_prestashop)
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="10"))
    fake_prestashop.delay_next(1, seconds=3, on="POST /api/order_histories")
    [worker] = workers.start(1)
    change_status(order.id, "paid", MANUAL)
    wait_until(lambda: any(r.method == "POST" for r in fake_prestashop.requests_log), timeout=30, sweep=False,
               every=0.05)
    assert workers.children(worker) == [], "worker.py started a child process (an RQ scheduler?)"
    workers.kill(worker)  # mid-push: the write is on its way
    killed_at = time.monotonic()
    workers.start(1)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)

    assert time.monotonic() - killed_at < 60
    [operation] = operations_of(order)
    assert operation.state == "done" and fake_prestashop.orders[order.external_order_id] == "2"
    assert len(fake_prestashop.history_posts) == 1


def test_case_7_a_live_worker_keeps_its_lease_while_the_platform_is_slow(pg_app, workers, fake_prestashop):
    pg_app.config["SYNC_LEASE_SECONDS"] = 2
    shop = prestashop_shop(fake_prestashop)
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="10"))
    fake_prestashop.delay_next(1, seconds=7, on="POST /api/order_histories")  # three leases long
    workers.start(2)
    change_status(order.id, "paid", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, every=0.3, report=outbox_report)  # sweeping all along

    [operation] = operations_of(order)
    assert operation.state == "done" and operation.attempts == 1, (
        f"another worker took over a live push: {event_messages(order, 'push_retry')} {workers.output(3000)}")
    assert len([r for r in fake_prestashop.requests_log if r.method == "POST"]) == 1


# --- case 8 ------------------------------------------------------------------------------------

def test_case_8_a_write_applied_but_unanswered_is_confirmed_in_words(pg_app, workers, fake_prestashop):
    shop = prestashop_shop(fake_prestashop)
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="10"))
    fake_prestashop.fail_next(1, 503, on="POST /api/order_histories", after=True)
    workers.start(1)
    change_status(order.id, "paid", MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=30, report=outbox_report)

    [operation] = operations_of(order)
    assert operation.state == "done"
    assert "confirmed on the platform after an unanswered write" in operation.result
    assert "nothing sent" not in operation.result
    assert len(fake_prestashop.history_posts) == 1


# --- Test connection ---------------------------------------------------------------------------

def test_test_connection_asks_allegros_me(pg_app, fake_allegro, client):
    allegro = allegro_account(fake_allegro)
    token = sign_in(client, "admin")

    response = client.post(f"/integrations/{allegro.id}/test", headers={"HX-Request": "true", "X-CSRFToken": token})

    assert "Connected to Allegro as Kontor_Test_Seller." in response.get_data(as_text=True)
    assert [r.line for r in fake_allegro.requests_log] == ["GET /me"]
    db.session.expire_all()
    assert db.session.get(Integration, allegro.id).connection_state == "ok"
