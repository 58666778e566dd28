"""The order list's rows as HTML: the busiest part of the busiest page, built without the template engine.

Jinja spends about a microsecond on every value it writes (escaping, Markup, attribute lookups), and a
page of 50 rows writes some 850 of them. Here a row is one f-string: the values people typed and
the codes are escaped, the rest (badges, names, the checkbox label) comes escaped from the view's
per-language texts. The markup is that of templates/orders/_table.html, which holds the header, the
empty row and the pager: change them together.
"""

from __future__ import annotations

from datetime import timezone
from html import escape
from typing import Callable, Iterable, Mapping

from markupsafe import Markup

from app.core.web import DATETIME_FORMATS, format_datetime, format_money

_EXTERNAL = '<div class="muted small">{}</div>'


def render(rows: Iterable, texts: Mapping, list_url: str, can_edit: bool, locale: str,
           unknown_status: Callable[[str], str]) -> Markup:
    """Every order row's <tr>; `texts` are the view's per-language badges and names, `unknown_status` draws
    the badge of a status that is not configured (any more)."""
    status_badges, payment_badges, source_names = texts["status_badges"], texts["payment_badges"], texts["source_names"]
    before, after = texts["select_before"], texts["select_after"]
    date_format = DATETIME_FORMATS.get(locale, DATETIME_FORMATS["en"])[0]
    list_url = escape(list_url)
    html = []
    for order in rows:
        number = escape(order.number)
        ordered_at = order.ordered_at
        # Stored in UTC and read back as such: written as it is, without format_datetime's conversions (digits and
        # punctuation of Kontor's own format: nothing to escape).
        when = (ordered_at.strftime(date_format) if ordered_at is not None and ordered_at.tzinfo is timezone.utc
                else format_datetime(ordered_at, locale=locale))
        check = (f'<td class="check-col"><input type="checkbox" name="ids" value="{order.id}" '
                 f'aria-label="{before}{number}{after}"></td>') if can_edit else ""
        external = _EXTERNAL.format(escape(order.external_order_id)) if order.external_order_id else ""
        html.append(
            f'<tr id="order-row-{order.id}">\n'
            f'        {check}<td><a href="{list_url}/{order.id}" class="strong">{number}</a>\n'
            f'          {external}</td>\n'
            f'        <td class="nowrap">{when}</td>\n'
            f'        <td>{escape(order.customer_name)}<div class="muted small">{escape(order.customer_email)}</div></td>\n'
            f'        <td>{source_names.get(order.source) or escape(order.source)}</td>\n'
            f'        <td>{status_badges.get(order.status) or unknown_status(order.status)}</td>\n'
            f'        <td>{payment_badges.get(order.payment_status) or escape(order.payment_status)}</td>\n'
            f'        <td class="num nowrap">{escape(format_money(order.total_gross, order.currency, locale))}</td>\n'
            '      </tr>\n')
    return Markup("".join(html))
