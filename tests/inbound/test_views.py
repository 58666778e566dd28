"""The Deliveries page and the Shopify/WooCommerce integration forms, on both databases."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.inbound import ledger
from app.inbound.models import InboundEvent
from app.inbound.services import process_event
from app.integrations.models import Integration
from app.integrations.state_mappings import sync_states
from app.jobs import tasks
from tests.conftest import csrf_from
from tests.factories import make_integration, make_user
from tests.fakes import shopify as fake_shopify


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def deliver(client, shop, payload, **kwargs):
    body, headers = fake_shopify.delivery(payload, "shopify-secret", **kwargs)
    return client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers)


def three_deliveries(client):
    """One good, one broken (valid signature, not JSON), one refused; the first two processed."""
    shop = make_integration("shopify", direction="pull")
    deliver(client, shop, fake_shopify.shopify_order(1001), webhook_id="ok")
    deliver(client, shop, None, webhook_id="broken", body=b"{not json")
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1002), "wrong")
    client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers)
    for event in db.session.scalars(select(InboundEvent)).all():
        process_event(event.id)
    return shop


def test_deliveries_page_lists_processed_and_failed_with_the_reason(client, app, login):
    shop = three_deliveries(client)
    login(make_user("viewer"))
    page = client.get(f"/integrations/{shop.id}/deliveries")
    assert page.status_code == 200
    text = words(page)
    assert "1 processed" in text and "1 failed" in text
    assert "Cannot read the delivery: The body is not valid JSON" in text
    assert "1 delivery refused (bad or missing signature)" in text
    assert "Reprocess" not in text  # viewers only look
    failed = words(client.get(f"/integrations/{shop.id}/deliveries?state=failed"))
    assert "not valid JSON" in failed and "1001" not in failed



def test_operators_reprocess_a_delivery(client, app, login):
    shop = three_deliveries(client)
    csrf = login(make_user("operator"))
    assert "Reprocess" in words(client.get(f"/integrations/{shop.id}/deliveries"))
    broken = db.session.scalar(select(InboundEvent).where(InboundEvent.delivery_id == "broken"))
    url = f"/integrations/{shop.id}/deliveries/{broken.id}/reprocess"
    assert client.post(url).status_code == 400  # no CSRF token
    response = client.post(url, data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "received" in words(response)
    db.session.expire_all()
    assert db.session.get(InboundEvent, broken.id).state == "received"
    assert f"inbound-event-{broken.id}-a0" in redis_connection.queue("orders").job_ids
    other = make_integration("shopify")
    assert client.post(f"/integrations/{other.id}/deliveries/{broken.id}/reprocess",
                       data={"csrf_token": csrf}).status_code == 404


def test_viewers_cannot_reprocess(client, app, login):
    shop = make_integration("shopify")
    deliver(client, shop, fake_shopify.shopify_order(1001))
    event = db.session.scalar(select(InboundEvent))
    csrf = login(make_user("viewer"))
    assert client.post(f"/integrations/{shop.id}/deliveries/{event.id}/reprocess",
                       data={"csrf_token": csrf}).status_code == 403


def test_failed_processing_is_retried_with_backoff_by_the_sweeper(client, app):
    shop = make_integration("shopify")
    deliver(client, shop, fake_shopify.shopify_order(1001))
    event = db.session.scalar(select(InboundEvent))
    ledger.claim(event.id)
    failed = ledger.fail(event.id, "OperationalError: the database went away", retry=True)
    assert failed.state == "failed" and failed.next_attempt_at > utcnow()
    assert tasks.sweep_inbound() == {"enqueued": 0}  # not due yet
    failed.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert tasks.sweep_inbound() == {"enqueued": 1}
    assert f"inbound-event-{event.id}-a1" in redis_connection.queue("orders").job_ids
    process_event(event.id)
    db.session.expire_all()
    assert db.session.get(InboundEvent, event.id).state == "processed"


def test_admin_adds_a_shopify_shop_sees_the_webhook_address_and_no_secret(client, app, login):
    login(make_user("admin"))
    page = client.get("/integrations/new/shopify").get_data(as_text=True)
    response = client.post("/integrations/new/shopify", data={
        "csrf_token": csrf_from(page), "name": "Sklep Shopify", "shop_domain": "kontor-test.myshopify.com",
        "api_token": "shpat_0123456789abcdefSECRET", "webhook_secret": "whsecret-0123456789-ROTATE",
        "initial_status": "paid"})
    assert response.status_code == 302, words(response)
    integration = db.session.scalars(db.select(Integration)).one()
    assert integration.settings["initial_status"] == "paid"
    assert integration.credentials["webhook_secret"] == "whsecret-0123456789-ROTATE"
    detail = client.get(f"/integrations/{integration.id}").get_data(as_text=True)
    assert f"http://localhost/webhooks/shopify/{integration.id}" in detail
    for url in (f"/integrations/{integration.id}", f"/integrations/{integration.id}/edit"):
        body = client.get(url).get_data(as_text=True)
        assert "shpat_0123456789abcdefSECRET" not in body and "whsecret-0123456789-ROTATE" not in body


def test_woocommerce_form_asks_for_what_is_missing(client, app, login):
    login(make_user("admin"))
    page = client.get("/integrations/new/woocommerce").get_data(as_text=True)
    response = client.post("/integrations/new/woocommerce", data={
        "csrf_token": csrf_from(page), "name": "Sklep Woo", "site_url": "https://woo.example.com",
        "consumer_key": "ck_1", "consumer_secret": "cs_1", "initial_status": "awaiting_payment"})
    assert response.status_code == 422 and "Enter the webhook secret" in words(response)
    assert db.session.scalars(db.select(Integration)).all() == []


def test_shopify_needs_its_myshopify_domain_and_lists_its_states_without_a_call(client, app, login):
    login(make_user("admin"))
    page = client.get("/integrations/new/shopify").get_data(as_text=True)
    response = client.post("/integrations/new/shopify", data={
        "csrf_token": csrf_from(page), "name": "Sklep", "shop_domain": "127.0.0.1:8080",
        "api_token": "shpat_x", "webhook_secret": "s", "initial_status": "paid"})
    assert response.status_code == 422 and "myshopify.com domain" in words(response)
    shop = make_integration("shopify")
    assert sync_states(shop.id)["states"] == 10
