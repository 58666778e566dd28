"""The outbox: written with the change, collapsed, claimed once, retried with backoff, never lost."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.errors import Conflict
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.orders.services import Actor, change_status
from app.sync import claims, outbox
from app.sync.models import SyncOperation
from app.sync.operations import cancel as cancel_operation, retry as retry_operation
from tests.factories import make_integration, make_order

MANUAL = Actor("Olga", "manual")


def operations():
    return list(db.session.scalars(select(SyncOperation).order_by(SyncOperation.id)))


@pytest.fixture
def shop(app):
    return make_integration("prestashop", direction="both")


def test_a_manual_change_writes_its_push_with_the_change(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    [operation] = operations()
    assert (operation.kind, operation.state, operation.order_id) == ("status_push", "pending", order.id)
    assert operation.payload["to_status"] == "paid"
    # The doorbell rang after commit: the job is on the integrations queue.
    assert operation.job_id in redis_connection.queue("integrations").job_ids


@pytest.mark.parametrize("source", ["platform", "import", "automation"])
def test_changes_from_other_sources_are_never_pushed(shop, source):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", Actor("Somebody", source))
    assert operations() == []


def test_nothing_is_pushed_when_the_direction_does_not_include_push(app):
    pulling = make_integration("prestashop", direction="pull")
    order = make_order("awaiting_payment", integration_id=pulling.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    assert operations() == []


def test_a_refused_change_writes_no_push(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    with pytest.raises(Exception):
        change_status(order.id, "returned", MANUAL)
    assert operations() == []


def test_pending_pushes_for_one_order_collapse_into_the_latest(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    for status in ("paid", "picking", "ready_for_shipment"):
        change_status(order.id, status, MANUAL)
    [operation] = operations()
    assert operation.payload["to_status"] == "ready_for_shipment"
    assert operation.generation == 3


def test_only_one_worker_claims_an_operation(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    [operation] = operations()
    assert claims.claim(operation.id) is not None
    assert claims.claim(operation.id) is None


def test_an_abandoned_claim_is_taken_back_after_its_lease(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    [operation] = operations()
    claims.claim(operation.id)
    operation.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert claims.reclaim_abandoned() == 1
    db.session.refresh(operation)
    assert operation.state == "pending" and operation.generation == 2
    assert [op_id for op_id, _ in claims.due()] == [operation.id]


def test_transient_failures_back_off_then_fail_after_eight_attempts(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    [operation] = operations()
    delays = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        operation.next_attempt_at = utcnow()
        db.session.commit()
        operation = claims.claim(operation.id)
        assert operation.attempts == attempt
        next_at = outbox.retry_later(operation, "HTTP 503")
        db.session.commit()
        if next_at:
            delays.append((next_at - utcnow()).total_seconds())
    assert operation.state == "failed" and operation.last_error == "HTTP 503"
    assert len(delays) == outbox.MAX_ATTEMPTS - 1
    assert 40 <= delays[0] <= 76 and delays[-1] <= 3600 and delays[-1] >= 2700


def test_backoff_doubles_from_a_minute_to_an_hour_with_jitter():
    for attempt, base in ((1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (12, 3600)):
        delay = outbox.backoff(attempt)
        assert base * 0.75 <= delay <= min(3600, base * 1.25)


def test_a_person_retries_and_cancels_a_failed_operation(shop):
    order = make_order("awaiting_payment", integration_id=shop.id, external_order_id="17")
    change_status(order.id, "paid", MANUAL)
    [operation] = operations()
    outbox.fail(claims.claim(operation.id), "Order not found")
    db.session.commit()
    retried = retry_operation(operation.id, MANUAL)
    assert (retried.state, retried.attempts) == ("pending", 0)
    assert retried.job_id in redis_connection.queue("integrations").job_ids
    assert cancel_operation(operation.id, MANUAL).state == "cancelled"
    with pytest.raises(Conflict, match="cancelled already"):
        cancel_operation(operation.id, MANUAL)
