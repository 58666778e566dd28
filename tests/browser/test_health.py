"""The sync health page: a push stuck after a Redis flush and a failed feed import, both retried from the page.

Headless Chromium against the live server (SQLite file + its own Redis database), a FakePrestaShop
over real HTTP, and a real `worker.py` process. The push was recorded seven hours ago and its job
was lost with a Redis flush; the feed's file was missing when its import ran. The operator sees
both at the top of the health page, opens the list behind each number and presses Retry; the
worker delivers the push to the shop and imports the feed. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.suppliers import imports, services as feeds
from app.suppliers.models import FeedImport
from app.sync import outbox
from app.sync.models import SyncOperation
from tests.factories import make_integration, make_order, map_status
from tests.fakes.alerting import FakeSlack

pytestmark = pytest.mark.browser
JOB_TIMEOUT_MS = 30_000


def _seed(app, fake) -> dict:
    with app.app_context():
        shop = make_integration("prestashop", name="Sklep Kubki",
                                settings={"shop_url": fake.url, "language_id": 1},
                                credentials={"api_key": fake.api_key},
                                states=[(i, f"State {i}") for i in fake.states])
        map_status(shop, "paid", "2", "push")
        fake.add_order("17", state="10")
        order = make_order("paid", integration_id=shop.id, external_order_id="17")
        operation = outbox.record("status_push", shop.id, {"to_status": "paid"}, order.id)
        operation.created_at = operation.next_attempt_at = utcnow() - timedelta(hours=7)
        db.session.commit()
        redis_connection.client.flushdb()  # the job is lost; the outbox row is not

        feed = feeds.save_feed(None, name="Hurtownia Łódź", source_type="upload", location="", format="csv",
                               upload=io.BytesIO("kod;stan\nKUB-350;4\n".encode("cp1250")), upload_name="stan.csv")
        feeds.preview(feed.id)
        feeds.save_mapping(feed.id, {"sku": "kod", "stock_quantity": "stan"})
        stored = Path(feed.settings["upload_file"])
        stored.rename(stored.with_suffix(".away"))
        failed = imports.start_import(feed.id)
        imports.run_import(failed.id, lambda *_args: None)
        stored.with_suffix(".away").rename(stored)
        assert db.session.get(FeedImport, failed.id).state == "failed"
        ids = {"shop": shop.id, "operation": operation.id, "feed": feed.id, "failed_import": failed.id,
               "order": order.number}
        db.session.remove()
    return ids


def test_a_stuck_push_and_a_failed_feed_import_are_retried_from_the_health_page(
        page, live_server, live_workers, sign_in, screenshot, fake_prestashop):
    ids = _seed(live_server.app, fake_prestashop)
    live_workers.start(1, queues=("integrations", "import"))
    sign_in(page, live_server.operator)

    page.get_by_role("link", name="Health").click()
    expect(page).to_have_url(f"{live_server.url}/health")
    expect(page.locator("#health-verdict")).to_have_text("critical")
    push_row = page.locator(f"tr.health-row[data-kind='status_push'][data-integration='{ids['shop']}']")
    expect(push_row.locator(".verdict")).to_contain_text("1 waiting for more than 6 hours")
    feed_row = page.locator(f"tr.health-row[data-kind='feed_import'][data-integration='{ids['feed']}']")
    expect(feed_row.locator(".verdict")).to_contain_text("1 failed and needs a retry or a cancel")
    # Worst first: the critical push is the first row.
    expect(page.locator("tr.health-row").first).to_have_attribute("data-kind", "status_push")
    screenshot(page, "health-stuck")

    push_row.locator("td[data-bucket='stale'] a").click()
    expect(page).to_have_url(re.compile(r"/health/items\?"))
    expect(page.locator("#health-items-table")).to_contain_text(f"Order {ids['order']}")
    screenshot(page, "health-stale-list")
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator("#health-message")).to_have_text("Sent again.")
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while fake_prestashop.orders["17"] != "2" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fake_prestashop.orders["17"] == "2", live_workers.output()

    page.get_by_role("link", name="← Sync health").click()
    feed_row.locator("td[data-bucket='failed'] a").click()
    expect(page.locator("#health-items-table")).to_contain_text("Hurtownia Łódź")
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator("#health-message")).to_have_text("Sent again.")

    with live_server.app.app_context():
        deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
        again = None
        while time.monotonic() < deadline:
            db.session.rollback()
            again = db.session.scalar(select(FeedImport).where(FeedImport.id != ids["failed_import"]))
            if again is not None and again.state == "done":
                break
            time.sleep(0.3)
        assert again is not None and again.state == "done", live_workers.output()
        assert db.session.get(SyncOperation, ids["operation"]).state == "done"

    page.get_by_role("link", name="← Sync health").click()
    expect(push_row.locator(".verdict")).to_contain_text("healthy")
    expect(feed_row.locator(".verdict")).to_contain_text("healthy")
    screenshot(page, "health-after-retry")
    assert page.problems == [], "\n".join(page.problems)


def test_an_admin_sets_up_slack_alerts_and_sends_a_test(page, live_server, sign_in, screenshot):
    live_server.app.config["ALERT_ALLOWED_HOSTS"] = frozenset({"127.0.0.1"})
    with FakeSlack() as slack:
        sign_in(page, live_server.admin)
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("link", name="Alerts").click()
        expect(page).to_have_url(f"{live_server.url}/settings/alerts")
        form = page.locator("#add-channel")
        form.get_by_label("Type").select_option(label="Slack")
        form.get_by_label("Name", exact=True).fill("Zespół")
        form.get_by_label("Incoming webhook URL").fill(slack.url)
        form.get_by_role("button", name="Add channel").click()
        expect(page.locator(".flash")).to_contain_text("Channel “Zespół” added.")
        expect(page.locator("#alert-channels")).not_to_contain_text(slack.PATH)  # the secret is never shown
        page.locator("#alert-channels").get_by_role("button", name="Send test").click()
        expect(page.locator(".flash")).to_have_text("Test message sent to Slack.")
        assert slack.texts == ["Kontor test alert from channel “Zespół”: alerts reach you here."]
        screenshot(page, "alert-settings")

        page.goto(f"{live_server.url}/queues")
        expect(page.locator("#queue-table")).to_contain_text("integrations")
        expect(page.locator("#schedule-table")).to_contain_text("check_alerts")
        screenshot(page, "queues")
    assert page.problems == [], "\n".join(page.problems)
