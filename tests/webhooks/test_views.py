"""The webhook endpoints on both databases: what a platform gets back, and what Kontor keeps."""

from __future__ import annotations

import io
import json
import time

import pytest
from sqlalchemy import func, select

from app.extensions import db, redis_connection
from app.inbound.models import InboundEvent, WebhookRejection
from app.inbound.services import process_event
from app.integrations.services import set_enabled
from app.orders.models import Order
from app.webhooks.signatures import sign_standard
from tests.factories import make_integration
from tests.fakes import shopify as fake_shopify
from tests.fakes import woocommerce as fake_woocommerce

GENERIC_SECRET = "whsec_a2V5LWZvci1nZW5lcmljLXdlYmhvb2tz"


def events() -> list[InboundEvent]:
    return list(db.session.scalars(select(InboundEvent).order_by(InboundEvent.id)))


def rejections(integration_id: int) -> int:
    row = db.session.get(WebhookRejection, integration_id)
    return row.count if row else 0


def post(client, url: str, body: bytes, headers: dict):
    return client.post(url, data=body, headers=headers)


@pytest.fixture
def shop(app):
    return make_integration("shopify", direction="pull")


def test_signed_shopify_delivery_is_stored_enqueued_and_becomes_an_order(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret", topic="orders/create")
    response = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    [event] = events()
    assert (event.state, event.topic, event.resource_id, event.delivery_id) == ("received", "orders/create", "1001",
                                                                                 "wh-1")
    assert event.body == body and event.headers["X-Shopify-Topic"] == "orders/create"
    assert event.occurred_at is not None
    assert f"inbound-batch-{event.id}" in redis_connection.queue("orders").job_ids  # its batch job, right away in tests

    process_event(event.id)
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert (order.external_order_id, order.source, order.status, order.currency) == ("1001", "shopify",
                                                                                    "awaiting_payment", "PLN")
    assert str(order.total_gross) == "64.00" and order.items[0].sku == "KUB-350"
    assert order.address("shipping").street == "ul. Krótka 1"
    assert events()[0].state == "processed" and events()[0].order_id == order.id


def test_bad_or_missing_signature_stores_nothing_but_counts(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "wrong-secret")
    assert post(client, f"/webhooks/shopify/{shop.id}", body, headers).status_code == 401
    del headers["X-Shopify-Hmac-Sha256"]
    response = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert response.status_code == 401 and "missing" in response.get_json()["error"]["message"]
    assert events() == []
    assert rejections(shop.id) == 2
    assert redis_connection.queue("orders").job_ids == []


def test_the_previous_secret_still_works_during_a_rotation(client, app):
    shop = make_integration("shopify", credentials={"api_token": "t", "webhook_secret": "new",
                                                     "webhook_secret_previous": "old"})
    for n, secret in enumerate(("new", "old")):
        body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), secret, webhook_id=f"wh-{n}")
        assert post(client, f"/webhooks/shopify/{shop.id}", body, headers).status_code == 200
    assert len(events()) == 2


