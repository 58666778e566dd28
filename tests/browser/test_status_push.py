"""A status change reaches PrestaShop: set the shop up through the pages, move an order, watch the push.

Headless Chromium against the live server (SQLite file + the test Redis), a FakePrestaShop over
real HTTP, and a real `worker.py` process that shares the live server's database and Redis.
Nothing is mocked: the page is what a person sees, the fake's log is what the shop received.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.integrations.models import Integration, StatusMapping
from app.orders.models import Order
from app.sync.models import SyncOperation
from tests.factories import make_order

SHOP_NAME = "Sklep Kubki"
PUSH_TIMEOUT_MS = 30_000  # a worker process has to start, claim the operation and call the shop


def _no_server_errors(page) -> None:
    assert page.problems == [], "the pages had problems:\n" + "\n".join(page.problems)


def _mapping_rows(page):
    return page.locator("#status-mappings tbody tr[id^='mapping-']")


def _add_mapping(page, status: str, direction: str, state: str) -> None:
    """Fill the editor's add row and press "Add mapping"."""
    editor = page.locator("#status-mappings")
    editor.get_by_label("Kontor status").select_option(label=status)
    editor.get_by_label("Direction").select_option(label=direction)
    editor.get_by_label("Platform state").select_option(label=state)
    editor.get_by_role("button", name="Add mapping").click()


