"""Sync health: per integration and kind of work, the numbers, a verdict with its reasons, and who needs attention.

The verdict rules are pure functions (`verdict`, `attention`), testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l, ngettext
from sqlalchemy import select

from app.core.i18n import english
from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.monitoring import queues, work
from app.sync.operations import KindStats

HEALTHY, WARNING, CRITICAL = "healthy", "warning", "critical"
RANK = {HEALTHY: 0, WARNING: 1, CRITICAL: 2}
TOKEN_WARNING = timedelta(days=7)
# Which recurring job (app/jobs/schedule.py) moves each kind of work on, for "next scheduled run".
RECURRING_FOR_KIND = {work.FEED_IMPORT: "import_supplier_feeds", work.AVAILABILITY: "sync_availability",
                      work.ORDER_IMPORT: "poll_shop_orders", work.WEBHOOK: "sweep_inbound"}
OUTBOX_SWEEPER = "sweep_outbox"


@dataclass(frozen=True)
class Thresholds:
    """Where a number turns a verdict (the alert rules share the pending and failure-rate ones)."""

    pending_warning: int = 1000
    failure_rate_warning: float = 0.20
    failure_rate_critical: float = 0.50
    oldest_pending_warning: timedelta = timedelta(hours=1)
    min_finished_for_rate: int = 3


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return ngettext("%(num)d day", "%(num)d days", minutes // 1440)


def verdict(stat: KindStats, now: datetime, limits: Thresholds = Thresholds()) -> tuple[str, list]:
    """healthy / warning / critical for one kind of work, with the reasons in words."""
    level, reasons = HEALTHY, []

    def worse(new: str, reason: str) -> None:
        nonlocal level
        level = new if RANK[new] > RANK[level] else level
        reasons.append(reason)

    if stat.stale:
        worse(CRITICAL, _l("%(count)s waiting for more than 6 hours", count=stat.stale))
    rate = stat.failure_rate
    if rate is not None and stat.finished_recently >= limits.min_finished_for_rate:
        if rate > limits.failure_rate_critical:
            worse(CRITICAL, _l("%(rate)s of the last 30 minutes' work failed", rate=format(rate, ".0%")))
        elif rate > limits.failure_rate_warning:
            worse(WARNING, _l("%(rate)s of the last 30 minutes' work failed", rate=format(rate, ".0%")))
    if stat.failed:
        worse(WARNING, _l("%(count)s failed and need a retry or a cancel", count=stat.failed) if stat.failed != 1
              else _l("1 failed and needs a retry or a cancel"))
    if stat.pending > limits.pending_warning:
        worse(WARNING, _l("%(count)s waiting (more than %(limit)s)", count=stat.pending, limit=limits.pending_warning))
    if not stat.stale and stat.oldest_pending_at and now - stat.oldest_pending_at > limits.oldest_pending_warning:
        worse(WARNING, _l("the oldest waiting one has waited %(time)s", time=_ago(now - stat.oldest_pending_at)))
    if not reasons:
        reasons.append(_l("everything flows"))
    return level, reasons


def attention(integration: Integration, now: datetime) -> list[str]:
    """Why an integration needs the seller (reconnect, token expiring, switched off after errors), in words."""
    reasons = []
    if integration.connection_state == "reconnect_needed":
        reasons.append(_l("Kontor lost access to the account: connect it again (%(why)s)",
                          why=integration.connection_message) if integration.connection_message
                       else _l("Kontor lost access to the account: connect it again"))
    expires = integration.token_expires_at
    if expires is not None and integration.connection_state != "reconnect_needed":
        if expires <= now:
            reasons.append(_l("its access token has expired: connect it again"))
        elif expires - now <= TOKEN_WARNING:
            reasons.append(_l("its access token expires in %(time)s: connect it again before then",
                              time=_ago(expires - now)))
    if not integration.enabled and integration.connection_state == "error":
        reasons.append(_l("it is switched off after errors: %(why)s", why=integration.connection_message)
                       if integration.connection_message else _l("it is switched off after errors"))
    return reasons


@dataclass
class Row:
    """One line of the health page."""

    integration: Integration | None
    stat: KindStats
    level: str
    reasons: list[str]
    next_run_at: datetime | None

    @property
    def kind_name(self) -> str:
        return work.kind_name(self.stat.kind)


@dataclass
class Snapshot:
    rows: list[Row]
    attention: list[tuple[Integration, list[str]]]
    at: datetime
    level: str = HEALTHY


def snapshot(now: datetime | None = None, limits: Thresholds = Thresholds()) -> Snapshot:
    """Everything the health page and /api/v1/health/sync show, worst first."""
    now = now or utcnow()
    integrations = {i.id: i for i in db.session.scalars(select(Integration).order_by(Integration.name))}
    next_runs = queues.next_runs()
    rows = []
    for stat in work.all_stats(now):
        level, reasons = verdict(stat, now, limits)
        scheduled = next_runs.get(RECURRING_FOR_KIND.get(stat.kind, OUTBOX_SWEEPER))
        next_run = scheduled
        if stat.kind not in RECURRING_FOR_KIND and stat.next_attempt_at is not None:
            # A retry waiting for its time; one already due goes with the sweeper's next run (or is overdue).
            next_run = stat.next_attempt_at if stat.next_attempt_at > now else (scheduled or stat.next_attempt_at)
        rows.append(Row(integrations.get(stat.integration_id), stat, level, reasons, next_run))
    rows.sort(key=lambda r: (-RANK[r.level], r.integration.name if r.integration else "", r.kind_name))
    needing = [(i, why) for i in integrations.values() if (why := attention(i, now))]
    level = max([r.level for r in rows] + ([WARNING] if needing else []) + [HEALTHY], key=RANK.get)
    return Snapshot(rows, needing, now, level)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_json(snap: Snapshot) -> dict[str, Any]:
    """The snapshot for GET /api/v1/health/sync."""
    return {
        "status": snap.level, "at": snap.at.isoformat(),
        "attention": [{"integration_id": i.id, "name": i.name, "reasons": [english(r) for r in why]}
                      for i, why in snap.attention],
        "work": [{
            "integration_id": r.stat.integration_id, "integration": r.integration.name if r.integration else None,
            "kind": r.stat.kind, "kind_name": english(r.kind_name), "verdict": r.level,
            "reasons": [english(r) for r in r.reasons],
            "pending": r.stat.pending, "processing": r.stat.processing, "failed": r.stat.failed,
            "done_today": r.stat.done_today, "stale": r.stat.stale,
            "oldest_pending_age_seconds": int((snap.at - r.stat.oldest_pending_at).total_seconds())
            if r.stat.oldest_pending_at else None,
            "failure_rate_30min": round(r.stat.failure_rate, 4) if r.stat.failure_rate is not None else None,
            "last_success_at": _iso(r.stat.last_success_at), "next_run_at": _iso(r.next_run_at),
        } for r in snap.rows],
    }