def test_a_repeated_delivery_is_stored_and_processed_once(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    first = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    again = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json()["duplicate"] is True and again.get_json()["event_id"] == first.get_json()["event_id"]
    [event] = events()
    process_event(event.id)
    assert process_event(event.id) == "not due or already handled"
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_event_id_is_the_fallback_delivery_id(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    del headers["X-Shopify-Webhook-Id"]
    post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert events()[0].delivery_id == "ev-wh-1"


def test_oversize_body_is_refused_with_413(client, shop):
    body = b'{"id": 1, "note": "' + b"x" * (1024 * 1024) + b'"}'
    body, headers = fake_shopify.delivery(None, "shopify-secret", body=body)
    assert post(client, f"/webhooks/shopify/{shop.id}", body, headers).status_code == 413
    assert events() == []


def test_a_body_without_content_length_is_measured_as_it_is_read(client, shop):
    big = b'{"id": 1, "note": "' + b"x" * (1024 * 1024) + b'"}'
    body, headers = fake_shopify.delivery(None, "shopify-secret", body=big)
    # A chunked request has no Content-Length; the server hands over the stream as it comes.
    response = client.post(f"/webhooks/shopify/{shop.id}", input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    small, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    response = client.post(f"/webhooks/shopify/{shop.id}", input_stream=io.BytesIO(small), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 200 and events()[0].body == small


def test_unknown_and_disabled_integrations(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    assert post(client, "/webhooks/shopify/999", body, headers).status_code == 404
    woo = make_integration("woocommerce")
    assert post(client, f"/webhooks/shopify/{woo.id}", body, headers).status_code == 404
    set_enabled(shop.id, False)
    response = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert response.status_code == 409 and "switched off" in response.get_json()["error"]["message"]
    assert events() == []


def test_malformed_json_with_a_good_signature_is_stored_then_fails_with_the_reason(client, shop):
    body, headers = fake_shopify.delivery(None, "shopify-secret", body=b'{"id": 1001, "line_items": [')
    assert post(client, f"/webhooks/shopify/{shop.id}", body, headers).status_code == 200
    [event] = events()
    process_event(event.id)
    db.session.expire_all()
    event = events()[0]
    assert event.state == "failed" and "not valid JSON" in event.error and event.next_attempt_at is None
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_no_login_and_no_csrf_token_needed(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    response = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
    assert response.status_code == 200 and response.is_json


# --- WooCommerce ----------------------------------------------------------------------


def test_woocommerce_ping_is_answered_and_deliveries_deduplicated_by_what_they_say(client, app):
    shop = make_integration("woocommerce", direction="pull")
    url = f"/webhooks/woocommerce/{shop.id}"
    ping = client.post(url, data=b"webhook_id=12", content_type="application/x-www-form-urlencoded")
    assert ping.status_code == 200 and events() == []
    order = fake_woocommerce.woocommerce_order(501, minute=5, status="processing", paid=True)
    for delivery_id in ("1", "2"):  # WooCommerce gives every attempt a new delivery id
        body, headers = fake_woocommerce.delivery(order, "wc-secret", delivery_id=delivery_id)
        assert post(client, url, body, headers).status_code == 200
    [event] = events()
    assert event.delivery_id == f"order.updated:501:{order['date_modified_gmt']}"
    newer = {**order, "date_modified_gmt": fake_woocommerce.gmt(6)}
    body, headers = fake_woocommerce.delivery(newer, "wc-secret", delivery_id="3")
    post(client, url, body, headers)
    assert len(events()) == 2
    body, headers = fake_woocommerce.delivery(order, "not-the-secret")
    assert post(client, url, body, headers).status_code == 401
    assert rejections(shop.id) == 1

    for event in events():
        process_event(event.id)
    db.session.expire_all()
    kontor = db.session.scalar(select(Order))
    assert (kontor.external_order_id, kontor.payment_status, kontor.platform_state) == ("501", "paid", "processing")
    assert str(kontor.total_gross) == "138.00" and kontor.items[0].quantity == 2
    assert kontor.customer_comment == "Proszę dzwonić przed dostawą"


def test_woocommerce_deleted_order_is_kept_and_noted(client, app):
    shop = make_integration("woocommerce")
    url = f"/webhooks/woocommerce/{shop.id}"
    body, headers = fake_woocommerce.delivery(fake_woocommerce.woocommerce_order(502), "wc-secret",
                                              topic="order.created")
    post(client, url, body, headers)
    body, headers = fake_woocommerce.delivery({"id": 502}, "wc-secret", topic="order.deleted")
    post(client, url, body, headers)
    for event in events():
        process_event(event.id)
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert order is not None and order.meta.get("platform_deleted")
    assert any("Deleted in WooCommerce" in e.message for e in order.events)


# --- Standard Webhooks ----------------------------------------------------------------------


def generic_delivery(order: dict, message_id: str = "msg_1", timestamp: int | None = None,
                     secret: str = GENERIC_SECRET) -> tuple[bytes, dict]:
    body = json.dumps({"type": "order.updated", "timestamp": "2026-12-02T07:00:00Z", "data": order}).encode()
    timestamp = timestamp or int(time.time())
    return body, {"Content-Type": "application/json", "webhook-id": message_id,
                  "webhook-timestamp": str(timestamp), "webhook-signature": sign_standard(message_id, timestamp, body,
                                                                                          secret)}


GENERIC_ORDER = {
    "external_order_id": "MW-77", "number": "MW-77", "status": "paid", "payment_status": "paid", "currency": "EUR",
    "updated_at": "2026-12-01T12:00:00+00:00", "customer": {"name": "Ewa Lis", "email": "ewa@example.com", "phone": ""},
    "shipping_gross": "5.00", "total_gross": "25.00",
    "items": [{"name": "Notes A5", "sku": "NOT-A5", "quantity": 2, "unit_price_gross": "10.00", "vat_rate": "23"}],
    "addresses": {"shipping": {"name": "Ewa Lis", "street": "Rynek 1", "postcode": "50-001", "city": "Wrocław",
                               "country_code": "PL"}},
}


def test_generic_webhook_with_standard_signatures(client, app):
    shop = make_integration("generic", direction="pull")
    url = f"/webhooks/generic/{shop.id}"
    body, headers = generic_delivery(GENERIC_ORDER)
    assert post(client, url, body, headers).status_code == 200
    assert post(client, url, body, headers).get_json()["duplicate"] is True
    stale_body, stale = generic_delivery(GENERIC_ORDER, "msg_2", timestamp=int(time.time()) - 600)
    assert post(client, url, stale_body, stale).status_code == 401
    wrong_body, wrong = generic_delivery(GENERIC_ORDER, "msg_3", secret="whsec_b3RoZXI=")
    assert post(client, url, wrong_body, wrong).status_code == 401
    assert rejections(shop.id) == 2
    [event] = events()
    process_event(event.id)
    db.session.expire_all()
    order = db.session.scalar(select(Order))
    assert (order.source, order.status, order.currency, str(order.total_gross)) == ("webhook", "paid", "EUR", "25.00")
    assert order.address("shipping").city == "Wrocław"


def signed(kind: str, secret: str, message_id: str) -> tuple[bytes, dict]:
    """A delivery of each scheme, signed with `secret`."""
    if kind == "shopify":
        return fake_shopify.delivery(fake_shopify.shopify_order(1001), secret, webhook_id=message_id)
    if kind == "woocommerce":
        order = fake_woocommerce.woocommerce_order(501, minute=len(message_id))
        return fake_woocommerce.delivery(order, secret, delivery_id=message_id)
    return generic_delivery({**GENERIC_ORDER, "updated_at": None}, message_id, secret=secret)


SIGNATURE_HEADERS = {"shopify": "X-Shopify-Hmac-Sha256", "woocommerce": "X-WC-Webhook-Signature",
                     "generic": "webhook-signature"}
SECRETS = {"shopify": ("shop-new", "shop-old"), "woocommerce": ("wc-new", "wc-old"),
           "generic": ("whsec_bmV3LWtleQ==", "whsec_b2xkLWtleQ==")}


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "generic"])
def test_every_scheme_accepts_both_rotated_secrets_and_refuses_bad_or_missing_ones(client, app, kind):
    new, old = SECRETS[kind]
    shop = make_integration(kind, credentials={"api_token": "t", "consumer_key": "k", "consumer_secret": "s",
                                               "webhook_secret": new, "webhook_secret_previous": old})
    url = f"/webhooks/{kind}/{shop.id}"
    assert post(client, url, *signed(kind, new, "m-new")).status_code == 200
    assert post(client, url, *signed(kind, old, "m-old-1")).status_code == 200
    assert post(client, url, *signed(kind, "whsec_d3Jvbmc=", "m-bad")).status_code == 401
    body, headers = signed(kind, new, "m-missing")
    del headers[SIGNATURE_HEADERS[kind]]
    assert post(client, url, body, headers).status_code == 401
    assert len(events()) == 2 and rejections(shop.id) == 2


def test_signed_bodies_that_are_awkward_json_are_stored_and_answered_200_never_500(client, shop):
    awkward = {"deep": b"[" * 100_000, "nul-in-id": b'{"id": "10\\u000001", "line_items": []}',
               "huge-id": b'{"id": 1' + b"0" * 300 + b"}", "number": b"1e999999", "nul-byte": b'{"id": 1\x00}'}
    for name, raw in awkward.items():
        body, headers = fake_shopify.delivery(None, "shopify-secret", body=raw, webhook_id=name)
        response = post(client, f"/webhooks/shopify/{shop.id}", body, headers)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
    stored = events()
    assert [event.delivery_id for event in stored] == list(awkward)
    assert all(event.body == raw for event, raw in zip(stored, awkward.values()))
    for event in stored:
        process_event(event.id)
    db.session.expire_all()
    assert {event.state for event in events()} == {"failed"}
    assert "too deeply" in events()[0].error
    assert db.session.scalar(select(func.count(Order.id))) == 0
