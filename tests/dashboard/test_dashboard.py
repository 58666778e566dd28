"""The dashboard: every figure is right and links to exactly the orders it counts."""

import re
from datetime import timedelta
from decimal import Decimal

from app.core.types import utcnow
from app.extensions import db
from app.orders.models import Order, OrderPayment, OrderShipment
from app.settings.services import ship_within_hours, update_ship_within
from app.sync import outbox
from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user


def numbers_listed(client, href: str) -> set[str]:
    """The order numbers the order list shows at that link."""
    html = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
    return set(re.findall(r'<a href="/orders/\d+" class="strong">([^<]+)</a>', html))


def link_of(html: str, element_id: str, index: int = 0) -> str:
    """The index-th link inside the element with that id."""
    start = html.index(f'id="{element_id}"')
    return re.findall(r'<a href="(/orders[^"]*)"', html[start:])[index]


def shop(client, login):
    """Orders spread over channels, days and groups, signed in as an operator."""
    login(make_user())
    now = utcnow()
    orders = {
        "allegro_today": make_order("paid", source="allegro"),
        "allegro_cancelled": make_order("cancelled", source="allegro"),
        "shop_5_days": make_order("awaiting_payment", source="prestashop"),
        "shop_20_days": make_order("shipped", source="prestashop"),
        "old": make_order("completed", source="allegro"),
    }
    ages = {"allegro_today": timedelta(minutes=5), "allegro_cancelled": timedelta(minutes=10),
            "shop_5_days": timedelta(days=5), "shop_20_days": timedelta(days=20), "old": timedelta(days=90)}
    for key, order in orders.items():
        order.ordered_at = now - ages[key]
    db.session.commit()
    return orders


def test_orders_and_revenue_per_channel_link_to_exactly_their_orders(client, app, login):
    orders = shop(client, login)
    html = client.get("/?period=30d").get_data(as_text=True)
    kpi = html[html.index('id="kpi-orders"'):html.index('id="kpi-revenue"')]
    assert re.findall(r">(\d+)</a>", kpi) == ["2", "3", "4"]  # today, 7 days, 30 days
    assert numbers_listed(client, link_of(html, "kpi-orders", 0)) == {
        orders["allegro_today"].number, orders["allegro_cancelled"].number}
    assert numbers_listed(client, link_of(html, "kpi-orders", 2)) == {
        o.number for k, o in orders.items() if k != "old"}
    # Revenue leaves the cancelled order out, and so does its link.
    total = orders["allegro_today"].total_gross
    revenue = html[html.index('id="kpi-revenue"'):html.index('id="kpi-shipping"')]
    assert f"{total:.2f}" in revenue.replace("\u202f", "").replace(",", ".")
    assert numbers_listed(client, link_of(html, "kpi-revenue", 0)) == {orders["allegro_today"].number}
    # Per channel, for the chosen period (30 days).
    chart = html[html.index('id="chart-orders"'):html.index('id="chart-revenue"')]
    table = chart[chart.index("<table"):]
    assert re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', table) == ["Allegro", "PrestaShop"]
    prestashop_link = re.findall(r'href="([^"]+)"', table)[2]
    assert numbers_listed(client, prestashop_link) == {
        orders["shop_5_days"].number, orders["shop_20_days"].number}


def test_waiting_orders_per_group_and_late_orders(client, app, login):
    orders = shop(client, login)
    update_ship_within(24)
    html = client.get("/").get_data(as_text=True)
    chart = html[html.index('id="chart-waiting"'):]
    table = chart[chart.index("<table"):chart.index("</table>")]
    counts = dict(re.findall(r'>([A-Za-z]+)</a></th><td class="num"><a href="[^"]+">(\d+)</a>', table))
    assert counts == {"New": "1", "Processing": "1", "Shipped": "1", "Returns": "0"}
    processing = re.search(r'href="([^"]+)">Processing', table).group(1)
    assert numbers_listed(client, processing) == {orders["allegro_today"].number}
    # The paid order is 5 minutes old: not late within 24 hours; after 100 days it is.
    late = html[html.index('id="late-orders"'):]
    assert re.search(r'<p class="big-number"><a href="[^"]+">0</a>', late)
    orders["allegro_today"].ordered_at = utcnow() - timedelta(hours=30)
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    late = html[html.index('id="late-orders"'):]
    assert re.search(r'<p class="big-number"><a href="[^"]+">1</a>', late)
    assert numbers_listed(client, link_of(html, "late-orders")) == {orders["allegro_today"].number}


