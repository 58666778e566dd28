"""An Allegro integration's page: the journal gap notice, Import now, and the import's run in the list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.inbound import allegro as journal
from app.integrations.progress import set_cursor
from tests.factories import make_integration


@pytest.mark.browser
def test_operator_sees_the_journal_gap_and_starts_an_import(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        integration = make_integration("allegro", name="Allegro Sklep", settings={
            "environment": "sandbox", "client_id": "client", "import_days": 14})
        set_cursor(integration.id, journal.GAP, "2026-12-01T08:00:00+00:00|2026-09-20T07:55:00+00:00")
        db.session.commit()
        integration_id = integration.id
    sign_in(page, live_server.operator)
    page.goto(f"{live_server.url}/integrations/{integration_id}")
    card = page.locator("#order-import")
    expect(card).to_contain_text("event journal every minute")
    expect(page.locator("#journal-gap")).to_contain_text("2026-09-20 07:55 UTC were fetched from the order list")
    expect(page.locator("body")).to_contain_text("Days fetched on first connect")
    screenshot(page, "allegro-order-import")
    card.get_by_role("button", name="Import now").click()
    expect(page.locator("body")).to_contain_text("Import started")
    assert page.problems == [], "\n".join(page.problems)
