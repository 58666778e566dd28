"""Alert rules, incidents and sending: one alert when a condition starts, one when it clears.

The check (every 5 minutes) compares the conditions that hold now with the open incidents. Each
alert to each channel is an outbox operation of kind "alert", so a channel that is down delays
its alerts (retried with backoff) but loses none and blocks nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask_babel import force_locale, lazy_gettext as _l
from sqlalchemy import select

from app.core import params
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import DEFAULT_LOCALE, LOCALES, english, keep_text, message_data, render_message
from app.core.types import utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.monitoring import alert_channels, health, queues, work
from app.monitoring.channels import ChannelError
from app.monitoring.models import AlertChannel, AlertIncident, AlertRule
from app.sync import claims, outbox

ALERT = "alert"


@dataclass(frozen=True)
class Context:
    """What the rules look at, gathered once per check."""

    now: datetime
    snapshot: health.Snapshot
    queues: list[queues.QueueState]
    heartbeat_age: timedelta | None


Condition = tuple[str, Any]  # (subject, message: a lazy message, said in each channel's language)


@dataclass(frozen=True)
class Rule:
    key: str
    name: str
    default: float
    unit: str
    holds: Callable[[Context, float], list[Condition]]


def _where(row: health.Row):
    return _l("%(kind)s of %(name)s", kind=row.kind_name, name=row.integration.name if row.integration else "Kontor")


def _subject(row: health.Row) -> str:
    return f"work:{row.stat.integration_id or 0}:{row.stat.kind}"


def _many_pending(ctx: Context, limit: float) -> list[Condition]:
    return [(_subject(r), _l("%(where)s: %(count)s operations waiting (more than %(limit)s).", where=_where(r),
                             count=r.stat.pending, limit=format(limit, "g")))
            for r in ctx.snapshot.rows if r.stat.pending > limit]


def _failure_rate(ctx: Context, percent: float) -> list[Condition]:
    found = []
    for r in ctx.snapshot.rows:
        rate = r.stat.failure_rate
        if rate is not None and r.stat.finished_recently >= 3 and rate * 100 > percent:
            found.append((_subject(r), _l("%(where)s: %(rate)s of %(count)s failed in the last 30 minutes (more than "
                                          "%(limit)s %%).", where=_where(r), rate=format(rate, ".0%"),
                                          count=r.stat.finished_recently, limit=format(percent, "g"))))
    return found


def _stale(ctx: Context, hours: float) -> list[Condition]:
    return [(_subject(r), _l("%(where)s: the oldest waiting operation has waited more than %(hours)s hours.",
                             where=_where(r), hours=format(hours, "g")))
            for r in ctx.snapshot.rows
            if r.stat.oldest_pending_at and ctx.now - r.stat.oldest_pending_at > timedelta(hours=hours)]


def _no_worker(ctx: Context, minutes: float) -> list[Condition]:
    found = [(f"queue:{q.name}", _l("No worker serves the “%(queue)s” queue; %(count)s job(s) wait.", queue=q.name,
                                    count=q.length)) for q in ctx.queues if q.workers == 0]
    if ctx.heartbeat_age is None:
        found.append(("scheduler", _l("The scheduler's heartbeat never ran: recurring jobs (sweeps, imports, checks) "
                                      "are not running.")))
    elif ctx.heartbeat_age > timedelta(minutes=minutes):
        found.append(("scheduler", _l("The scheduler's heartbeat last ran %(minutes)s min ago: recurring jobs (sweeps, "
                                      "imports, checks) are not running.",
                                      minutes=int(ctx.heartbeat_age.total_seconds() // 60))))
    return found


def _integration_attention(ctx: Context, days: float) -> list[Condition]:
    found = []
    for integration in db.session.scalars(select(Integration)):
        reasons = [r for r in health.attention(integration, ctx.now)
                   if "expires in" not in english(r) or (integration.token_expires_at - ctx.now) <= timedelta(days=days)]
        if reasons:
            joined = reasons[0]
            for reason in reasons[1:]:  # joined as a message, so the channel's language says every part
                joined = _l("%(first)s; %(then)s", first=joined, then=reason)
            found.append((f"integration:{integration.id}", _l("%(name)s: %(reasons)s.", name=integration.name,
                                                              reasons=joined)))
    return found


def _feed_failed(ctx: Context, _threshold: float) -> list[Condition]:
    return [(f"feed:{r.stat.integration_id}",
             _l("The last import of the feed “%(name)s” failed.",
                name=r.integration.name if r.integration else r.stat.integration_id))
            for r in ctx.snapshot.rows if r.stat.kind == work.FEED_IMPORT and r.stat.failed]


RULES = (
    Rule("many_pending", _l("Many operations waiting"), 1000, _l("operations"), _many_pending),
    Rule("failure_rate", _l("High failure rate (30 minutes)"), 20, "%", _failure_rate),
    Rule("stale", _l("Operations waiting too long"), 6, _l("hours"), _stale),
    Rule("no_worker", _l("No worker on a queue, or scheduler stopped"), 3, _l("minutes without a heartbeat"),
         _no_worker),
    Rule("integration", _l("Integration needs reconnecting or its token expires soon"), 7, _l("days"),
         _integration_attention),
    Rule("feed_failed", _l("A feed import failed"), 0, "", _feed_failed),
)


def rule(key: str) -> Rule:
    for candidate in RULES:
        if candidate.key == key:
            return candidate
    raise NotFound(f"There is no alert rule “{key}”.")


def rule_settings() -> dict[str, tuple[bool, float]]:
    """Each rule's (enabled, threshold) as the seller set them, defaults otherwise."""
    stored = {r.key: r for r in db.session.scalars(select(AlertRule))}
    return {r.key: (stored[r.key].enabled, stored[r.key].threshold) if r.key in stored else (True, r.default)
            for r in RULES}


