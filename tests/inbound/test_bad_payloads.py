"""Deliveries and platform answers that break the documented formats: stored, failed in words, never a crash."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import responses
from sqlalchemy import select

from app.core.types import utcnow
from app.extensions import db
from app.inbound import allegro as journal
from app.inbound.models import InboundEvent
from app.inbound.services import process_batch, process_event
from app.integrations.allegro.client import FULFILLMENT_STATES, AllegroClient
from app.integrations.base import PlatformError
from app.integrations.models import IntegrationRun
from app.integrations.progress import cursors, set_cursor
from app.orders.models import Order
from tests.factories import make_integration, make_user
from tests.fakes import shopify as fake_shopify
from tests.fakes.allegro_orders import iso
from tests.inbound.test_views import words


def broken_orders() -> dict[str, dict]:
    """Shopify orders, each with one value of a type or size Shopify never sends."""
    def order(number: int, change) -> dict:
        data = fake_shopify.shopify_order(number)
        change(data)
        return data
    return {
        "customer is text": order(3001, lambda d: d.update(customer="someone")),
        "quantity is a word": order(3002, lambda d: d["line_items"][0].update(quantity="abc")),
        "price is NaN": order(3003, lambda d: d["line_items"][0].update(price="NaN")),
        "price is infinite": order(3004, lambda d: d["line_items"][0].update(price="Infinity")),
        "total is huge": order(3005, lambda d: d.update(total_price="99999999999999999999")),
        "line items are words": order(3006, lambda d: d.update(line_items=["x"])),
        "address is a list": order(3007, lambda d: d.update(shipping_address=[1, 2])),
        "currency is a number": order(3008, lambda d: d.update(currency=978)),
        "quantity is huge": order(3009, lambda d: d["line_items"][0].update(quantity=10 ** 30)),
        "item name is an object": order(3010, lambda d: d["line_items"][0].update(name={"pl": "Kubek"})),
        "quantity is fractional": order(3011, lambda d: d["line_items"][0].update(quantity=2.7)),
    }


@pytest.mark.parametrize("together", [True, False], ids=["in one batch", "one by one"])
def test_wrong_types_fail_for_good_with_the_reason_and_the_good_delivery_beside_them_applies(client, app, login,
                                                                                             together):
    shop = make_integration("shopify", direction="pull")
    good = fake_shopify.shopify_order(3000)
    good["customer"]["first_name"] = "Ja\u0000n"  # a NUL no column can hold
    for number, payload in enumerate([good, *broken_orders().values()]):
        body, headers = fake_shopify.delivery(payload, "shopify-secret", topic="orders/create", webhook_id=f"w{number}")
        assert client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers).status_code == 200
    ids = list(db.session.scalars(select(InboundEvent.id).order_by(InboundEvent.id)))
    if together:
        assert process_batch(ids) == {"processed": 1, "failed": len(ids) - 1, "skipped": 0}
    else:
        for event_id in ids:
            process_event(event_id)
    db.session.expire_all()
    stored = list(db.session.scalars(select(InboundEvent).order_by(InboundEvent.id)))
    assert stored[0].state == "processed"
    for event in stored[1:]:
        assert event.state == "failed" and event.next_attempt_at is None, event.error  # no retry can help
        assert event.error.startswith("Cannot read the delivery:") and "Traceback" not in event.error
    [order] = db.session.scalars(select(Order))
    assert order.external_order_id == "3000" and "\x00" not in order.customer_name
    assert order.customer_name.startswith("Jan")
    login(make_user("viewer"))
    page = words(client.get(f"/integrations/{shop.id}/deliveries?state=failed"))
    assert "is not an amount Kontor can keep" in page and "quantity" in page


def test_a_refund_with_a_wrong_amount_fails_in_words(client, app):
    shop = make_integration("shopify", direction="pull")
    refund = {"id": 9, "order_id": 3000, "transactions": [{"kind": "refund", "status": "success", "amount": "1e30"}]}
    body, headers = fake_shopify.delivery(refund, "shopify-secret", topic="refunds/create", webhook_id="r1")
    client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers)
    event = db.session.scalar(select(InboundEvent))
    process_event(event.id)
    db.session.expire_all()
    assert event.state == "failed" and "not an amount Kontor can keep" in event.error


@pytest.fixture
def allegro(app, fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    integration = make_integration("allegro", direction="pull", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url},
        credentials={"client_secret": fake_allegro.client_secret, "access_token": access, "refresh_token": refresh},
        states=[(s.external_id, s.name) for s in FULFILLMENT_STATES])
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    set_cursor(integration.id, journal.CURSOR, journal.START)
    db.session.commit()
    return integration


def test_a_journal_entry_of_the_wrong_shape_does_not_stop_the_journal(allegro, fake_allegro):
    first = fake_allegro.put_form(event="BOUGHT")
    with fake_allegro.lock:  # an entry whose "order" is not an object, between two good ones
        fake_allegro.events.append({"id": str(fake_allegro.next_event_id), "type": "BOUGHT",
                                    "occurredAt": iso(datetime.now(timezone.utc)), "order": "broken"})
        fake_allegro.next_event_id += 1
    second = fake_allegro.put_form(event="READY_FOR_PROCESSING")
    journal.poll_journal(allegro.id)
    assert cursors(allegro.id)[journal.CURSOR] == fake_allegro.events[-1]["id"]
    forms = set(db.session.scalars(select(InboundEvent.resource_id).where(InboundEvent.topic == journal.FORM_TOPIC)))
    assert forms == {first, second}
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.kind == "order_events"))
    assert run.ok and "no occurredAt or checkout form id" in run.message


@responses.activate
def test_an_allegro_answer_that_is_not_json_is_a_platform_error_in_words():
    client = AllegroClient("token", api_url="https://api.allegro.example")
    responses.get("https://api.allegro.example/order/checkout-forms", body="<html>maintenance</html>")
    responses.get("https://api.allegro.example/order/event-stats", body="oops")
    with pytest.raises(PlatformError, match="not JSON"):
        client.checkout_forms(datetime.now(timezone.utc))
    with pytest.raises(PlatformError, match="not JSON"):
        client.latest_event()


def _failed_form(allegro, fake_allegro, **form) -> InboundEvent:
    """Put a READY_FOR_PROCESSING form with `form` fields into the fake, read the journal, apply; the form's row."""
    broken = fake_allegro.put_form(**form, event="READY_FOR_PROCESSING")
    journal.poll_journal(allegro.id)
    form_ids = list(db.session.scalars(select(InboundEvent.id).where(InboundEvent.topic == journal.FORM_TOPIC)))
    process_batch(form_ids)
    db.session.expire_all()
    assert broken not in set(db.session.scalars(select(Order.external_order_id)))
    return db.session.scalar(select(InboundEvent).where(InboundEvent.resource_id == broken,
                                                        InboundEvent.topic == journal.FORM_TOPIC))


def test_an_allegro_price_that_is_not_an_amount_object_fails_the_form_instead_of_reading_as_zero(allegro, fake_allegro):
    example = fake_allegro.checkout_form_body(fake_allegro.put_form())["lineItems"][0]
    failed = _failed_form(allegro, fake_allegro, lineItems=[{**example, "price": "12"}])
    assert failed.state == "failed" and "Price “12” is not an amount with its currency" in failed.error


def test_allegro_line_items_given_as_an_object_fail_the_form_instead_of_an_order_without_items(allegro,
                                                                                                 fake_allegro):
    example = fake_allegro.checkout_form_body(fake_allegro.put_form())["lineItems"][0]
    failed = _failed_form(allegro, fake_allegro, lineItems={"0": example})
    assert failed.state == "failed" and "“lineItems” is not a list of items" in failed.error
