"""Shipment pushes end to end: fake platforms over real HTTP, real workers, real Redis, PostgreSQL.

As in test_push_flow, the test drives the outbox sweeper itself and the workers run with
shortened waits, so faults resolve in seconds.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from app.core.types import utcnow
from app.extensions import db
from app.orders.models import OrderEvent
from app.orders.services import Actor
from app.orders.shipments import ShipmentInput, add_shipment
from app.sync.models import SyncOperation
from tests.factories import make_integration, make_order
from tests.sync.conftest import wait_until
from tests.sync.test_push_flow import outbox_report

MANUAL = Actor("Olga Operator", "manual")


def open_operations() -> int:
    return db.session.scalar(select(func.count(SyncOperation.id)).where(
        SyncOperation.state.in_(("pending", "processing"))))


def allegro_account(fake):
    access, refresh = fake.issue_tokens()
    integration = make_integration("allegro", direction="both", name="Allegro Ania", settings={
        "environment": "sandbox", "client_id": fake.client_id, "api_url": fake.api_url, "auth_url": fake.auth_url},
        credentials={"client_secret": fake.client_secret, "access_token": access, "refresh_token": refresh})
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    db.session.commit()
    return integration


def test_allegro_shows_the_waybill_once_despite_a_fault_and_a_lost_answer(pg_app, workers, fake_allegro):
    integration = allegro_account(fake_allegro)
    checkout_id = fake_allegro.add_order(status="PROCESSING")
    order = make_order("paid", integration_id=integration.id, external_order_id=checkout_id)
    fake_allegro.fail_next(1, 503, retry_after=0, on="GET /order/checkout-forms/.*/shipments")  # transient
    fake_allegro.fail_next(1, 503, retry_after=0, on="POST /order/checkout-forms/.*/shipments", after=True)
    workers.start(1)

    add_shipment(order.id, ShipmentInput("InPost", "620000111222333"), MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)
    assert fake_allegro.waybills(checkout_id) == ["620000111222333"]
    [post] = fake_allegro.shipment_posts
    assert post["carrier_id"] == "INPOST" and post["line_items"] == fake_allegro.orders[checkout_id]["line_items"]
    operation = db.session.scalars(select(SyncOperation)).one()
    assert operation.state == "done"
    assert operation.result == ("Tracking 620000111222333 sent to Allegro Ania: "
                                "confirmed on the platform after an unanswered write.")
    entries = db.session.scalars(select(OrderEvent.message).where(OrderEvent.order_id == order.id)).all()
    assert operation.result in entries
    assert fake_allegro.spec_violations == []


def test_many_parcels_to_a_flaky_allegro_each_arrive_exactly_once(pg_app, workers, fake_allegro):
    fake_allegro.fail_rate, fake_allegro.fail_retry_after = 0.2, 0
    integration = allegro_account(fake_allegro)
    orders = [make_order("paid", integration_id=integration.id, external_order_id=fake_allegro.add_order())
              for _ in range(15)]
    workers.start(2)

    for n, order in enumerate(orders):
        add_shipment(order.id, ShipmentInput("DPD", f"DPD{n:04d}A"), MANUAL)
        add_shipment(order.id, ShipmentInput("Kurier Jan", f"KJ{n:04d}B"), MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=90, report=outbox_report)
    for n, order in enumerate(orders):
        assert sorted(fake_allegro.waybills(order.external_order_id)) == [f"DPD{n:04d}A", f"KJ{n:04d}B"]
    assert max(Counter((p["order_id"], p["waybill"]) for p in fake_allegro.shipment_posts).values()) == 1
    assert {op.state for op in db.session.scalars(select(SyncOperation))} == {"done"}


def test_prestashop_gets_the_number_once_and_mails_only_when_switched_on(pg_app, workers, fake_prestashop):
    quiet = make_integration("prestashop", direction="push", name="Sklep cichy", settings={
        "shop_url": fake_prestashop.url, "language_id": 1, "tracking_email": False},
        credentials={"api_key": fake_prestashop.api_key})
    mailing = make_integration("prestashop", direction="push", name="Sklep z mailem", settings={
        "shop_url": fake_prestashop.url, "language_id": 1, "tracking_email": True},
        credentials={"api_key": fake_prestashop.api_key})
    silent_order = make_order("paid", integration_id=quiet.id, external_order_id=fake_prestashop.add_order())
    mailed_order = make_order("paid", integration_id=mailing.id, external_order_id=fake_prestashop.add_order())
    fake_prestashop.fail_next(1, 503, retry_after=0, on="PUT /api/order_carriers", after=True)  # lost answer
    workers.start(1)

    add_shipment(silent_order.id, ShipmentInput("DPD", "0000111"), MANUAL)
    add_shipment(mailed_order.id, ShipmentInput("DPD", "0000222"), MANUAL)

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)
    assert fake_prestashop.tracking_numbers(silent_order.external_order_id) == ["0000111"]
    assert fake_prestashop.tracking_numbers(mailed_order.external_order_id) == ["0000222"]
    sent = sorted((p["order_id"], p["tracking_number"], p["sendemail"]) for p in fake_prestashop.carrier_puts)
    assert sent == sorted([(silent_order.external_order_id, "0000111", False),
                           (mailed_order.external_order_id, "0000222", True)])  # each PUT once
    assert [(m["order_id"], m["template"]) for m in fake_prestashop.emails] == [
        (mailed_order.external_order_id, "in_transit")]
    results = [op.result for op in db.session.scalars(select(SyncOperation).order_by(SyncOperation.id))]
    assert "confirmed on the platform after an unanswered write" in results[0]
    assert results[1] == "Tracking 0000222 sent to Sklep z mailem (the shop asked to e-mail the customer)."


def test_a_number_added_while_an_older_one_is_on_its_way_to_prestashop_wins(pg_app, workers, fake_prestashop):
    shop = make_integration("prestashop", direction="push", name="Sklep Ania", settings={
        "shop_url": fake_prestashop.url, "language_id": 1}, credentials={"api_key": fake_prestashop.api_key})
    external_id = fake_prestashop.add_order()
    order = make_order("paid", integration_id=shop.id, external_order_id=external_id)
    fake_prestashop.delay_next(1, seconds=3, on="GET /api/order_carriers")
    workers.start(1)

    add_shipment(order.id, ShipmentInput("DPD", "OLD-1"), MANUAL)
    wait_until(lambda: any(r.path == "/api/order_carriers" for r in fake_prestashop.requests_log), timeout=30,
               sweep=False, every=0.05)
    add_shipment(order.id, ShipmentInput("DPD", "NEW-2"), MANUAL)  # while the first push reads the shop

    wait_until(lambda: open_operations() == 0, timeout=60, report=outbox_report)
    assert fake_prestashop.tracking_numbers(external_id) == ["NEW-2"]
    assert [p["tracking_number"] for p in fake_prestashop.carrier_puts] == ["NEW-2"]
    first, second = db.session.scalars(select(SyncOperation).order_by(SyncOperation.id)).all()
    assert first.state == "superseded" and "tracking NEW-2 was added after it" in first.result
    assert second.state == "done"
