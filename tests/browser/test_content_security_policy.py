"""Every main page works under Kontor's Content-Security-Policy: no inline script, style or eval is refused.

The browser reports each refusal as a `securitypolicyviolation` event and a console error; the walk
fails on either, and checks that what used to be inline (select all, dismiss, add and remove an item
row, status colours) still works from static/kontor.js.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.settings.models import OrderStatus
from tests.factories import make_order

# Runs before any page script and is not subject to the page's policy.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' +
                              e.sourceFile + ':' + e.lineNumber);
});
"""


def _watch(page) -> list[str]:
    """Console errors of the page (except failed loads of 4xx answers the walk expects)."""
    errors: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    return errors


def _assert_clean(page, errors: list[str], where: str) -> None:
    violations = page.evaluate("window.__cspViolations || []")
    assert violations == [] and errors == [] and page.problems == [], (
        f"on {where}:\n" + "\n".join(violations + errors + page.problems))


@pytest.mark.browser
def test_main_pages_work_without_any_csp_violation(live_server, page, sign_in, screenshot):
    with live_server.app.app_context():
        orders = [make_order("awaiting_payment", customer=name, email=f"{n}@example.com")
                  for n, name in enumerate(("Anna Nowak", "Bartosz Zieliński", "Celina Wiśniewska"))]
        order_ids = [order.id for order in orders]
        numbers = [order.number for order in orders]
        awaiting_colour = db.session.scalar(db.select(OrderStatus.colour).where(OrderStatus.code == "awaiting_payment"))
        db.session.remove()
    errors = _watch(page)

    # The login page, and a failed attempt that lands in the admin's list.
    page.goto(f"{live_server.url}/login")
    response = page.request.get(f"{live_server.url}/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    screenshot(page, "csp-login")
    page.get_by_label("E-mail").fill(live_server.operator.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".alert-error")).to_contain_text("Wrong e-mail or password")
    _assert_clean(page, errors, "the login page")

    sign_in(page, live_server.admin)
    _assert_clean(page, errors, "the order list")
    # Status colours are set from data-badge by kontor.js (a style="" attribute would be refused).
    badge = page.locator(f"#order-row-{order_ids[0]} .badge").first
    expect(badge).to_be_visible()
    assert page.evaluate("el => getComputedStyle(el).getPropertyValue('--badge').trim()",
                         badge.element_handle()).lower() == awaiting_colour.lower()

    # Select all ticks every row; a bulk change reports, and its Dismiss button removes the report.
    page.get_by_label("Select all on this page").check()
    for order_id in order_ids:
        expect(page.locator(f"#order-row-{order_id} input[name=ids]")).to_be_checked()
    page.get_by_label("Select all on this page").uncheck()
    expect(page.locator("#orders-table input[name=ids]:checked")).to_have_count(0)
    page.locator(f"#order-row-{order_ids[0]} input[name=ids]").check()
    page.locator("#bulk-status").get_by_label("Move selected to").select_option(label="Cancelled")
    page.locator("#bulk-status").get_by_role("button", name="Change status").click()
    result = page.locator("#bulk-result .bulk-result")
    expect(result).to_contain_text("1 of 1")
    screenshot(page, "csp-order-list")
    result.get_by_role("button", name="Dismiss").click()
    expect(result).to_have_count(0)
    _assert_clean(page, errors, "the order list's bulk change")

    page.goto(f"{live_server.url}/orders/{order_ids[1]}")
    expect(page.locator("h1")).to_contain_text(numbers[1])
    # The status panel swaps itself: htmx must not copy style attributes while settling (the CSP refuses that).
    page.locator("#status-select").select_option(label="Paid")
    page.locator("#order-status").get_by_role("button", name="Change status").click()
    expect(page.locator("#order-status .status-current")).to_have_text("Paid")
    expect(page.locator("#order-timeline .event").first).to_contain_text("Awaiting payment → Paid")
    page.locator("#status-select").select_option(label="Returned")  # refused: the panel swaps with the reason
    page.locator("#order-status").get_by_role("button", name="Change status").click()
    expect(page.locator("#status-error")).to_contain_text("A return can only be requested after shipping")
    screenshot(page, "csp-order-page")
    _assert_clean(page, errors, "an order page")

    # The order form: "+ Add item" sends the next row index, the cross removes a row.
    page.goto(f"{live_server.url}/orders/new")
    rows = page.locator("#items .item-row")
    before = rows.count()
    page.get_by_role("button", name="+ Add item").click()
    expect(rows).to_have_count(before + 1)
    expect(rows.last.locator("input[aria-label='Product name']")).to_have_attribute("name", f"items-{before}-name")
    rows.last.get_by_role("button", name="Remove item").click()
    expect(rows).to_have_count(before)
    _assert_clean(page, errors, "the order form")

    for path, heading in (("/products", None), ("/suppliers", None), ("/integrations", None),
                          ("/settings/statuses", None), ("/settings/numbering", None), ("/settings/users", None),
                          ("/settings/users/sign-in-attempts", "Failed sign-ins"), ("/settings/api-tokens", None),
                          ("/health", "Overall"), ("/queues", "Recurring job"), ("/health/alerts", "Alert history"),
                          ("/settings/alerts", "Add a channel")):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        if heading:
            expect(page.locator("main")).to_contain_text(heading)
        _assert_clean(page, errors, path)
    expect(page.locator("main")).not_to_contain_text("not-the-password")
    page.goto(f"{live_server.url}/settings/users/sign-in-attempts")
    expect(page.locator("#login-attempts")).to_contain_text(live_server.operator.email)
    expect(page.locator("#login-attempts")).to_contain_text("wrong password")
    screenshot(page, "csp-sign-in-attempts")
    assert re.search(r"/settings/users/sign-in-attempts$", page.url)
