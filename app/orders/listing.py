"""The order list: its filters as they appear in the URL, and one page of orders matching them."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping
from urllib.parse import urlencode

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import load_only
from flask_babel import gettext as _

from app.core import params
from app.core.errors import BadParameter
from app.core.pagination import Page
from app.core.types import utcnow
from app.extensions import db
from app.orders.models import PAYMENT_STATUSES, SOURCES, Order, OrderShipment
from app.settings.services import ship_within_hours, status_defs
from app.settings.statuses import GROUPS

# Late means: in this group (paid, being picked or packed) and placed longer ago than the time to ship.
LATE_GROUP = "processing"

SEARCH_MAX_LENGTH = 100
SORTS = {
    "ordered_at": Order.ordered_at,
    "number": Order.number,
    "customer": Order.customer_name,
    "total": Order.total_gross,
    "status": Order.status,
}


@dataclass(frozen=True)
class OrderFilters:
    """The order list's filters, as they appear in the URL."""

    status: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    late: bool = False
    payment_status: str = ""
    source: str = ""
    date_from: date | None = None
    date_to: date | None = None
    shipped_from: date | None = None
    shipped_to: date | None = None
    q: str = ""
    sort: str = "ordered_at"
    direction: str = "desc"
    page: int = 1
    per_page: int = 50
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], per_page: int = 50, max_per_page: int = 200) -> "OrderFilters":
        """Parse query-string arguments; unusable values are dropped and reported in `errors`."""
        errors: list[str] = []
        getlist = args.getlist if hasattr(args, "getlist") else (lambda k: [args[k]] if k in args else [])

        def read(reader, *a, default=None, **kw):
            try:
                return reader(*a, **kw)
            except BadParameter as bad:
                errors.append(bad.message)
                return default

        known = status_defs()
        statuses = []
        for code in (s for raw in getlist("status") for s in str(raw).split(",") if s):
            if code in known:
                statuses.append(code)
            else:
                errors.append(_("Unknown status “%(clean_text)s”.", clean_text=params.clean_text(code, 40)))
        groups = []
        for code in (g for raw in getlist("group") for g in str(raw).split(",") if g):
            if code in GROUPS:
                groups.append(code)
            else:
                errors.append(_("Unknown status group “%(clean_text)s”.", clean_text=params.clean_text(code, 40)))
        late = (args.get("late") or "") in ("1", "true", "yes", "on")
        payment = args.get("payment_status", "") or ""
        if payment and payment not in PAYMENT_STATUSES:
            errors.append(_("Unknown payment status “%(clean_text)s”.", clean_text=params.clean_text(payment, 40)))
            payment = ""
        source = args.get("source", "") or ""
        if source and source not in SOURCES:
            errors.append(_("Unknown source “%(clean_text)s”.", clean_text=params.clean_text(source, 40)))
            source = ""
        dates = {key: read(params.date_arg, args.get(key), key, label=label)
                 for key, label in (("date_from", "start date"), ("date_to", "end date"))}
        if dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
            errors.append(_("The start date is after the end date."))
            dates = {"date_from": None, "date_to": None}
        shipped = {key: read(params.date_arg, args.get(key), key, label=label)
                   for key, label in (("shipped_from", "first shipped date"), ("shipped_to", "last shipped date"))}
        if shipped["shipped_from"] and shipped["shipped_to"] and shipped["shipped_from"] > shipped["shipped_to"]:
            errors.append(_("The first shipped date is after the last shipped date."))
            shipped = {"shipped_from": None, "shipped_to": None}
        sort = args.get("sort") or "ordered_at"
        if sort not in SORTS:
            errors.append(_("Orders cannot be sorted by “%(clean_text)s”.", clean_text=params.clean_text(sort, 40)))
            sort = "ordered_at"
        direction = args.get("direction") or "desc"
        if direction not in ("asc", "desc"):
            errors.append(_("The sort direction is asc or desc."))
            direction = "desc"
        limit = args.get("limit") or args.get("per_page")
        size = read(params.int_arg, limit, "limit", default=per_page, minimum=1, maximum=max_per_page,
                    label="number of rows per page")
        q = read(params.text_arg, args.get("q"), "q", max_length=SEARCH_MAX_LENGTH, label="search text",
                 default="")
        return cls(
            status=tuple(dict.fromkeys(statuses)), group=tuple(dict.fromkeys(groups)), late=late,
            payment_status=payment, source=source, q=q, sort=sort,
            direction=direction, page=read(params.page_arg, args.get("page"), default=1),
            per_page=min(size or per_page, max_per_page), errors=tuple(errors), **dates, **shipped,
        )

    def url(self, base: str, **overrides: Any) -> str:
        """`base` with these filters (some replaced) as the query string; cheaper than url_for per link."""
        args = self.query_args(**overrides)
        # Pairs, not doseq: urlencode(doseq=True) tries len() on every number and pays for the TypeError.
        pairs = [(key, item) for key, value in args.items()
                 for item in (value if isinstance(value, (list, tuple)) else (value,))]
        return f"{base}?{urlencode(pairs)}" if pairs else base

    def query_args(self, **overrides: Any) -> dict[str, Any]:
        """These filters as URL arguments (defaults left out), with some replaced."""
        values: dict[str, Any] = {
            "status": list(self.status), "group": list(self.group), "late": "1" if self.late else "",
            "payment_status": self.payment_status, "source": self.source,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
            "shipped_from": self.shipped_from.isoformat() if self.shipped_from else "",
            "shipped_to": self.shipped_to.isoformat() if self.shipped_to else "", "q": self.q,
            "sort": self.sort if self.sort != "ordered_at" else "",
            "direction": self.direction if self.direction != "desc" else "",
            "page": self.page if self.page != 1 else "",
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v not in ("", None, [], ())}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.utc)


