"""Texts Kontor stores and shows later (run history, outbox results, delivery errors) speak the reader's language.

The row keeps its English text (the API's, and what old rows show) and the message's key and arguments
beside it; the page says it again in the language of whoever reads it.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.inbound import prestashop as importer
from app.inbound.models import InboundEvent
from app.inbound.services import process_event
from app.integrations.models import IntegrationRun
from app.orders.services import Actor, change_status
from app.sync.models import SyncOperation
from app.sync.push import push_status_change
from tests.core.test_i18n import text_of
from tests.factories import make_integration, make_order, make_user, map_status
from tests.fakes import shopify as fake_shopify
from tests.inbound.test_views import deliver

ENGLISH = {"Accept-Language": "en-GB"}


def _reader(locale: str):
    user = make_user("admin")
    user.locale = locale
    db.session.commit()
    return user


def _speaks(user, locale: str) -> None:
    """The reader switches their profile language (what the profile page stores)."""
    db.session.get(type(user), user.id).locale = locale
    db.session.commit()


def test_an_import_run_message_is_shown_in_polish_and_in_english_and_old_runs_as_stored(client, app, login,
                                                                                      fake_prestashop):
    shop = make_integration("prestashop", direction="pull", settings={"shop_url": fake_prestashop.url,
                                                                      "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})
    fake_prestashop.put_order(1, date_upd="2026-12-01 10:00:01")
    assert importer.import_orders(shop.id)["orders"] == 1
    run = db.session.scalar(select(IntegrationRun).where(IntegrationRun.integration_id == shop.id))
    assert "orders changed since" in run.message and "read from the webservice, 1 new to Kontor" in run.message
    db.session.add(IntegrationRun(integration_id=shop.id, kind="order_import", message="Legacy run, 3 orders"))
    db.session.commit()

    reader = _reader("pl")
    login(reader)
    polish = text_of(client.get(f"/integrations/{shop.id}"))
    assert "Odczytano przez webservice 1 zamówień zmienionych od" in polish and "1 nowych w Kontorze" in polish
    assert "read from the webservice" not in polish
    assert "Legacy run, 3 orders" in polish  # a run from before keys were kept: its text as stored
    _speaks(reader, "en")
    english = text_of(client.get(f"/integrations/{shop.id}", headers=ENGLISH))
    assert "read from the webservice, 1 new to Kontor" in english and "Odczytano" not in english


def test_an_operation_result_is_shown_in_the_readers_language_and_the_api_keeps_english(client, app, login):
    shop = make_integration("prestashop", direction="push", states=[("2", "Payment accepted")])
    map_status(shop, "paid", "2", "push")
    order = make_order("awaiting_payment")
    order.integration_id, order.external_order_id = shop.id, "77"
    db.session.commit()
    change_status(order.id, "paid", Actor("Olga Operator", "manual"))
    operation = db.session.scalar(select(SyncOperation).where(SyncOperation.order_id == order.id))
    assert operation is not None
    # The push was queued; by the time it runs the integration is off: closed as skipped, in words.
    db.session.get(type(shop), shop.id).enabled = False
    db.session.commit()
    push_status_change(operation.id)
    db.session.expire_all()
    operation = db.session.get(SyncOperation, operation.id)
    assert operation.state == "skipped"
    assert operation.result == f"Not pushed to {shop.name}: the integration is off or does not push."

    reader = _reader("pl")
    login(reader)
    polish = text_of(client.get(f"/orders/{order.id}"))
    assert f"Nie wysłano do {shop.name}" in polish
    assert "the integration is off or does not push" not in polish
    _speaks(reader, "en")
    english = text_of(client.get(f"/orders/{order.id}", headers=ENGLISH))
    assert f"Not pushed to {shop.name}: the integration is off or does not push." in english


def test_a_delivery_error_is_shown_in_the_readers_language(client, app, login):
    shop = make_integration("shopify", direction="pull")
    deliver(client, shop, None, webhook_id="broken", body=b"{not json")
    event = db.session.scalar(select(InboundEvent).where(InboundEvent.integration_id == shop.id))
    process_event(event.id)
    db.session.expire_all()
    event = db.session.get(InboundEvent, event.id)
    assert event.state == "failed" and event.error.startswith("Cannot read the delivery: The body is not valid JSON")

    reader = _reader("pl")
    login(reader)
    polish = text_of(client.get(f"/integrations/{shop.id}/deliveries"))
    assert "Nie można odczytać dostawy (webhook): Treść nie jest poprawnym JSON-em" in polish
    assert "Cannot read the delivery" not in polish
    _speaks(reader, "en")
    english = text_of(client.get(f"/integrations/{shop.id}/deliveries", headers=ENGLISH))
    assert "Cannot read the delivery: The body is not valid JSON" in english


def test_what_a_delivery_did_is_shown_in_the_readers_language(client, app, login):
    shop = make_integration("shopify", direction="pull")
    deliver(client, shop, fake_shopify.shopify_order(1001), webhook_id="good")
    event = db.session.scalar(select(InboundEvent).where(InboundEvent.integration_id == shop.id))
    assert process_event(event.id).startswith("Created order ")  # the job's result stays English
    db.session.expire_all()
    event = db.session.get(InboundEvent, event.id)
    assert event.state == "processed" and event.result.startswith("Created order ")

    reader = _reader("pl")
    login(reader)
    polish = text_of(client.get(f"/integrations/{shop.id}/deliveries"))
    assert "Utworzono zamówienie" in polish and "Created order" not in polish
    _speaks(reader, "en")
    english = text_of(client.get(f"/integrations/{shop.id}/deliveries", headers=ENGLISH))
    assert "Created order" in english
