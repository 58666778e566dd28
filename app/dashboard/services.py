"""The dashboard's figures: orders and revenue per channel, waiting and late orders, shipping speed, sync.

Every figure comes with the order-list filters that show exactly the orders it counts, so the
page can link each number to its orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from app.core.types import utcnow
from app.dashboard import reservations
from app.extensions import db
from app.orders.listing import LATE_GROUP, codes_in_groups, late_conditions
from app.orders.models import SOURCES, Order, OrderPayment, OrderShipment
from app.settings.services import ship_within_hours, status_defs
from app.settings.statuses import GROUPS
from app.sync.models import SyncOperation

PERIODS = {"today": 1, "7d": 7, "30d": 30}
# Revenue leaves out cancelled orders; the revenue link filters the list to these groups.
REVENUE_GROUPS = tuple(g for g in GROUPS if g != "cancelled")
# Groups whose orders still wait for something from the seller or the carrier.
WAITING_GROUPS = tuple(g for g in GROUPS if g not in ("completed", "cancelled"))
# A pending push older than this means the workers are not keeping up.
STUCK_AFTER = timedelta(minutes=15)


@dataclass
class ChannelFigures:
    """Orders received and gross revenue of one channel in one period."""

    source: str
    orders: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)  # by currency


@dataclass
class PeriodFigures:
    """Everything the dashboard shows for one period (today, 7 or 30 days)."""

    key: str
    date_from: date
    date_to: date
    channels: list[ChannelFigures]
    shipped: int
    shipped_with_payment: int
    average_ship_seconds: float | None
    shortfall: tuple[int, int] | None

    @property
    def orders(self) -> int:
        return sum(c.orders for c in self.channels)

    @property
    def revenue(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for channel in self.channels:
            for currency, amount in channel.revenue.items():
                total[currency] = total.get(currency, Decimal("0")) + amount
        return dict(sorted(total.items(), key=lambda kv: -kv[1]))

    @property
    def list_args(self) -> dict[str, str]:
        """Order-list arguments for the orders placed in this period."""
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}

    @property
    def shipped_args(self) -> dict[str, str]:
        """Order-list arguments for the orders shipped in this period."""
        return {"shipped_from": self.date_from.isoformat(), "shipped_to": self.date_to.isoformat()}


@dataclass
class SyncHealth:
    """The outbox's state behind the sync verdict."""

    failed: int
    pending: int
    stuck: int

    @property
    def verdict(self) -> str:
        """'failing', 'behind' or 'healthy'."""
        if self.failed:
            return "failing"
        if self.stuck:
            return "behind"
        return "healthy"


@dataclass
class Dashboard:
    """The figures of the whole page."""

    periods: dict[str, PeriodFigures]
    waiting: dict[str, int]  # orders per waiting status group, now
    late: int
    ship_within_hours: int
    shortfall_tracked: bool


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.utc)


def _seconds_between(later, earlier):
    """A dialect's expression for `later - earlier` in seconds."""
    if db.engine.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _bucket(column, starts: dict[str, datetime]):
    """The shortest period (today, 7d, 30d) a moment falls in; the figures add up the longer ones."""
    return case(*[(column >= starts[key], key) for key in PERIODS], else_="older")


