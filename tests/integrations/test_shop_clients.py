"""Shopify and WooCommerce clients against their local fakes over real HTTP."""

from __future__ import annotations

import pytest

from app.integrations.base import AuthenticationFailed, PlatformError
from app.integrations.shopify.client import ShopifyClient
from app.integrations.woocommerce.client import WooCommerceClient
from tests.fakes import shopify as fake_shopify
from tests.fakes import woocommerce as fake_woocommerce
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce


def test_shopify_client_checks_the_token_and_reads_order_states():
    with FakeShopify() as fake:
        fake.orders["7"] = fake_shopify.shopify_order(7, financial_status="paid", fulfillment_status="fulfilled")
        client = ShopifyClient(fake.base_url, fake.token)
        assert client.check_connection() == "Connected to Kontor Test (kontor-test.myshopify.com)."
        assert client.fetch_order_state("7").state_id == "fulfilled"
        assert "cancelled" in [s.external_id for s in client.fetch_states()]
        with pytest.raises(PlatformError, match="can only cancel"):
            client.set_order_state("7", "paid")
        client.set_order_state("7", "cancelled")
        assert fake.writes == [("cancel", "7")]
        with pytest.raises(AuthenticationFailed):
            ShopifyClient(fake.base_url, "wrong").check_connection()


def test_woocommerce_client_checks_the_keys_and_sets_a_status():
    with FakeWooCommerce() as fake:
        fake.orders["501"] = fake_woocommerce.woocommerce_order(501, status="processing")
        client = WooCommerceClient(fake.url, fake.consumer_key, fake.consumer_secret)
        assert "may read orders" in client.check_connection()
        assert client.fetch_order_state("501").state_id == "processing"
        client.set_order_state("501", "completed")
        assert fake.writes == [("PUT", "501", {"status": "completed"})]
        with pytest.raises(PlatformError, match="HTTP 404"):
            client.fetch_order_state("999")
        with pytest.raises(AuthenticationFailed):
            WooCommerceClient(fake.url, "ck_wrong", "cs_wrong").check_connection()
