"""What one push does with each platform answer (in-process, against the fakes over real HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.orders.models import Order
from app.orders.services import Actor, change_status
from app.sync.models import SyncOperation
from app.sync.operations import retry as retry_operation
from app.sync.push import push_status_change
from tests.factories import make_integration, make_order, map_status

MANUAL = Actor("Olga Operator", "manual")


@pytest.fixture
def shop(app, fake_prestashop):
    integration = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                                   credentials={"api_key": fake_prestashop.api_key},
                                   states=[(i, f"State {i}") for i in fake_prestashop.states])
    map_status(integration, "paid", "2", "push")
    map_status(integration, "shipped", "4", "both")
    return integration


@pytest.fixture
def allegro(app, fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    integration = make_integration("allegro", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url}, credentials={"client_secret": fake_allegro.client_secret,
                                                         "access_token": access, "refresh_token": refresh},
        states=[("NEW", "New"), ("PROCESSING", "Processing"), ("SENT", "Sent"), ("RETURNED", "Returned")])
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    db.session.commit()
    map_status(integration, "paid", "PROCESSING", "push")
    map_status(integration, "shipped", "SENT", "push")
    return integration


def push(order: Order, status: str) -> SyncOperation:
    """Change the order's status by hand and run the push it queued, as a worker would."""
    change_status(order.id, status, MANUAL)
    operation = db.session.scalars(select(SyncOperation).where(SyncOperation.order_id == order.id)
                                   .order_by(SyncOperation.id.desc())).first()
    push_status_change(operation.id)
    db.session.expire_all()
    return db.session.get(SyncOperation, operation.id)


def timeline_kinds(order: Order) -> list[str]:
    return [e.kind for e in db.session.get(Order, order.id).events]


def test_prestashop_push_records_platform_state_cursor_and_timeline(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    operation = push(order, "paid")
    assert operation.state == "done"
    assert fake_prestashop.orders[order.external_order_id] == "2"
    assert [(p["order_id"], p["state_id"]) for p in fake_prestashop.history_posts] == [(order.external_order_id, "2")]
    order = db.session.get(Order, order.id)
    assert order.platform_state == "2" and order.revision == 3  # bookkeeping does not bump the revision
    assert "push_done" in timeline_kinds(order)
    from app.integrations.progress import cursors
    assert "last_status_pushed_at" in cursors(shop.id)


def test_send_email_switch_sends_sendemail(shop, fake_prestashop, retry_sleeps):
    shop.settings = {**shop.settings, "send_email": True}
    db.session.commit()
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    push(order, "paid")
    assert fake_prestashop.history_posts[-1]["sendemail"] in (True, "1", 1)


def test_already_in_the_target_state_is_done_without_a_call(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id,
                       external_order_id=fake_prestashop.add_order(state="2"))
    operation = push(order, "paid")
    assert operation.state == "done" and "already had" in operation.result
    assert fake_prestashop.history_posts == []


def test_a_status_without_mapping_is_skipped_with_the_reason(shop, fake_prestashop, retry_sleeps):
    order = make_order("paid", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    operation = push(order, "picking")
    assert operation.state == "skipped" and "no mapping for status “picking”" in operation.result
    assert "push_skipped" in timeline_kinds(order)
    other = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    assert push(other, "paid").state == "done"  # the rest goes on


def test_a_permanent_refusal_fails_at_once_with_the_shops_words(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="999")  # not in the shop
    operation = push(order, "paid")
    assert operation.state == "failed" and operation.attempts == 1
    assert "HTTP 404" in operation.last_error
    assert "push_failed" in timeline_kinds(order)


def test_transient_failures_are_retried_then_rescheduled(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    fake_prestashop.fail_next(1, 503, on="POST")
    assert push(order, "paid").state == "done"  # one 503 is absorbed by the retry in the job
    assert retry_sleeps[:1] == [1.0]

    second = make_order("paid", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    fake_prestashop.fail_rate, fake_prestashop.fail_status = 1.0, 502
    operation = push(second, "shipped")
    assert operation.state == "pending" and operation.attempts == 1 and "HTTP 502" in operation.last_error
    assert operation.next_attempt_at > utcnow() + timedelta(seconds=40)
    assert "push_retry" in timeline_kinds(second)


def test_429_waits_as_long_as_retry_after_asks(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    fake_prestashop.fail_next(1, 429, retry_after=7, on="GET /api/orders")
    assert push(order, "paid").state == "done"
    assert 7.0 in retry_sleeps


def test_allegro_push_sends_the_revision_and_the_status(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order(status="NEW")
    revision = fake_allegro.orders[checkout_id]["revision"]
    order = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=checkout_id)
    assert push(order, "paid").state == "done"
    [put] = fake_allegro.fulfillment_puts
    assert (put["status"], put["revision"]) == ("PROCESSING", revision)
    assert fake_allegro.spec_violations == []


def test_allegro_409_refetches_the_revision_and_retries_once(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order(status="NEW")
    order = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=checkout_id)
    fake_allegro.fail_next(1, 409, on="PUT")
    assert push(order, "paid").state == "done"
    assert fake_allegro.orders[checkout_id]["status"] == "PROCESSING"
    assert len([r for r in fake_allegro.requests_log if r.method == "PUT"]) == 2


def test_allegro_401_refreshes_the_token_once_and_retries(allegro, fake_allegro, retry_sleeps):
    fake_allegro.expire_access_tokens()
    checkout_id = fake_allegro.add_order(status="NEW")
    order = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=checkout_id)
    assert push(order, "paid").state == "done"
    assert fake_allegro.refresh_count == 1
    integration = db.session.get(Integration, allegro.id)
    assert integration.credentials["access_token"] in fake_allegro.access_tokens
    assert integration.token_expires_at > utcnow() + timedelta(hours=11)


def test_allegro_422_fails_at_once_with_the_user_message(allegro, fake_allegro, retry_sleeps):
    checkout_id = fake_allegro.add_order(status="NEW")
    order = make_order("paid", integration_id=allegro.id, external_order_id=checkout_id)
    fake_allegro.fail_next(1, 422, on="PUT")
    operation = push(order, "shipped")
    assert operation.state == "failed" and operation.attempts == 1
    assert "422" in operation.last_error


def test_an_expired_refresh_token_waits_pending_and_asks_to_reconnect(allegro, fake_allegro, retry_sleeps):
    integration = db.session.get(Integration, allegro.id)
    credentials = integration.credentials
    credentials["refresh_token"] = "already-used"
    integration.credentials = credentials
    db.session.commit()
    fake_allegro.expire_access_tokens()
    order = make_order("awaiting_payment", integration_id=allegro.id, external_order_id=fake_allegro.add_order())
    operation = push(order, "paid")
    assert operation.state == "pending" and operation.attempts == 0
    assert "connect the account again" in operation.last_error and "already-used" not in operation.last_error
    integration = db.session.get(Integration, allegro.id)
    assert integration.connection_state == "reconnect_needed"
    assert "already-used" not in integration.connection_message


def test_a_disabled_integration_pushes_nothing(shop, fake_prestashop, retry_sleeps):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    change_status(order.id, "paid", MANUAL)
    shop.enabled = False
    db.session.commit()
    [operation] = db.session.scalars(select(SyncOperation)).all()
    push_status_change(operation.id)
    db.session.expire_all()
    assert db.session.get(SyncOperation, operation.id).state == "skipped"
    assert fake_prestashop.history_posts == []
    retry_operation(operation.id, MANUAL)  # a retry after switching it back on delivers
    shop.enabled = True
    db.session.commit()
    push_status_change(operation.id)
    assert fake_prestashop.history_posts
