"""Availability settings of a PrestaShop shop, a dry run that shows the diff, and a sync now."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.core.auth import require_role, role_required
from app.core.errors import ValidationFailed
from app.core.htmx import render_fragment
from app.extensions import db, htmx
from app.integrations.services import get_integration
from app.stock import services
from app.stock.forms import AvailabilityForm

bp = Blueprint("stock", __name__, url_prefix="/integrations")


def _ids(raw: str, field: str) -> list[int]:
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValidationFailed(_l("Give ids as numbers separated by commas, e.g. 1, 2."), field=field)
    return [int(p) for p in parts]


def _texts(raw: str) -> dict[str, dict[str, str]]:
    texts = {}
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4 or not parts[0].isdigit():
            raise ValidationFailed(_l("Line %(number)s of the texts should read: id | in stock | available later | "
                                      "unavailable.", number=number), field="texts")
        texts[parts[0]] = {"available_now": parts[1], "available_later": parts[2], "unavailable": parts[3]}
    return texts


def _checked_dsn(raw: str) -> str:
    # The message never repeats the DSN: it holds the database password.
    dsn = raw.strip()
    try:
        url = make_url(dsn)
    except ArgumentError:
        url = None
    if url is None or not url.drivername.startswith("mysql") or not url.host or not url.database:
        raise ValidationFailed(_l("The DSN must look like mysql://user:password@host:3306/database."), field="dsn")
    return dsn


def _form_data(integration) -> dict:
    database = services.database_settings(integration)
    availability = integration.settings.get("availability") or {}
    texts = availability.get("texts") or {}
    return {
        "enabled": availability.get("enabled", False), "prefix": database["prefix"],
        "shop_ids": ", ".join(map(str, database["shop_ids"])),
        "language_ids": ", ".join(map(str, database["language_ids"])),
        "threshold": availability.get("threshold", 20), "only_changed": database["only_changed"],
        "default_delivery_days": availability.get("default_delivery_days", 3),
        "texts": "\n".join(f"{lang} | {t['available_now']} | {t['available_later']} | {t['unavailable']}"
                           for lang, t in texts.items()),
    }


@bp.route("/<int:integration_id>/availability", methods=["GET", "POST"])
def settings(integration_id: int):
    """Database, shops, languages, threshold and texts for the availability sync."""
    integration = get_integration(integration_id)
    form = AvailabilityForm(data=_form_data(integration)) if request.method == "GET" else AvailabilityForm()
    if request.method == "POST":
        require_role("admin")
        if form.validate_on_submit():
            try:
                database = {"prefix": form.prefix.data.strip() or "ps_",
                            "shop_ids": _ids(form.shop_ids.data, "shop_ids"),
                            "language_ids": _ids(form.language_ids.data, "language_ids"),
                            "only_changed": bool(form.only_changed.data)}
                availability = {"enabled": bool(form.enabled.data), "threshold": form.threshold.data,
                                "default_delivery_days": form.default_delivery_days.data,
                                "texts": _texts(form.texts.data)}
                missing = [str(lang) for lang in database["language_ids"] if str(lang) not in availability["texts"]]
                if missing:
                    raise ValidationFailed(_l("Add the texts for language %(join)s.", join=', '.join(missing)), field="texts")
                integration.settings = {**integration.settings, "database": database, "availability": availability}
                if form.dsn.data:
                    integration.credentials = {**integration.credentials, "db_dsn": _checked_dsn(form.dsn.data)}
                db.session.commit()
                flash(_("Availability settings saved."), "success")
                return redirect(url_for("stock.settings", integration_id=integration_id))
            except ValidationFailed as error:
                db.session.rollback()
                getattr(form, error.field or "texts").errors.append(error.message)
    has_dsn = bool(integration.credentials.get("db_dsn")) if integration.credentials_encrypted else False
    return render_template("stock/settings.html", integration=integration, form=form, has_dsn=has_dsn), \
        422 if form.errors else 200


@bp.post("/<int:integration_id>/availability/run")
@role_required("operator")
def run(integration_id: int):
    """A dry run (shows the diff) or a real sync now."""
    dry_run = request.form.get("dry_run") == "1"
    try:
        result = services.sync_availability(integration_id, dry_run=dry_run,
                                            limit=request.form.get("limit", type=int))
        error = None
    except Exception as failure:  # a database that cannot be reached, a wrong DSN: say so on the page
        # The run log has it too (sync_availability records every failed run).
        db.session.rollback()
        result, error = None, services.failure_message(failure, get_integration(integration_id))
    if not htmx:
        flash(error or f"{result.changed} changed, {result.unchanged + result.skipped_unchanged} unchanged, "
                       f"{result.missing} missing.", "error" if error else "success")
        return redirect(url_for("stock.settings", integration_id=integration_id))
    return render_fragment("stock/_result.html", 422 if error else 200, result=result, error=error)
