"""The order back-office as a person uses it: sign in, filter, open an order, move it, get refused.

Runs against a live server in headless Chromium; asserts what the page shows and what the
database holds, never mocks. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.extensions import db
from app.orders.models import Order, OrderStatusHistory
from tests.factories import make_order


@dataclass(frozen=True)
class SeededOrder:
    id: int
    number: str
    customer: str


def _seed(live_server, *specs: tuple[str, str, str]) -> dict[str, SeededOrder]:
    """Orders made through the real services: (key, status, customer) each."""
    seeded = {}
    with live_server.app.app_context():
        for key, status, customer in specs:
            order = make_order(status, customer=customer, email=f"{key}@example.com")
            seeded[key] = SeededOrder(order.id, order.number, customer)
        db.session.remove()
    return seeded


def _status_in_db(live_server, order_id: int) -> tuple[str, int]:
    """The order's status and the number of its status-history rows, read from the database."""
    with live_server.app.app_context():
        status = db.session.scalar(select(Order.status).where(Order.id == order_id))
        history = db.session.scalar(
            select(func.count(OrderStatusHistory.id)).where(OrderStatusHistory.order_id == order_id))
        db.session.remove()
    return status, history


def _rows(page):
    return page.locator("#orders-table tbody tr[id^='order-row-']")


def _no_server_errors(page) -> None:
    assert page.problems == [], "the pages had problems:\n" + "\n".join(page.problems)