def _set_up_shop(page, live_server, fake, screenshot) -> int:
    """Add the shop, test it, sync its states, switch pushing on and map Paid -> Payment accepted."""
    page.get_by_role("link", name="Integrations").first.click()
    expect(page).to_have_url(f"{live_server.url}/integrations")
    page.get_by_role("link", name="Add PrestaShop").click()

    page.get_by_label("Name", exact=True).fill(SHOP_NAME)
    page.get_by_label("Shop URL").fill(fake.url)
    page.get_by_label("Webservice key").fill(fake.api_key)
    page.get_by_label("Language id for state names").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/integrations/\d+$"))
    integration_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name=SHOP_NAME)).to_be_visible()
    expect(page.locator(".flash, .alert").filter(has_text=f"{SHOP_NAME} added")).to_be_visible()
    # New integrations start with nothing flowing.
    expect(page.locator("#sync-direction").get_by_label("Off")).to_be_checked()

    # Test the connection: the shop's webservice answers with our key.
    connection = page.locator("#connection")
    expect(connection).to_contain_text("Not tested yet.")
    connection.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-message")).to_have_text(
        f"Connected to PrestaShop {fake.version}; the key may read order states.")
    expect(connection.locator(".pill")).to_have_text("ok")

    # Sync the shop's order states: all 13 are listed, named in language 1.
    states = page.locator("#platform-states")
    expect(states).to_contain_text("No states yet")
    states.get_by_role("button", name="Sync states").click()
    expect(states.get_by_role("status")).to_have_text("13 states: 13 new, 0 changed, 0 no longer offered.")
    expect(states.locator(".state-list li")).to_have_count(13)
    for state_id, name in (("2", "Payment accepted"), ("10", "Awaiting bank wire payment")):
        item = states.locator(".state-list li").filter(has=page.locator("code", has_text=re.compile(rf"^{state_id}$")))
        expect(item).to_contain_text(name)
    # The mapping editor refreshes itself once the states are there.
    state_select = page.locator("#status-mappings").get_by_label("Platform state")
    expect(state_select.locator("option")).to_have_count(13)

    # Switch pushing on with the toggle: it saves on change.
    direction = page.locator("#sync-direction")
    direction.get_by_label("Kontor → platform").check()
    expect(direction.get_by_role("status")).to_have_text("saved")
    expect(direction.get_by_label("Kontor → platform")).to_be_checked()
    expect(direction.locator("label.seg.active")).to_have_text("Kontor → platform")

    # Map Paid -> Payment accepted (2), pushed only.
    expect(page.locator("#status-mappings tbody")).to_contain_text("No mappings yet.")
    _add_mapping(page, "Paid", "Kontor → platform", "Payment accepted (2)")
    expect(_mapping_rows(page)).to_have_count(1)
    paid_row = _mapping_rows(page).first
    expect(paid_row).to_contain_text("Paid")
    expect(paid_row).to_contain_text("push")
    expect(paid_row).to_contain_text("Payment accepted")
    expect(paid_row.locator("code")).to_have_text("2")
    expect(page.locator("#mapping-error")).to_have_count(0)

    # A state pulled into one Kontor status cannot be pulled into a second one.
    _add_mapping(page, "Shipped", "Platform → Kontor", "Shipped (4)")
    expect(_mapping_rows(page)).to_have_count(2)
    _add_mapping(page, "Completed", "Both ways", "Shipped (4)")
    error = page.locator("#mapping-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("“Shipped” is already pulled into")
    expect(error).to_contain_text("a platform state can be pulled into only one Kontor status")
    expect(_mapping_rows(page)).to_have_count(2)  # nothing was saved
    editor = page.locator("#status-mappings")
    expect(editor.get_by_label("Kontor status")).to_have_value("completed")  # the row keeps what was chosen
    expect(editor.get_by_label("Direction")).to_have_value("both")
    screenshot(page, "integration-mappings")

    # The page loaded afresh shows the same set-up.
    page.reload()
    expect(page.locator("#sync-direction").get_by_label("Kontor → platform")).to_be_checked()
    expect(_mapping_rows(page)).to_have_count(2)
    expect(page.locator("#mapping-error")).to_have_count(0)

    with live_server.app.app_context():
        integration = db.session.get(Integration, integration_id)
        assert (integration.kind, integration.sync_direction, integration.enabled) == ("prestashop", "push", True)
        assert integration.settings["shop_url"] == fake.url
        assert integration.credentials == {"api_key": fake.api_key}
        assert integration.connection_state == "ok"
        mappings = [(m.local_status, m.direction, m.platform_state.external_id)
                    for m in db.session.scalars(select(StatusMapping).where(
                        StatusMapping.integration_id == integration_id).order_by(StatusMapping.position))]
        assert mappings == [("paid", "push", "2"), ("shipped", "pull", "4")]
        db.session.remove()
    return integration_id


def _make_shop_order(live_server, integration_id: int, external_order_id: str, customer: str) -> tuple[int, str]:
    with live_server.app.app_context():
        order = make_order("awaiting_payment", customer=customer, source="prestashop",
                           integration_id=integration_id, external_order_id=external_order_id)
        seeded = (order.id, order.number)
        db.session.remove()
    return seeded


def _change_status(page, live_server, order_id: int, label: str) -> None:
    page.goto(f"{live_server.url}/orders/{order_id}")
    panel = page.locator("#order-sync")
    expect(panel.locator("#platform-state")).to_have_text("not known yet")
    expect(panel).to_contain_text("No status pushed from Kontor yet")
    page.locator("#status-select").select_option(label=label)
    page.locator("#order-status").get_by_role("button", name="Change status").click()
    expect(page.locator("#order-status .status-current")).to_have_text(label)
    expect(page.locator("#status-error")).to_have_count(0)


def _posts_for(fake, external_order_id: str) -> list[dict]:
    with fake.lock:
        return [dict(post) for post in fake.history_posts if post["order_id"] == external_order_id]


def _history_requests(fake, external_order_id: str) -> list[str]:
    """The bodies of every POST /api/order_histories for that order, as the shop received them."""
    with fake.lock:
        bodies = [r.body.decode() for r in fake.requests_log if r.line == "POST /api/order_histories"]
    return [body for body in bodies if f"<id_order><![CDATA[{external_order_id}]]></id_order>" in body]


def _operations(live_server, order_id: int) -> list[tuple[str, int]]:
    with live_server.app.app_context():
        rows = db.session.execute(select(SyncOperation.state, SyncOperation.attempts)
                                  .where(SyncOperation.order_id == order_id).order_by(SyncOperation.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _timeline_events(page):
    return page.locator("#order-timeline .event")


@pytest.mark.browser
def test_status_change_is_pushed_to_prestashop(live_server, live_workers, fake_prestashop, page, sign_in,
                                               screenshot):
    fake = fake_prestashop
    live_workers.start(1)  # it boots while the shop is being set up
    sign_in(page, live_server.admin)
    integration_id = _set_up_shop(page, live_server, fake, screenshot)

    external_id = fake.add_order(state="10")
    order_id, _number = _make_shop_order(live_server, integration_id, external_id, "Anna Nowak")

    _change_status(page, live_server, order_id, "Paid")
    panel = page.locator("#order-sync")
    expect(panel.locator("#sync-state")).to_have_text("pushed", timeout=PUSH_TIMEOUT_MS)
    expect(panel.locator("#platform-state")).to_have_text("Payment accepted")
    expect(panel.locator("#sync-result")).to_have_text(f"Pushed to {SHOP_NAME}: “Payment accepted”.")
    expect(panel.locator("#sync-error")).to_have_count(0)
    expect(panel.get_by_role("button", name="Retry now")).to_have_count(0)

    # The timeline does not refresh itself when the worker finishes (only on the page's own
    # changes), so the push entry is read from the page loaded afresh.
    page.reload()
    panel = page.locator("#order-sync")
    expect(panel.locator("#sync-state")).to_have_text("pushed")
    expect(panel.locator("#platform-state")).to_have_text("Payment accepted")
    events = _timeline_events(page)
    expect(events.filter(has_text="Status: Awaiting payment → Paid")).to_have_count(1)
    push_event = events.filter(has_text=f"Pushed to {SHOP_NAME}")
    expect(push_event).to_have_count(1)
    expect(push_event).to_contain_text("“Payment accepted”")
    expect(push_event).to_contain_text(f"Sync to {SHOP_NAME}")
    expect(events.first).to_contain_text(f"Pushed to {SHOP_NAME}")  # newest first
    screenshot(page, "order-pushed")

    # The shop got exactly one history row, for this order, moving it to Payment accepted.
    assert [(p["order_id"], p["state_id"]) for p in _posts_for(fake, external_id)] == [(external_id, "2")]
    bodies = _history_requests(fake, external_id)
    assert len(bodies) == 1 and "<id_order_state><![CDATA[2]]></id_order_state>" in bodies[0], bodies
    assert fake.orders[external_id] == "2"
    assert _operations(live_server, order_id) == [("done", 1)]
    with live_server.app.app_context():
        assert db.session.scalar(select(Order.platform_state).where(Order.id == order_id)) == "2"
        db.session.remove()
    _no_server_errors(page)


@pytest.mark.browser
def test_refused_push_fails_and_is_retried_from_the_order_page(live_server, live_workers, fake_prestashop, page,
                                                               sign_in, screenshot):
    fake = fake_prestashop
    live_workers.start(1)
    sign_in(page, live_server.admin)
    integration_id = _set_up_shop(page, live_server, fake, screenshot)

    # The order's id on the shop is one the shop does not know (yet): the shop answers 404.
    missing_id = "9001"
    order_id, _number = _make_shop_order(live_server, integration_id, missing_id, "Bartosz Zieliński")

    _change_status(page, live_server, order_id, "Paid")
    panel = page.locator("#order-sync")
    expect(panel.locator("#sync-state")).to_have_text("failed", timeout=PUSH_TIMEOUT_MS)
    expect(panel.locator("#sync-error")).to_contain_text("PrestaShop answered HTTP 404")
    expect(panel.locator("#sync-error")).to_contain_text(f"Id(s) not exists: {missing_id}")
    expect(panel.locator("#platform-state")).to_have_text("not known yet")
    expect(panel.get_by_role("button", name="Retry now")).to_be_visible()
    page.reload()  # for the timeline (see above)
    panel = page.locator("#order-sync")
    expect(panel.locator("#sync-state")).to_have_text("failed")
    expect(panel.locator("#sync-error")).to_contain_text("PrestaShop answered HTTP 404")
    failed_event = _timeline_events(page).filter(has_text=f"Push to {SHOP_NAME} failed")
    expect(failed_event).to_have_count(1)
    expect(failed_event).to_contain_text("HTTP 404")
    screenshot(page, "order-push-failed")

    # A 404 is final: tried once, nothing written to the shop, no retry scheduled.
    assert _operations(live_server, order_id) == [("failed", 1)]
    assert _posts_for(fake, missing_id) == []
    assert _history_requests(fake, missing_id) == []

    # The order appears in the shop; "Retry now" delivers the push.
    fake.add_order(order_id=missing_id, state="10")
    panel.get_by_role("button", name="Retry now").click()
    expect(panel.locator("#sync-state")).to_have_text("pushed", timeout=PUSH_TIMEOUT_MS)
    expect(panel.locator("#platform-state")).to_have_text("Payment accepted")
    expect(panel.locator("#sync-result")).to_have_text(f"Pushed to {SHOP_NAME}: “Payment accepted”.")
    expect(panel.locator("#sync-error")).to_have_count(0)
    expect(panel.get_by_role("button", name="Retry now")).to_have_count(0)
    page.reload()
    events = _timeline_events(page)
    expect(events.filter(has_text=f"Pushed to {SHOP_NAME}")).to_have_count(1)
    expect(events.filter(has_text=f"Push to {SHOP_NAME} failed")).to_have_count(1)
    screenshot(page, "order-push-retried")

    assert [(p["order_id"], p["state_id"]) for p in _posts_for(fake, missing_id)] == [(missing_id, "2")]
    bodies = _history_requests(fake, missing_id)
    assert len(bodies) == 1 and "<id_order_state><![CDATA[2]]></id_order_state>" in bodies[0], bodies
    assert _operations(live_server, order_id) == [("done", 1)]

    # The integration page no longer lists the push as undelivered.
    page.goto(f"{live_server.url}/integrations/{integration_id}")
    expect(page.locator("#failed-operations")).to_contain_text("Every push has been delivered.")
    _no_server_errors(page)
