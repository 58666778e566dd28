"""Allegro orders through the order event journal (the fake over real HTTP, checked against the spec)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.catalog.models import Product, ProductLink
from app.core.types import utcnow
from app.extensions import db
from app.inbound import allegro as journal
from app.inbound.models import InboundEvent
from app.inbound.services import process_event
from app.integrations.allegro.client import FULFILLMENT_STATES
from app.integrations.base import PlatformError
from app.integrations.models import IntegrationRun
from app.integrations.progress import cursors, set_cursor
from app.jobs import tasks
from app.orders.models import Order
from tests.factories import make_integration, make_user, map_status


@pytest.fixture
def allegro(app, fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    integration = make_integration("allegro", direction="pull", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url, "import_days": 7},
        credentials={"client_secret": fake_allegro.client_secret, "access_token": access, "refresh_token": refresh},
        states=[(s.external_id, s.name) for s in FULFILLMENT_STATES])
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    db.session.commit()
    return integration


def process_all() -> None:
    """Apply the stored checkout forms as their batch jobs would."""
    tasks.process_inbound_batch(db.session.scalars(select(InboundEvent.id).where(
        InboundEvent.state == "received", InboundEvent.topic == journal.FORM_TOPIC).order_by(InboundEvent.id)).all())


def requests_to(fake, path: str) -> list:
    return [r for r in fake.requests_log if r.path == path]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_first_connect_starts_at_the_latest_event_and_fetches_the_chosen_days_from_the_list(allegro, fake_allegro):
    now = datetime.now(timezone.utc)
    recent = fake_allegro.put_form(updated_at=now - timedelta(days=2), event="READY_FOR_PROCESSING")
    fake_allegro.put_form(updated_at=now - timedelta(days=9), event="READY_FOR_PROCESSING")  # before the 7 days
    counts = journal.poll_journal(allegro.id)
    assert counts["new_forms"] == 1
    assert cursors(allegro.id)[journal.CURSOR] == fake_allegro.events[-1]["id"]
    assert not requests_to(fake_allegro, "/order/events")  # history comes from the list, not the journal
    process_all()
    assert db.session.scalars(select(Order.external_order_id)).all() == [recent]
    assert fake_allegro.spec_violations == []


def test_events_are_stored_raw_before_forms_are_fetched_in_bulk_and_duplicates_make_one_order(allegro, fake_allegro):
    journal.poll_journal(allegro.id)  # first connect on an empty account: the journal starts at its beginning
    assert cursors(allegro.id)[journal.CURSOR] == journal.START
    lists_before = len(requests_to(fake_allegro, "/order/checkout-forms"))
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    ids = []
    for n in range(12):
        order_id = fake_allegro.put_form(form_status="BOUGHT", updated_at=start + timedelta(seconds=n), event="BOUGHT")
        fake_allegro.put_form(order_id, form_status="READY_FOR_PROCESSING",
                              updated_at=start + timedelta(minutes=1, seconds=n))
        # Several READY_FOR_PROCESSING for one order, with different ids; one older than the BOUGHT.
        fake_allegro.add_event(order_id, "READY_FOR_PROCESSING")
        fake_allegro.add_event(order_id, "READY_FOR_PROCESSING", occurred_at=start - timedelta(minutes=5))
        ids.append(order_id)
    counts = journal.poll_journal(allegro.id)
    assert counts["new_events"] == 36
    assert count(InboundEvent, InboundEvent.topic == "READY_FOR_PROCESSING") == 24
    stored = db.session.scalar(select(InboundEvent).where(InboundEvent.topic == "BOUGHT"))
    assert stored.resource_id in ids and stored.occurred_at is not None and stored.headers["X-Allegro-Revision"]
    assert stored.state == "processed" and "fetched" in stored.result  # a hint: its form carried the work
    # Forms came from the list, 100 a request, not one GET per order.
    assert len(requests_to(fake_allegro, "/order/checkout-forms")) == lists_before + 1
    assert not [r for r in fake_allegro.requests_log if r.path.startswith("/order/checkout-forms/")]
    assert cursors(allegro.id)[journal.CURSOR] == fake_allegro.events[-1]["id"]
    process_all()
    assert count(Order) == 12
    order = db.session.scalar(select(Order).where(Order.external_order_id == ids[0]))
    assert order.meta["platform_revision"] == fake_allegro.orders[ids[0]]["revision"]
    assert order.payment_status == "paid"
    # Read again: nothing new, nothing fetched.
    again = journal.poll_journal(allegro.id)
    assert again["new_events"] == 0 and again["new_forms"] == 0
    assert fake_allegro.spec_violations == []


def test_an_older_form_never_overwrites_a_newer_one(allegro, fake_allegro):
    set_cursor(allegro.id, journal.CURSOR, journal.START)
    db.session.commit()
    now = datetime.now(timezone.utc)
    order_id = fake_allegro.put_form(fulfillment="SENT", updated_at=now, event="FULFILLMENT_STATUS_CHANGED")
    journal.poll_journal(allegro.id)
    newer = db.session.scalar(select(InboundEvent.id).where(InboundEvent.topic == journal.FORM_TOPIC))
    fake_allegro.put_form(order_id, fulfillment="NEW", updated_at=now - timedelta(hours=1))
    journal.poll_journal(allegro.id, since=now - timedelta(days=1))
    older = db.session.scalar(select(InboundEvent.id).where(InboundEvent.topic == journal.FORM_TOPIC,
                                                            InboundEvent.id != newer))
    tasks.process_inbound_batch([newer, older])
    order = db.session.scalar(select(Order))
    assert order.platform_state == "SENT"
    assert db.session.get(InboundEvent, older).state == "ignored"


def test_the_checkout_form_maps_buyer_addresses_items_payment_and_delivery(allegro, fake_allegro):
    set_cursor(allegro.id, journal.CURSOR, journal.START)
    shoes = Product(sku="AH-129834", name="Black shoes")
    linked = Product(sku="OTHER", name="Linked by offer")
    by_ean = Product(sku="X1", ean="5901234123457", name="By EAN")
    db.session.add_all([shoes, linked, by_ean])
    db.session.flush()
    db.session.add(ProductLink(integration_id=allegro.id, product_id=linked.id, external_product_id="777"))
    db.session.commit()
    example = fake_allegro.checkout_form_body(fake_allegro.put_form())["lineItems"][0]
    items = [example, {**example, "id": "li-2", "offer": {"id": "777", "name": "Linked", "external": {"id": "zzz"}}},
             {**example, "id": "li-3", "offer": {"id": "888", "name": "EAN", "external": {"id": "5901234123457"}}}]
    order_id = fake_allegro.put_form(lineItems=items, event="READY_FOR_PROCESSING")
    journal.poll_journal(allegro.id)
    process_all()
    order = db.session.scalar(select(Order).where(Order.external_order_id == order_id))
    assert order.customer_name == "Jan Kowalski" and order.customer_email == "user-email@allegro.pl"
    assert order.customer_comment == "Please send me an item in red color"
    assert order.delivery_method == "Allegro Paczkomaty InPost" and order.shipping_gross == Decimal("123.45")
    assert order.currency == "PLN" and order.meta["marketplace"] == "allegro-pl"
    assert order.meta["platform_revision"] == fake_allegro.orders[order_id]["revision"]
    pickup, billing = order.address("pickup"), order.address("billing")
    assert pickup.point_id == "POZ08A" and order.address("shipping").street == "Grunwaldzka 182"
    assert (billing.company, billing.vat_id) == ("Udix Sp. z o.o.", "111-11-11-111")
    assert [(i.offer_id, i.sku, i.product_id) for i in order.items] == [
        ("3213213", "AH-129834", shoes.id), ("777", "zzz", linked.id), ("888", "5901234123457", by_ean.id)]
    assert order.items[2].ean == "5901234123457"
    # The payment and the surcharge, each with the time it was finished.
    assert [(p.amount, p.paid_at.year) for p in order.payments] == [(Decimal("123.45"), 2018)] * 2
    assert order.payment_status == "paid"


def test_a_cursor_older_than_60_days_falls_back_to_the_list_and_says_so(allegro, fake_allegro, client, login):
    long_ago = datetime.now(timezone.utc) - timedelta(days=70)
    old = fake_allegro.put_form(updated_at=long_ago, event="READY_FOR_PROCESSING")
    set_cursor(allegro.id, journal.CURSOR, fake_allegro.events[-1]["id"])
    set_cursor(allegro.id, journal.POLLED_AT, (long_ago + timedelta(minutes=10)).isoformat())
    db.session.commit()
    missed = fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(days=3), event="BOUGHT")
    fake_allegro.expire_events()
    journal.poll_journal(allegro.id)
    process_all()
    assert set(db.session.scalars(select(Order.external_order_id))) == {missed}
    assert old not in set(db.session.scalars(select(Order.external_order_id)))  # before the gap: had it already
    assert cursors(allegro.id)[journal.CURSOR] == fake_allegro.events[-1]["id"]
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.kind == "order_events"))
    assert "gap" in run.message and "60 days" in run.message
    login(make_user("viewer"))
    page = client.get(f"/integrations/{allegro.id}").get_data(as_text=True)
    assert "event journal" in page and "fetched from the order list" in page


def test_a_refused_cursor_falls_back_to_the_list(allegro, fake_allegro):
    first = fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(days=61), event="BOUGHT")
    set_cursor(allegro.id, journal.CURSOR, fake_allegro.events[-1]["id"])
    set_cursor(allegro.id, journal.POLLED_AT, utcnow().isoformat())
    db.session.commit()
    fake_allegro.put_form(first, updated_at=datetime.now(timezone.utc) - timedelta(days=61, minutes=-1), event="BOUGHT")
    later = fake_allegro.put_form(event="READY_FOR_PROCESSING")
    fake_allegro.expire_events()  # the cursor's event and the one after it are gone
    counts = journal.poll_journal(allegro.id)
    assert counts["new_forms"] >= 1
    process_all()
    assert later in set(db.session.scalars(select(Order.external_order_id)))
    assert journal.gap_notice(cursors(allegro.id)) is not None
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.kind == "order_events")
                            .order_by(IntegrationRun.id.desc()))
    assert "refused the event journal position" in run.message and run.ok


def test_an_event_whose_form_was_never_fetched_is_processed_on_its_own_later(allegro, fake_allegro, retry_sleeps):
    set_cursor(allegro.id, journal.CURSOR, journal.START)
    db.session.commit()
    order_id = fake_allegro.put_form(event="READY_FOR_PROCESSING")
    fake_allegro.fail_next(3, 503, on="GET /order/checkout-forms/")
    with pytest.raises(PlatformError):
        journal.poll_journal(allegro.id)
    hint = db.session.scalar(select(InboundEvent).where(InboundEvent.topic == "READY_FOR_PROCESSING"))
    assert hint.state == "received"  # stored before anything else, kept for later
    assert cursors(allegro.id)[journal.CURSOR] == fake_allegro.events[-1]["id"]  # the page was stored
    hint.next_attempt_at = utcnow()
    db.session.commit()
    process_event(hint.id)
    assert db.session.scalar(select(Order.external_order_id)) == order_id


def test_pulled_fulfillment_status_moves_the_order_and_is_never_pushed_back(allegro, fake_allegro):
    map_status(allegro, "shipped", "SENT", "pull")
    set_cursor(allegro.id, journal.CURSOR, journal.START)
    db.session.commit()
    order_id = fake_allegro.put_form(event="READY_FOR_PROCESSING")
    journal.poll_journal(allegro.id)
    process_all()
    fake_allegro.put_form(order_id, fulfillment="SENT", event="FULFILLMENT_STATUS_CHANGED")
    journal.poll_journal(allegro.id)
    process_all()
    order = db.session.scalar(select(Order))
    assert order.status == "shipped" and order.history[-1].change_source == "platform"
    assert fake_allegro.fulfillment_puts == []


def test_flask_orders_import_reads_allegro_from_a_date_and_applies(app, allegro, fake_allegro):
    order_id = fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(days=20))
    result = app.test_cli_runner().invoke(args=["orders", "import", "--integration", str(allegro.id), "--since",
                                                (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d"), "--process"])
    assert result.exit_code == 0, result.output
    assert "1 new forms" in result.output and "1 applied, 0 failed" in result.output
    assert db.session.scalar(select(Order.external_order_id)) == order_id
