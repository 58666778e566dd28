"""A Shopify shop connected through the pages: a signed delivery arrives, shows on Deliveries, becomes an order.

Headless Chromium against the live server (SQLite file + the test Redis), the delivery sent over real
HTTP as Shopify sends it, and a real `worker.py` on the `orders` queue applying it.
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.fakes import shopify as fake_shopify

SECRET = "shopify-webhook-secret-0123"
WORKER_TIMEOUT_MS = 30_000


@pytest.mark.browser
def test_a_shopify_delivery_arrives_on_the_deliveries_page_and_opens_as_an_order(live_server, live_workers, page,
                                                                                  sign_in, screenshot):
    live_workers.start(1, queues=("orders",))
    sign_in(page, live_server.admin)
    page.get_by_role("link", name="Integrations").first.click()
    page.get_by_role("link", name="Add Shopify").click()
    page.get_by_label("Name", exact=True).fill("Sklep Shopify")
    page.get_by_label("Shop domain").fill("kontor-test.myshopify.com")
    page.get_by_label("Admin API access token").fill("shpat_browser_test_token")
    page.get_by_label("Webhook secret", exact=True).fill(SECRET)
    page.get_by_label("Status of new orders").select_option(label="Awaiting payment")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/integrations/\d+$"))
    integration_id = int(page.url.rsplit("/", 1)[1])
    address = page.get_by_label("Webhook address")
    expected_url = f"{live_server.url}/webhooks/shopify/{integration_id}"
    expect(address).to_have_value(expected_url)
    expect(page.locator("body")).not_to_contain_text(SECRET)
    screenshot(page, "shopify-integration")

    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001, financial_status="paid"), SECRET,
                                          topic="orders/create")
    assert requests.post(expected_url, data=body, headers=headers, timeout=10).status_code == 200
    forged = dict(headers, **{"X-Shopify-Hmac-Sha256": "Zm9yZ2Vk", "X-Shopify-Webhook-Id": "forged"})
    assert requests.post(expected_url, data=body, headers=forged, timeout=10).status_code == 401

    page.get_by_role("link", name="Deliveries →").click()
    row = page.locator("#deliveries tbody tr[id^='delivery-']")
    expect(row).to_have_count(1)
    expect(row.locator(".pill")).to_have_text("processed", timeout=WORKER_TIMEOUT_MS)
    expect(row).to_contain_text("orders/create")
    expect(page.locator("#rejected-deliveries")).to_contain_text("1 delivery refused")
    screenshot(page, "shopify-deliveries")

    row.get_by_role("link", name="order").click()
    expect(page.locator("body")).to_contain_text("Jan Kowalski")
    expect(page.locator("#order-timeline")).to_contain_text("Order #1001 received from Shopify")
    screenshot(page, "shopify-order")
    assert page.problems == [], "\n".join(page.problems)