def codes_in_groups(groups) -> list[str]:
    """The status codes whose group is one of `groups`."""
    return [s.code for s in status_defs().values() if s.group in groups]


def late_before(now: datetime | None = None, hours: int | None = None) -> datetime:
    """Orders in the late group placed before this moment are late (`hours`: the time to ship, if already read)."""
    return (now or utcnow()) - timedelta(hours=ship_within_hours() if hours is None else hours)


def late_conditions(now: datetime | None = None, hours: int | None = None) -> list:
    """What makes an order late: still being fulfilled, placed longer ago than the time to ship."""
    return [Order.status.in_(codes_in_groups((LATE_GROUP,))), Order.ordered_at < late_before(now, hours)]


def shipped_between(start: datetime | None, end: datetime | None):
    """The order has a shipment that left in [start, end)."""
    clauses = [OrderShipment.order_id == Order.id]
    if start:
        clauses.append(OrderShipment.shipped_at >= start)
    if end:
        clauses.append(OrderShipment.shipped_at < end)
    return exists().where(*clauses)


def _conditions(filters: OrderFilters) -> list:
    conditions = []
    if filters.status:
        # One status (the common case) compares with =: the same plan, without an expanding IN to render.
        conditions.append(Order.status == filters.status[0] if len(filters.status) == 1
                          else Order.status.in_(filters.status))
    if filters.group:
        conditions.append(Order.status.in_(codes_in_groups(filters.group)))
    if filters.late:
        conditions.extend(late_conditions())
    if filters.shipped_from or filters.shipped_to:
        conditions.append(shipped_between(
            _day_start(filters.shipped_from) if filters.shipped_from else None,
            _day_start(filters.shipped_to + timedelta(days=1)) if filters.shipped_to else None))
    if filters.payment_status:
        conditions.append(Order.payment_status == filters.payment_status)
    if filters.source:
        conditions.append(Order.source == filters.source)
    if filters.date_from:
        conditions.append(Order.ordered_at >= datetime.combine(filters.date_from, time.min, timezone.utc))
    if filters.date_to:
        conditions.append(
            Order.ordered_at < datetime.combine(filters.date_to + timedelta(days=1), time.min, timezone.utc))
    if filters.q:
        needle = f"%{filters.q.lower()}%"
        conditions.append(or_(
            func.lower(Order.number).like(needle),
            func.lower(Order.customer_name).like(needle),
            func.lower(Order.customer_email).like(needle),
            func.lower(Order.external_order_id).like(needle),
        ))
    return conditions


# What the order list page shows; loading only these keeps the JSON column and the rest out.
TABLE_COLUMNS = (Order.number, Order.external_order_id, Order.ordered_at, Order.customer_name,
                 Order.customer_email, Order.source, Order.status, Order.payment_status, Order.total_gross,
                 Order.currency)
# One row of the order list: the order's id and TABLE_COLUMNS, read like an order (row.number).
OrderRow = namedtuple("OrderRow", ["id", *(column.key for column in TABLE_COLUMNS)])


# Built once: the list runs on every page view, and building a statement costs more than running it on SQLite.
_TABLE_ROWS = select(Order.id, *TABLE_COLUMNS)
# count(*) straight on the table lets PostgreSQL answer from the index alone.
_COUNT = select(func.count()).select_from(Order)


def list_orders(filters: OrderFilters, columns: tuple | None = None) -> Page:
    """One page of orders matching the filters, with the total count; `columns` limits what is loaded."""
    query = select(Order)
    if columns:
        query = query.options(load_only(*columns))
    return _page(filters, query, lambda window: db.session.scalars(window).all())


def list_table_rows(filters: OrderFilters) -> Page:
    """One page of the order list as OrderRows: plain tuples, no ORM objects to build (the busiest page)."""
    return _page(filters, _TABLE_ROWS, lambda window: [OrderRow._make(row) for row in db.session.execute(window)])


def _page(filters: OrderFilters, query, fetch) -> Page:
    conditions = _conditions(filters)
    total = db.session.scalar(_COUNT.where(*conditions))
    column = SORTS[filters.sort]
    ordering = [column.asc() if filters.direction == "asc" else column.desc(), Order.id.desc()]
    pages = max(1, -(-total // filters.per_page))
    page = min(filters.page, pages)
    rows = fetch(query.where(*conditions).order_by(*ordering).offset((page - 1) * filters.per_page)
                 .limit(filters.per_page))
    return Page(items=rows, page=page, per_page=filters.per_page, total=total)
