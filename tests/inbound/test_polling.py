"""Polling Shopify and WooCommerce for changed orders (fakes over real HTTP), on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.inbound import polling
from app.inbound.models import InboundEvent
from app.inbound.services import process_event
from app.integrations import progress
from app.integrations.base import PlatformError
from app.integrations.models import IntegrationRun
from app.orders.models import Order
from tests.factories import make_integration
from tests.fakes import shopify as fake_shopify
from tests.fakes import woocommerce as fake_woocommerce
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce


@pytest.fixture
def shopify_fake():
    with FakeShopify() as fake:
        yield fake
        assert fake.handler_errors == []


@pytest.fixture
def woo_fake():
    with FakeWooCommerce() as fake:
        yield fake
        assert fake.handler_errors == []


def process_all() -> None:
    for event_id in db.session.scalars(select(InboundEvent.id).where(InboundEvent.state == "received")).all():
        process_event(event_id)
    db.session.expire_all()


def test_shopify_poll_stores_every_changed_order_across_pages_and_skips_what_it_has(app, shopify_fake,
                                                                                     monkeypatch):
    monkeypatch.setattr("app.integrations.shopify.client.PAGE_SIZE", 2)
    shop = make_integration("shopify", settings={"shop_domain": "kontor-test.myshopify.com",
                                                 "api_url": shopify_fake.base_url})
    for order_id in range(1, 6):
        shopify_fake.orders[str(order_id)] = fake_shopify.shopify_order(order_id, minute=order_id)
    monkeypatch.setattr(polling, "utcnow", lambda: fake_shopify.BASE_TIME + timedelta(minutes=10))
    assert polling.poll_orders(shop.id) == {"orders": 5, "new": 5, "known": 0}
    assert len([r for r in shopify_fake.requests_log if r.path.endswith("orders.json")]) == 3
    process_all()
    assert db.session.scalar(select(func.count(Order.id))) == 5

    shopify_fake.orders["3"] = fake_shopify.shopify_order(3, minute=60 * 24, financial_status="paid")
    counts = polling.poll_orders(shop.id)
    assert counts["new"] == 1
    process_all()
    assert db.session.scalar(select(Order.payment_status).where(Order.external_order_id == "3")) == "paid"
    run = db.session.scalars(select(IntegrationRun).order_by(IntegrationRun.id.desc())).first()
    assert run.kind == "order_poll" and run.ok and "1 new" in run.message


def test_a_failed_poll_is_logged_and_does_not_move_the_cursor(app, shopify_fake):
    shop = make_integration("shopify", settings={"shop_domain": "x.myshopify.com", "api_url": shopify_fake.base_url},
                            credentials={"api_token": "wrong", "webhook_secret": "s"})
    with pytest.raises(PlatformError):
        polling.poll_orders(shop.id)
    run = db.session.scalar(select(IntegrationRun))
    assert not run.ok and "access token" in run.message
    assert polling.CURSOR not in progress.cursors(shop.id)


def test_woocommerce_poll_pages_by_modified_after(app, woo_fake, monkeypatch):
    monkeypatch.setattr("app.integrations.woocommerce.client.PAGE_SIZE", 2)
    shop = make_integration("woocommerce", settings={"site_url": woo_fake.url},
                            credentials={"consumer_key": woo_fake.consumer_key,
                                         "consumer_secret": woo_fake.consumer_secret, "webhook_secret": "wc-secret"})
    for order_id in range(501, 506):
        woo_fake.orders[str(order_id)] = fake_woocommerce.woocommerce_order(order_id, minute=order_id - 500)
    monkeypatch.setattr(polling, "utcnow", lambda: fake_woocommerce.BASE_TIME + timedelta(minutes=10))
    assert polling.poll_orders(shop.id)["new"] == 5
    assert polling.poll_orders(shop.id)["new"] == 0
    process_all()
    assert db.session.scalar(select(func.count(Order.id))) == 5
    assert all(e.state == "processed" for e in db.session.scalars(select(InboundEvent)))


def test_flask_orders_import_fetches_and_applies_now(app, woo_fake):
    shop = make_integration("woocommerce", settings={"site_url": woo_fake.url},
                            credentials={"consumer_key": woo_fake.consumer_key,
                                         "consumer_secret": woo_fake.consumer_secret, "webhook_secret": "wc-secret"})
    woo_fake.orders["501"] = fake_woocommerce.woocommerce_order(501, minute=1)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orders", "import", "--integration", str(shop.id), "--since", "2026-11-01",
                                 "--process"])
    assert result.exit_code == 0, result.output
    assert "1 orders changed, 1 new" in result.output and "1 applied, 0 failed" in result.output
    assert db.session.scalar(select(Order.external_order_id)) == "501"
    generic = make_integration("generic")
    result = runner.invoke(args=["orders", "import", "--integration", str(generic.id)])
    assert result.exit_code != 0 and "nothing to fetch" in result.output


def test_entries_of_a_poll_answer_that_are_not_orders_are_skipped_and_said(app, shopify_fake, monkeypatch):
    shop = make_integration("shopify", settings={"shop_domain": "kontor-test.myshopify.com",
                                                 "api_url": shopify_fake.base_url})
    shopify_fake.orders["1"] = fake_shopify.shopify_order(1, minute=1)
    listed = shopify_fake._list

    def with_junk(request):
        response = listed(request)
        body = json.loads(response.get_data())
        response.set_data(json.dumps({"orders": ["not an order", None, 7, *body["orders"]]}))
        return response

    monkeypatch.setattr(shopify_fake, "_list", with_junk)
    monkeypatch.setattr(polling, "utcnow", lambda: fake_shopify.BASE_TIME + timedelta(minutes=10))
    assert polling.poll_orders(shop.id) == {"orders": 1, "new": 1, "known": 0}
    run = db.session.scalars(select(IntegrationRun).order_by(IntegrationRun.id.desc())).first()
    assert run.ok and "3 entries of the answer were not orders" in run.message
