"""Shopify's and WooCommerce's order JSON read into Kontor's DTOs, without a database."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from app.integrations.base import MalformedPayload
from app.integrations.shopify.mapping import order_from_shopify, order_state, refund_from_shopify
from app.integrations.woocommerce.mapping import order_from_woocommerce
from tests.fakes.shopify import shopify_order, shopify_refund
from tests.fakes.woocommerce import woocommerce_order


@pytest.mark.parametrize("changes, state", [
    ({}, "pending"), ({"financial_status": "paid"}, "paid"),
    ({"financial_status": "paid", "fulfillment_status": "partial"}, "partially_fulfilled"),
    ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, "fulfilled"),
    ({"financial_status": "refunded", "fulfillment_status": "fulfilled"}, "refunded"),
    ({"financial_status": "paid", "cancelled_at": "2026-11-30T12:00:00+01:00"}, "cancelled"),
])
def test_shopify_state_follows_cancellation_refund_fulfilment_then_payment(changes, state):
    assert order_state({**shopify_order(1), **changes}) == state


def test_shopify_order_fields():
    order = order_from_shopify(shopify_order(1001, minute=5, financial_status="paid", fulfillment_status="fulfilled"))
    assert (order.external_id, order.number, order.currency, order.payment_status) == ("1001", "#1001", "PLN", "paid")
    assert order.updated_at == datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc)  # sent as 11:05+01:00
    assert order.total_gross == Decimal("64.00") and order.shipping_gross == Decimal("15.00")
    [item] = order.items
    assert (item.sku, item.quantity, item.unit_price_gross, item.vat_rate) == ("KUB-350", 1, Decimal("49.00"),
                                                                               Decimal("23.00"))
    addresses = dict(order.addresses)
    assert addresses["billing"].company == "Kowalski sp. z o.o." and addresses["billing"].street == "ul. Długa 5, m. 3"
    assert order.shipments[0].tracking_number == "62001001" and order.delivery_method == "InPost Paczkomat"


def test_shopify_prices_without_taxes_get_the_tax_added():
    data = shopify_order(1)
    data["taxes_included"] = False
    data["line_items"][0].update(price="40.00", tax_lines=[{"rate": 0.23, "price": "9.20"}])
    assert order_from_shopify(data).items[0].unit_price_gross == Decimal("49.20")


def test_shopify_refund_and_bad_payloads():
    refund = refund_from_shopify(shopify_refund(9, 1001, "15.00"))
    assert (refund.order_external_id, refund.amount) == ("1001", Decimal("15.00"))
    for bad in ([], {"name": "#1"}, {**shopify_order(1), "updated_at": "yesterday"},
                {**shopify_order(1), "total_price": "a lot"}):
        with pytest.raises(MalformedPayload):
            order_from_shopify(bad)


def test_woocommerce_order_fields():
    order = order_from_woocommerce(woocommerce_order(501, minute=3, status="processing", paid=True))
    assert (order.external_id, order.state, order.payment_status) == ("501", "processing", "paid")
    assert order.updated_at.isoformat() == "2026-11-30T10:03:00+00:00"
    [item] = order.items
    assert (item.quantity, item.unit_price_gross, item.vat_rate, item.discount_gross) == (
        2, Decimal("30.75"), Decimal("23"), Decimal("0"))
    assert order.shipping_gross == Decimal("15.00") and order.total_gross == Decimal("138.00")
    assert order.payments[0].external_payment_id == "tx-501"
    with pytest.raises(MalformedPayload):
        order_from_woocommerce({"id": 5, "date_modified_gmt": "not a date"})