@pytest.mark.browser
def test_filter_open_change_status_and_get_refused(live_server, page, sign_in, screenshot):
    orders = _seed(
        live_server,
        ("anna", "awaiting_payment", "Anna Nowak"),
        ("dawid", "awaiting_payment", "Dawid Kowalski"),
        ("ewa", "cancelled", "Ewa Nowak"),
        ("bartosz", "paid", "Bartosz Zieliński"),
        ("celina", "shipped", "Celina Wiśniewska"),
    )
    anna = orders["anna"]

    sign_in(page, live_server.operator)
    expect(_rows(page)).to_have_count(5)

    # Filter by status: only the two orders awaiting payment stay, and the URL says so.
    page.locator("#order-filters").get_by_label("Status").select_option(label="Awaiting payment")
    expect(page).to_have_url(re.compile(r"[?&]status=awaiting_payment(&|$)"))
    expect(_rows(page)).to_have_count(2)
    expect(page.locator("#orders-table tbody")).to_contain_text(anna.number)
    expect(page.locator("#orders-table tbody")).to_contain_text(orders["dawid"].number)

    # Narrow further with the search box (typed, as a person would): one row is left.
    page.locator("#order-filters").get_by_label("Search").press_sequentially("Nowak", delay=30)
    expect(page).to_have_url(re.compile(r"[?&]q=Nowak(&|$)"))
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).first).to_contain_text(anna.number)
    expect(_rows(page).first).to_contain_text("Anna Nowak")
    expect(page.locator("#orders-table tbody")).not_to_contain_text("Ewa Nowak")  # cancelled, filtered out
    query = parse_qs(urlsplit(page.url).query)
    assert query["status"] == ["awaiting_payment"] and query["q"] == ["Nowak"], page.url
    screenshot(page, "order-list-filtered")

    # The filtered URL is a real page: loading it afresh shows the same rows and keeps the filters.
    page.reload()
    expect(_rows(page)).to_have_count(1)
    expect(page.locator("#order-filters").get_by_label("Search")).to_have_value("Nowak")
    expect(page.locator("#order-filters").get_by_label("Status")).to_have_value("awaiting_payment")

    # Open the order.
    page.get_by_role("link", name=anna.number, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/orders/{anna.id}")
    expect(page.get_by_role("heading", name=f"Order {anna.number}")).to_be_visible()
    status_now = page.locator("#order-status .status-current")
    expect(status_now).to_have_text("Awaiting payment")
    events = page.locator("#order-timeline .event")
    events_before = events.count()
    assert events_before >= 1

    # Change the status with the status form: the panel swaps, the timeline refreshes itself.
    page.locator("#status-select").select_option(label="Paid")
    page.locator("#order-status").get_by_label("Comment (optional)").fill("Paid by bank transfer")
    page.locator("#order-status").get_by_role("button", name="Change status").click()
    expect(status_now).to_have_text("Paid")
    expect(page.locator("#status-error")).to_have_count(0)
    expect(events).to_have_count(events_before + 1)
    newest = events.first
    expect(newest).to_contain_text("Status: Awaiting payment → Paid")
    expect(newest).to_contain_text("Paid by bank transfer")
    expect(newest).to_contain_text(live_server.operator.name)
    assert _status_in_db(live_server, anna.id) == ("paid", 2)
    screenshot(page, "order-status-changed")

    # A refused change: "Returned" is offered under "Not allowed from here" for an unshipped order.
    not_allowed = page.locator("#status-select optgroup[label='Not allowed from here'] option[value='returned']")
    expect(not_allowed).to_have_count(1)
    page.locator("#status-select").select_option(label="Returned")
    page.locator("#order-status").get_by_role("button", name="Change status").click()
    error = page.locator("#status-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("A return can only be requested after shipping")
    expect(error).to_contain_text("Paid")
    expect(status_now).to_have_text("Paid")  # nothing changed
    expect(events).to_have_count(events_before + 1)  # and nothing was added to the timeline
    assert _status_in_db(live_server, anna.id) == ("paid", 2)
    screenshot(page, "order-status-refused")

    _no_server_errors(page)


@pytest.mark.browser
def test_bulk_status_change_reports_each_row(live_server, page, sign_in, screenshot):
    orders = _seed(
        live_server,
        ("waiting", "awaiting_payment", "Anna Nowak"),
        ("paid", "paid", "Bartosz Zieliński"),
        ("shipped", "shipped", "Celina Wiśniewska"),
        ("untouched", "awaiting_payment", "Dawid Kowalski"),
    )
    chosen = [orders["waiting"], orders["paid"], orders["shipped"]]

    sign_in(page, live_server.operator)
    expect(_rows(page)).to_have_count(4)
    for order in chosen:
        page.get_by_label(f"Select {order.number}", exact=True).check()
    page.locator("#bulk-status").get_by_label("Move selected to").select_option(label="Cancelled")
    # Choosing the target status must not reload the table (and so drop the selection).
    for order in chosen:
        expect(page.get_by_label(f"Select {order.number}", exact=True)).to_be_checked()
    page.locator("#bulk-status").get_by_role("button", name="Change status").click()

    result = page.locator("#bulk-result .bulk-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("2 of 3")
    expect(result).to_contain_text("“Cancelled”")
    expect(result.locator("tbody tr")).to_have_count(3)
    expect(result.locator("tr.row-ok")).to_have_count(2)
    refused = result.locator("tr.row-refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text(orders["shipped"].number)
    expect(refused).to_contain_text("An order that has been shipped cannot be cancelled")
    for order in (orders["waiting"], orders["paid"]):
        expect(result.locator("tr.row-ok", has_text=order.number)).to_contain_text("→ Cancelled")

    # The list refreshes itself after the bulk change.
    expect(page.locator(f"#order-row-{orders['waiting'].id}")).to_contain_text("Cancelled")
    expect(page.locator(f"#order-row-{orders['paid'].id}")).to_contain_text("Cancelled")
    expect(page.locator(f"#order-row-{orders['shipped'].id}")).to_contain_text("Shipped")
    screenshot(page, "order-list-bulk-result")

    assert _status_in_db(live_server, orders["waiting"].id) == ("cancelled", 2)
    assert _status_in_db(live_server, orders["paid"].id) == ("cancelled", 2)
    assert _status_in_db(live_server, orders["shipped"].id) == ("shipped", 1)
    assert _status_in_db(live_server, orders["untouched"].id) == ("awaiting_payment", 1)
    _no_server_errors(page)


@pytest.mark.browser
def test_viewer_sees_no_status_form(live_server, page, sign_in, screenshot):
    order = _seed(live_server, ("anna", "awaiting_payment", "Anna Nowak"))["anna"]

    sign_in(page, live_server.viewer)
    expect(_rows(page)).to_have_count(1)
    expect(page.locator("#bulk-status")).to_have_count(0)
    expect(page.locator("#orders-table input[name=ids]")).to_have_count(0)
    expect(page.get_by_role("link", name="New order")).to_have_count(0)

    page.get_by_role("link", name=order.number, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/orders/{order.id}")
    expect(page.locator("#order-status .status-current")).to_have_text("Awaiting payment")
    expect(page.locator("#order-status form")).to_have_count(0)
    expect(page.locator("#status-select")).to_have_count(0)
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    expect(page.locator("#order-timeline .note-form")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit order")).to_have_count(0)
    screenshot(page, "order-viewer")

    assert _status_in_db(live_server, order.id) == ("awaiting_payment", 1)
    _no_server_errors(page)
