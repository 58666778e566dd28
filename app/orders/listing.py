"""The order list: its filters as they appear in the URL, and one page of orders matching them."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from sqlalchemy import Integer, bindparam, exists, func, or_, select
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
# The list's statements are written on the tables, not the mapped classes: Core statements skip the ORM's
# compile step, which costs the busiest page about as much as running them.
orders = Order.__table__.c
shipments = OrderShipment.__table__.c
SORTS = {
    "ordered_at": orders.ordered_at,
    "number": orders.number,
    "customer": orders.customer_name,
    "total": orders.total_gross,
    "status": orders.status,
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


def _criteria(filters: OrderFilters) -> tuple[tuple, list, dict[str, Any]]:
    """The filters as (shape, conditions, values). The conditions name their values as bound parameters, so
    every request with filters of the same shape runs the same statement (see _statement)."""
    shape: list = []
    conditions: list = []
    values: dict[str, Any] = {}
    if filters.status:
        # One status (the common case) compares with =: the same plan, without an expanding IN to render.
        if len(filters.status) == 1:
            shape.append("status")
            conditions.append(orders.status == bindparam("status"))
            values["status"] = filters.status[0]
        else:
            shape.append("statuses")
            conditions.append(orders.status.in_(bindparam("statuses", expanding=True)))
            values["statuses"] = list(filters.status)
    if filters.group:
        shape.append("group")
        conditions.append(orders.status.in_(bindparam("group_statuses", expanding=True)))
        values["group_statuses"] = codes_in_groups(filters.group)
    if filters.late:
        shape.append("late")
        conditions += [orders.status.in_(bindparam("late_statuses", expanding=True)),
                       orders.ordered_at < bindparam("late_before", type_=orders.ordered_at.type)]
        values |= {"late_statuses": codes_in_groups((LATE_GROUP,)), "late_before": late_before()}
    if filters.shipped_from or filters.shipped_to:
        shape.append(("shipped", bool(filters.shipped_from), bool(filters.shipped_to)))
        clauses = [shipments.order_id == orders.id]
        if filters.shipped_from:
            clauses.append(shipments.shipped_at >= bindparam("shipped_start", type_=shipments.shipped_at.type))
            values["shipped_start"] = _day_start(filters.shipped_from)
        if filters.shipped_to:
            clauses.append(shipments.shipped_at < bindparam("shipped_end", type_=shipments.shipped_at.type))
            values["shipped_end"] = _day_start(filters.shipped_to + timedelta(days=1))
        conditions.append(exists().where(*clauses))
    for name in ("payment_status", "source"):
        if getattr(filters, name):
            shape.append(name)
            conditions.append(orders[name] == bindparam(name))
            values[name] = getattr(filters, name)
    if filters.date_from:
        shape.append("date_from")
        conditions.append(orders.ordered_at >= bindparam("ordered_from", type_=orders.ordered_at.type))
        values["ordered_from"] = _day_start(filters.date_from)
    if filters.date_to:
        shape.append("date_to")
        conditions.append(orders.ordered_at < bindparam("ordered_before", type_=orders.ordered_at.type))
        values["ordered_before"] = _day_start(filters.date_to + timedelta(days=1))
    if filters.q:
        shape.append("q")
        needle = bindparam("needle")
        conditions.append(or_(*(func.lower(column).like(needle) for column in (
            orders.number, orders.customer_name, orders.customer_email, orders.external_order_id))))
        values["needle"] = f"%{filters.q.lower()}%"
    return tuple(shape), conditions, values


# Statements by what they are for and the filters' shape. Building a statement and computing the key SQLAlchemy
# finds its compiled form under cost more than running it on SQLite (some 0.4 ms for the list's two), and the
# order list runs on every view; the shapes are few (which filters are set, the sort), so this stays small.
_STATEMENTS: dict[tuple, Any] = {}


def _statement(key: tuple, build: Callable[[], Any]) -> Any:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


# What the order list page shows; loading only these keeps the JSON column and the rest out.
TABLE_COLUMNS = (orders.number, orders.external_order_id, orders.ordered_at, orders.customer_name,
                 orders.customer_email, orders.source, orders.status, orders.payment_status, orders.total_gross,
                 orders.currency)
# One row of the order list: the order's id and TABLE_COLUMNS, read like an order (row.number).
OrderRow = namedtuple("OrderRow", ["id", *(column.key for column in TABLE_COLUMNS)])


# count(*) straight on the table lets PostgreSQL answer from the index alone.
_COUNT = select(func.count()).select_from(Order.__table__)


def list_orders(filters: OrderFilters, columns: tuple | None = None) -> Page:
    """One page of orders matching the filters, with the total count; `columns` limits what is loaded."""

    def query():
        return select(Order).options(load_only(*columns)) if columns else select(Order)

    return _page(filters, ("orders", *(column.key for column in columns or ())), query,
                 lambda rows: [row[0] for row in rows])


def list_table_rows(filters: OrderFilters) -> Page:
    """One page of the order list as OrderRows: plain tuples, no ORM objects to build (the busiest page)."""
    return _page(filters, ("table rows",), lambda: select(orders.id, *TABLE_COLUMNS),
                 lambda rows: [OrderRow._make(row[:-1]) for row in rows])


def _page(filters: OrderFilters, kind: tuple, query: Callable[[], Any], fetch: Callable[[list], list]) -> Page:
    """The page's rows and the total in one statement: each row carries the count, which the database works
    out once (an uncorrelated subquery), and the busiest page saves a round trip and a statement per view."""
    shape, conditions, values = _criteria(filters)

    def window():
        column = SORTS[filters.sort]
        ordering = [column.asc() if filters.direction == "asc" else column.desc(), orders.id.desc()]
        total = _COUNT.where(*conditions).scalar_subquery().label("total")
        return (query().add_columns(total).where(*conditions).order_by(*ordering)
                .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)))

    statement = _statement((*kind, shape, filters.sort, filters.direction), window)

    def rows_of(page: int) -> list:
        return db.session.execute(statement, {**values, "offset": (page - 1) * filters.per_page,
                                              "limit": filters.per_page}).all()

    page = filters.page
    # The offset is bound as an INTEGER, like an id: no list is longer, so a larger one is past the end.
    rows = rows_of(page) if (page - 1) * filters.per_page <= params.ID_MAX else []
    if rows:
        total = rows[0][-1]
    elif page == 1:
        total = 0
    else:
        # Past the last page (an old link, orders gone since): show the last page there is.
        total = db.session.scalar(_statement(("count", shape), lambda: _COUNT.where(*conditions)), values)
        page = Page(items=[], page=1, per_page=filters.per_page, total=total).pages
        rows = rows_of(page) if total else []
    return Page(items=fetch(rows), page=page, per_page=filters.per_page, total=total)