def figures(now: datetime | None = None) -> Dashboard:
    """Compute every dashboard figure as of `now`."""
    now = now or utcnow()
    today = now.date()
    starts = {key: _day_start(today - timedelta(days=days - 1)) for key, days in PERIODS.items()}
    oldest = starts["30d"]
    cancelled = codes_in_groups(("cancelled",)) or ["-"]

    # Orders and revenue per channel: one pass over the last 30 days, bucketed by the shortest period.
    bucket = _bucket(Order.ordered_at, starts)
    rows = db.session.execute(
        select(bucket, Order.source, Order.currency, func.count(),
               func.sum(case((Order.status.in_(cancelled), 0), else_=Order.total_gross)))
        .where(Order.ordered_at >= oldest).group_by(bucket, Order.source, Order.currency)
    ).all()

    # Paid to shipped, for orders whose first shipment left in the period: each such order is read through
    # that shipment (in range on the shipped-at index, no earlier one of its order), its first payment from
    # the (order, paid at) index; nothing outside the 30 days is read.
    first = aliased(OrderShipment)
    earlier = aliased(OrderShipment)
    first_paid = (select(func.min(OrderPayment.paid_at)).where(OrderPayment.order_id == first.order_id)
                  .correlate(first).scalar_subquery())
    shipments = (select(first.shipped_at.label("shipped_at"), first_paid.label("paid_at"))
                 .where(first.shipped_at >= oldest,
                        ~exists().where(earlier.order_id == first.order_id, earlier.shipped_at.is_not(None),
                                        or_(earlier.shipped_at < first.shipped_at,
                                            and_(earlier.shipped_at == first.shipped_at, earlier.id < first.id))))
                 # Materialized, so each order's first payment is looked up once, not once per use below.
                 .cte("first_shipments").prefix_with("MATERIALIZED"))
    ship_bucket = _bucket(shipments.c.shipped_at, starts)
    took = _seconds_between(shipments.c.shipped_at, shipments.c.paid_at)
    shipping_rows = db.session.execute(
        select(ship_bucket, func.count(), func.count(shipments.c.paid_at), func.sum(took))
        .select_from(shipments).group_by(ship_bucket)
    ).all()

    shortfalls = reservations.shortfall_counts(lambda column: _bucket(column, starts), oldest)

    periods: dict[str, PeriodFigures] = {}
    order_keys = list(PERIODS)
    for index, key in enumerate(order_keys):
        inside = set(order_keys[: index + 1])  # a 7-day figure includes today's
        channels: dict[str, ChannelFigures] = {}
        for row_bucket, source, currency, count, revenue in rows:
            if row_bucket not in inside:
                continue
            channel = channels.setdefault(source, ChannelFigures(source))
            channel.orders += count
            channel.revenue[currency] = channel.revenue.get(currency, Decimal("0")) + Decimal(revenue or 0)
        shipped = sum(r[1] for r in shipping_rows if r[0] in inside)
        with_payment = sum(r[2] for r in shipping_rows if r[0] in inside)
        seconds = sum(float(r[3] or 0) for r in shipping_rows if r[0] in inside)
        periods[key] = PeriodFigures(
            key=key, date_from=starts[key].date(), date_to=today,
            channels=sorted(channels.values(), key=lambda c: (-c.orders, c.source)),
            shipped=shipped, shipped_with_payment=with_payment,
            average_ship_seconds=seconds / with_payment if with_payment else None,
            shortfall=(sum(shortfalls.get(k, (0, 0))[0] for k in inside),
                       sum(shortfalls.get(k, (0, 0))[1] for k in inside)),
        )

    statuses = status_defs()
    per_status = dict(db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    waiting = {group: 0 for group in WAITING_GROUPS}
    for code, count in per_status.items():
        status = statuses.get(code)
        if status and status.group in waiting:
            waiting[status.group] += count
    hours = ship_within_hours()
    late = db.session.scalar(select(func.count()).select_from(Order).where(*late_conditions(now, hours))) or 0
    return Dashboard(periods=periods, waiting=waiting, late=late, ship_within_hours=hours,
                     shortfall_tracked=True)


def sync_health(now: datetime | None = None) -> SyncHealth:
    """Failed, pending and stuck pushes in the outbox right now (read fresh: they change without orders)."""
    now = now or utcnow()
    counts = dict(db.session.execute(
        select(SyncOperation.state, func.count()).where(SyncOperation.state.in_(("failed", "pending")))
        .group_by(SyncOperation.state)).all())
    stuck = db.session.scalar(select(func.count()).select_from(SyncOperation).where(
        SyncOperation.state == "pending", SyncOperation.next_attempt_at < now - STUCK_AFTER)) or 0
    return SyncHealth(failed=counts.get("failed", 0), pending=counts.get("pending", 0), stuck=stuck)


def channel_name(source: str) -> str:
    """A channel's name for people."""
    return SOURCES.get(source, source)


__all__ = ["LATE_GROUP", "PERIODS", "REVENUE_GROUPS", "WAITING_GROUPS", "Dashboard", "figures", "sync_health",
           "channel_name"]
