"""Sync health page with the lists behind its numbers, alert settings and history, and /metrics."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext, lazy_gettext as _l, ngettext
from flask_login import current_user

from app.accounts.services import user_for_token
from app.core import params
from app.core.auth import role_required
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.htmx import render_page_or_fragment, trigger
from app.core.i18n import LOCALES
from app.extensions import db, htmx
from app.integrations.models import Integration
from app.monitoring import alert_channels, alerts, health, metrics, work
from app.monitoring.models import CHANNEL_KINDS
from app.orders.services import Actor
from app.sync.operations import BUCKETS

bp = Blueprint("monitoring", __name__)

BUCKET_NAMES = {"pending": _l("Waiting"), "processing": _l("Being processed"), "failed": _l("Failed"),
                "done_today": _l("Done today"), "stale": _l("Waiting over 6 hours")}


@bp.get("/health")
def health_page():
    """Per integration and kind of work: the numbers, a verdict and its reasons; who needs attention first."""
    return render_page_or_fragment("monitoring/health.html", "monitoring/_health.html",
                                   snap=health.snapshot(), buckets=BUCKET_NAMES)


def _integration_arg() -> int | None:
    """The integration of a list (0 or missing: Kontor's own work, like alerts)."""
    value = params.int_arg(request.values.get("integration"), "integration", default=0, minimum=0)
    return value or None


def _list_args(kind: str | None = None) -> tuple[int | None, str, str]:
    kind = kind or params.text_arg(request.values.get("kind"), "kind", max_length=40)
    bucket = params.text_arg(request.values.get("bucket"), "bucket", max_length=20) or "failed"
    if not kind:
        raise ValidationFailed(_l("Say which kind of work to list (?kind=status_push)."))
    if bucket not in BUCKETS:
        raise ValidationFailed(_l("There is no list called “%(bucket)s”; choose one of %(buckets)s.", bucket=bucket,
                                   buckets=", ".join(BUCKETS)))
    return _integration_arg(), kind, bucket


def _render_list(integration_id: int | None, kind: str, bucket: str, status_code: int = 200, message: str = ""):
    integration = db.session.get(Integration, integration_id) if integration_id else None
    return render_page_or_fragment("monitoring/items.html", "monitoring/_items.html", status_code=status_code,
                                   items=work.items(integration_id, kind, bucket), integration=integration,
                                   integration_id=integration_id or 0, kind=kind, kind_name=work.kind_name(kind),
                                   bucket=bucket, bucket_name=BUCKET_NAMES[bucket], buckets=BUCKET_NAMES, message=message,
                                   refused=status_code >= 400)


@bp.get("/health/items")
def items():
    """The work behind one number of the health page, with retry and cancel."""
    return _render_list(*_list_args())


def _actor() -> Actor:
    return Actor.user(current_user)


@bp.post("/health/items/<kind>/<int:item_id>/<action>")
@role_required("operator")
def act_on_item(kind: str, item_id: int, action: str):
    """Retry or cancel one item; a refusal answers 409 with the reason in words."""
    if action not in ("retry", "cancel"):
        raise NotFound(_l("There is no such action."))
    integration_id, kind, bucket = _list_args(params.text_arg(kind, "kind", max_length=40))
    try:
        (work.retry if action == "retry" else work.cancel)(kind, item_id, _actor())
    except (Conflict, NotFound) as error:
        db.session.rollback()
        if not htmx:
            raise
        return _render_list(integration_id, kind, bucket, error.http_status, error.message)
    done = gettext("Sent again.") if action == "retry" else gettext("Cancelled.")
    if not htmx:
        flash(done, "success")
        return redirect(url_for("monitoring.items", integration=integration_id or 0, kind=kind, bucket=bucket))
    return trigger(_render_list(integration_id, kind, bucket, message=done), "health-changed")


@bp.post("/health/all/<action>")
@role_required("operator")
def act_on_all(action: str):
    """Retry or cancel everything behind one number."""
    if action not in ("retry", "cancel"):
        raise NotFound(_l("There is no such action."))
    integration_id, kind, bucket = _list_args()
    outcome = work.act_on_all(action, integration_id, kind, bucket, _actor())
    if action == "retry":
        message = ngettext("%(num)d sent again.", "%(num)d sent again.", outcome["done"])
    else:
        message = ngettext("%(num)d cancelled.", "%(num)d cancelled.", outcome["done"])
    if outcome["refused"]:
        message += " " + ngettext("%(num)d had moved on and was left as it is.",
                                  "%(num)d had moved on and were left as they are.", outcome["refused"])
    if not htmx:
        flash(message, "success")
        return redirect(url_for("monitoring.items", integration=integration_id or 0, kind=kind, bucket=bucket))
    return trigger(_render_list(integration_id, kind, bucket, message=message), "health-changed")


# --- alerts -----------------------------------------------------------------------------------------


def _alerts_page(status_code: int = 200, errors: dict | None = None, form: dict | None = None):
    channels = alert_channels.list_channels()
    return render_page_or_fragment("monitoring/alerts.html", "monitoring/_alerts.html", status_code=status_code,
                                   channels=channels, masked={c.id: alert_channels.masked_secrets(c) for c in channels},
                                   kinds=CHANNEL_KINDS, rules=alerts.RULES, rule_settings=alerts.rule_settings(),
                                   errors=errors or {}, form=form or {}, locales=LOCALES)


@bp.get("/settings/alerts")
@role_required("admin")
def alert_settings():
    """Alert channels (Telegram, Slack, e-mail, signed webhook) and rule thresholds."""
    return _alerts_page()


@bp.post("/settings/alerts/channels")
@role_required("admin")
def add_channel():
    """Add an alert channel."""
    try:
        channel = alert_channels.save_channel(None, request.form)
    except ValidationFailed as error:
        db.session.rollback()
        return _alerts_page(422, {error.field or "name": error.message}, request.form)
    flash(gettext("Channel “%(name)s” added. Send a test to check it.", name=channel.name), "success")
    return redirect(url_for("monitoring.alert_settings"))


@bp.post("/settings/alerts/channels/<int:channel_id>/test")
@role_required("admin")
def test_channel(channel_id: int):
    """Send a test message to a channel now."""
    try:
        flash(alert_channels.send_test(channel_id), "success")
    except ValidationFailed as error:
        flash(error.message, "error")
    return redirect(url_for("monitoring.alert_settings"))


@bp.post("/settings/alerts/channels/<int:channel_id>/delete")
@role_required("admin")
def delete_channel(channel_id: int):
    """Remove a channel (alerts still waiting for it are skipped)."""
    alert_channels.delete_channel(channel_id)
    flash(gettext("Channel removed."), "success")
    return redirect(url_for("monitoring.alert_settings"))


@bp.post("/settings/alerts/rules/<key>")
@role_required("admin")
def save_rule(key: str):
    """Switch a rule on or off and set its threshold."""
    try:
        alerts.save_rule(key, bool(request.form.get("enabled")), request.form.get("threshold"))
        flash(gettext("Rule saved."), "success")
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("monitoring.alert_settings"))


@bp.get("/health/alerts")
def alert_history():
    """Every alert condition: when it started, when it cleared."""
    return render_page_or_fragment("monitoring/history.html", "monitoring/_history.html", incidents=alerts.history())


# --- /metrics -----------------------------------------------------------------------------------------


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text exposition; needs an API token (Authorization: Bearer …)."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip() or user_for_token(raw.strip()) is None:
        return Response("Send an API token as 'Authorization: Bearer <token>'.\n", status=401,
                        headers={"WWW-Authenticate": 'Bearer realm="kontor"'}, content_type="text/plain")
    return Response(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")
