"""The order list's rows as HTML: the busiest part of the busiest page, built without the template engine.

Jinja spends about a microsecond on every value it writes (escaping, Markup, attribute lookups), and a
page of 50 rows writes some 850 of them. Here a row is one format string: the values people typed and
the codes are escaped, the rest (badges, names, the checkbox label) comes escaped from the view's
per-language texts. The markup is that of templates/orders/_table.html, which holds the header, the
empty row and the pager: change them together.
"""

from __future__ import annotations

from html import escape
from typing import Callable, Iterable, Mapping

from markupsafe import Markup

from app.core.web import format_datetime, format_money

_ROW = ('<tr id="order-row-{id}">\n'
        '        {check}<td><a href="{list_url}/{id}" class="strong">{number}</a>\n'
        '          {external}</td>\n'
        '        <td class="nowrap">{ordered_at}</td>\n'
        '        <td>{customer_name}<div class="muted small">{customer_email}</div></td>\n'
        '        <td>{source}</td>\n'
        '        <td>{status}</td>\n'
        '        <td>{payment}</td>\n'
        '        <td class="num nowrap">{total}</td>\n'
        '      </tr>\n')
_CHECK = '<td class="check-col"><input type="checkbox" name="ids" value="{id}" aria-label="{before}{number}{after}"></td>'
_EXTERNAL = '<div class="muted small">{}</div>'


def render(rows: Iterable, texts: Mapping, list_url: str, can_edit: bool, locale: str,
              unknown_status: Callable[[str], str]) -> Markup:
    """Every order row's <tr>; `texts` are the view's per-language badges and names, `unknown_status` draws
    the badge of a status that is not configured (any more)."""
    status_badges, payment_badges, source_names = texts["status_badges"], texts["payment_badges"], texts["source_names"]
    before, after = texts["select_before"], texts["select_after"]
    list_url = escape(list_url)
    html = []
    for order in rows:
        number = escape(order.number)
        html.append(_ROW.format(
            id=order.id, list_url=list_url, number=number,
            check=_CHECK.format(id=order.id, before=before, number=number, after=after) if can_edit else "",
            external=_EXTERNAL.format(escape(order.external_order_id)) if order.external_order_id else "",
            ordered_at=escape(format_datetime(order.ordered_at, locale=locale)),
            customer_name=escape(order.customer_name), customer_email=escape(order.customer_email),
            source=source_names.get(order.source) or escape(order.source),
            status=status_badges.get(order.status) or unknown_status(order.status),
            payment=payment_badges.get(order.payment_status) or escape(order.payment_status),
            total=escape(format_money(order.total_gross, order.currency, locale)),
        ))
    return Markup("".join(html))