def save_rule(key: str, enabled: bool, threshold_raw: Any) -> AlertRule:
    """Switch a rule on or off and set its threshold (a positive number)."""
    spec = rule(key)
    threshold = rule_settings()[key][1]
    text = params.text_arg(threshold_raw, "threshold", max_length=20).replace(",", ".") if spec.unit else ""
    if text:
        try:
            threshold = float(text)
        except ValueError:
            raise ValidationFailed(_l("The threshold of “%(rule)s” must be a number.", rule=spec.name),
                                   field="threshold") from None
        if not 0 < threshold <= 1_000_000_000:
            raise ValidationFailed(_l("The threshold of “%(rule)s” must be above 0 and at most 1,000,000,000.",
                                      rule=spec.name),
                                   field="threshold")
    stored = db.session.get(AlertRule, key) or AlertRule(key=key)
    stored.enabled, stored.threshold = enabled, threshold
    db.session.add(stored)
    db.session.commit()
    return stored


# --- the check --------------------------------------------------------------------------------


def context(now: datetime | None = None) -> Context:
    """Gather what the rules need (one health snapshot, the queues, the heartbeat)."""
    now = now or utcnow()
    return Context(now, health.snapshot(now), queues.queue_states(), queues.heartbeat_age(now))


def conditions(ctx: Context) -> dict[tuple[str, str], Any]:
    """(rule, subject) -> message of every condition that holds now under the enabled rules."""
    found = {}
    for spec in RULES:
        enabled, threshold = rule_settings()[spec.key]
        if enabled:
            for subject, message in spec.holds(ctx, threshold):
                found[(spec.key, subject)] = message
    return found


def open_incidents() -> list[AlertIncident]:
    return list(db.session.scalars(select(AlertIncident).where(AlertIncident.cleared_at.is_(None))
                                   .order_by(AlertIncident.started_at)))


def check(now: datetime | None = None) -> dict[str, int]:
    """Open an incident (and alert) for each new condition, clear (and tell) each that ended."""
    ctx = context(now)
    holding = conditions(ctx)
    opened = cleared = 0
    still_open = {(i.rule, i.subject): i for i in open_incidents()}
    for key, message in holding.items():
        if key in still_open:
            continue
        incident = AlertIncident(rule=key[0], subject=key[1], message=english(message),
                                 message_data=message_data(message), started_at=ctx.now)
        db.session.add(incident)
        db.session.flush()
        _send_to_all(incident, "start")
        opened += 1
    for key, incident in still_open.items():
        if key not in holding:
            incident.cleared_at = ctx.now
            _send_to_all(incident, "clear")
            cleared += 1
    db.session.commit()
    return {"opened": opened, "cleared": cleared, "open": len(holding)}


FRAMES = {"start": _l("⚠ Kontor: %(message)s"), "clear": _l("✔ Kontor, resolved: %(message)s")}


def alert_text(event: str, message_stored: dict | None, message: str, locale: str = DEFAULT_LOCALE) -> str:
    """An alert's text in a channel's language: the frame of the event around the incident's message."""
    with force_locale(locale if locale in LOCALES else DEFAULT_LOCALE):
        said = render_message(message_stored, message) if message_stored else message
        frame = FRAMES.get(event)
        return str(frame).replace("%(message)s", said) if frame is not None else said


def _send_to_all(incident: AlertIncident, event: str) -> None:
    for channel in db.session.scalars(select(AlertChannel).where(AlertChannel.enabled.is_(True))):
        outbox.record(ALERT, None, {"channel_id": channel.id, "incident_id": incident.id, "event": event,
                                    "title": f"{event}: {incident.rule}",
                                    "text": alert_text(event, None, incident.message),
                                    "message": incident.message_data, "original": incident.message}, collapse=False)


def history(limit: int = 200) -> list[AlertIncident]:
    """Incidents, newest first."""
    return list(db.session.scalars(select(AlertIncident).order_by(AlertIncident.started_at.desc(),
                                                                  AlertIncident.id.desc()).limit(limit)))


# --- delivering -------------------------------------------------------------------------------------


@outbox.delivers(ALERT)
def deliver_alert(operation_id: int) -> str:
    """Send one alert to one channel; a channel that is down gets it later (outbox backoff)."""
    operation = claims.claim(operation_id)
    if operation is None:
        return "not due or taken by another worker"
    channel = db.session.get(AlertChannel, operation.payload.get("channel_id"))
    if channel is None or not channel.enabled:
        outbox.finish(operation, "skipped", _l("The channel was removed or switched off."))
        db.session.commit()
        return "skipped"
    data = {"event": operation.payload.get("event"), "incident_id": operation.payload.get("incident_id")}
    try:
        payload = operation.payload
        text = (alert_text(payload.get("event", ""), payload.get("message"), payload.get("original", ""),
                           channel.settings.get("locale", DEFAULT_LOCALE)) if "original" in payload
                else payload.get("text", ""))
        result = alert_channels.send(channel, text, data)
    except ChannelError as error:
        channel.last_error, channel.message_data = keep_text(channel.message_data, "last_error", error.message)
        if error.retryable:
            outbox.retry_later(operation, error.message)
        else:
            outbox.fail(operation, error.message)
        db.session.commit()
        return f"not sent: {error.message}"
    channel.last_sent_at, channel.last_error = utcnow(), ""
    outbox.finish(operation, "done", result)
    db.session.commit()
    return result