def test_average_time_from_payment_to_shipment(client, app, login):
    login(make_user())
    now = utcnow()
    fast, slow, unpaid = (make_order("shipped", source="allegro") for _ in range(3))
    for order, hours in ((fast, 2), (slow, 10)):
        db.session.add(OrderPayment(order_id=order.id, amount=Decimal("10"), paid_at=now - timedelta(days=3)))
        db.session.add(OrderShipment(order_id=order.id, shipped_at=now - timedelta(days=3) + timedelta(hours=hours)))
    db.session.add(OrderShipment(order_id=unpaid.id, shipped_at=now - timedelta(days=40)))
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    row = html[html.index('id="kpi-shipping"'):html.index('id="kpi-shortfall"')]
    cells = re.findall(r'<td class="num"><a href="([^"]+)">([^<]+)</a>', row)
    assert [text for _, text in cells] == ["—", "6.0 h", "6.0 h"]
    assert numbers_listed(client, cells[1][0]) == {fast.number, slow.number}


def test_sync_verdict_counts_failed_and_waiting_pushes_and_links_to_sync_health(client, app, login):
    login(make_user())
    integration = make_integration()
    order = make_order()
    failed = outbox.record("order_status", integration.id, {"status": "paid"}, order.id)
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "healthy" in html[html.index('id="sync-verdict"'):]
    outbox.fail(failed, "PrestaShop said 500")
    outbox.record("order_status", integration.id, {"status": "shipped"}, order.id)
    db.session.commit()
    verdict = client.get("/").get_data(as_text=True)
    verdict = verdict[verdict.index('id="sync-verdict"'):verdict.index("</section>", verdict.index('id="sync-verdict"'))]
    assert "something needs you" in verdict and "1 failed, 1 waiting" in verdict
    assert 'href="/health"' in verdict


def test_charts_are_inline_svg_without_inline_styles_and_the_page_needs_a_login(client, app, login):
    assert client.get("/").status_code == 302
    shop(client, login)
    response = client.get("/?period=30d")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.count("<svg") == 3
    assert "style=" not in html and "<script>" not in html
    shortfall = html[html.index('id="kpi-shortfall"'):html.index("</tr>", html.index('id="kpi-shortfall"'))]
    assert "0 %" in shortfall and "not tracked" not in shortfall  # no reservation is short
    assert client.get("/?period=nonsense").status_code == 200


def test_order_list_filters_by_group_late_and_shipped_dates_and_reports_bad_ones(client, app, login):
    login(make_user())
    paid, shipped = make_order("paid"), make_order("shipped")
    db.session.add(OrderShipment(order_id=shipped.id, shipped_at=utcnow()))
    db.session.commit()
    today = utcnow().date().isoformat()
    assert numbers_listed(client, "/orders?group=processing") == {paid.number}
    assert numbers_listed(client, f"/orders?shipped_from={today}&shipped_to={today}") == {shipped.number}
    page = client.get("/orders?group=processing&late=1")
    assert "Late: not shipped within the time to ship" in page.get_data(as_text=True)
    bad = client.get("/orders?group=nope&shipped_from=2026-13-01")
    assert bad.status_code == 400 and "Unknown status group" in bad.get_data(as_text=True)


def test_admin_sets_the_time_to_ship_under_settings_and_others_cannot(client, app, login):
    login(make_user("admin"))
    page = client.get("/settings/shipping").get_data(as_text=True)
    bad = client.post("/settings/shipping", data={"ship_within_hours": "99999", "csrf_token": csrf_from(page)})
    assert bad.status_code == 200 and "between 1 and 1440" in bad.get_data(as_text=True)
    assert ship_within_hours() == 48
    saved = client.post("/settings/shipping", data={"ship_within_hours": "24", "csrf_token": csrf_from(page)})
    assert saved.status_code == 302 and ship_within_hours() == 24
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(make_user("operator"))
    page = client.get("/settings/shipping").get_data(as_text=True)
    refused = client.post("/settings/shipping", data={"ship_within_hours": "12", "csrf_token": csrf_from(page)})
    assert refused.status_code == 403 and ship_within_hours() == 24
