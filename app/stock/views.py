"""Availability settings of a PrestaShop shop, a dry run that shows the diff, and a sync now."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from app.core.auth import require_role, role_required
from app.core.htmx import render_fragment
from app.core.transactions import refusal_shown
from app.extensions import db, htmx
from app.integrations.base import PlatformError
from app.integrations.services import get_integration, inspect_database
from app.stock import services, shop_settings
from app.stock.forms import AvailabilityForm

bp = Blueprint("stock", __name__, url_prefix="/integrations")


@bp.route("/<int:integration_id>/availability", methods=["GET", "POST"])
def settings(integration_id: int):
    """Database, shops, languages, threshold and texts for the availability sync."""
    integration = get_integration(integration_id)
    form = AvailabilityForm(data=shop_settings.form_values(integration)) if request.method == "GET" \
        else AvailabilityForm()
    if request.method == "POST":
        require_role("admin")
        if form.validate_on_submit():
            with refusal_shown(form, "texts"):
                shop_settings.save_settings(integration, form.data)
                flash(_("Availability settings saved."), "success")
                return redirect(url_for("stock.settings", integration_id=integration_id))
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
        flash(error or f"{result.products_summary()}; {result.rows_summary()}.", "error" if error else "success")
        return redirect(url_for("stock.settings", integration_id=integration_id))
    return render_fragment("stock/_result.html", 422 if error else 200, result=result, error=error)


@bp.get("/<int:integration_id>/availability/runs/<int:run_id>/missing.csv")
def missing_rows(integration_id: int, run_id: int):
    """Every shop row an availability run could not find, as CSV."""
    run = services.availability_run(integration_id, run_id)
    return Response(stream_with_context(services.missing_rows_csv(run)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=availability-run-{run_id}-missing.csv"})


@bp.post("/<int:integration_id>/availability/database")
@role_required("admin")
def test_database(integration_id: int):
    """Check the typed (or stored) DSN and prefix; offer the shop's shops and languages to tick."""
    integration = get_integration(integration_id)
    chosen_shops = _chosen(request.form.getlist("shop_ids"))
    chosen_languages = _chosen(request.form.getlist("language_ids"))
    try:
        found = inspect_database(integration, request.form.get("dsn", ""), request.form.get("prefix", ""))
        error = None
    except PlatformError as failure:
        found, error = None, failure.message
    return render_fragment("stock/_database.html", 422 if error else 200, integration=integration, found=found,
                           error=error, chosen_shops=chosen_shops, chosen_languages=chosen_languages,
                           shop_ids=", ".join(request.form.getlist("shop_ids")),
                           language_ids=", ".join(request.form.getlist("language_ids")))


def _chosen(values: list[str]) -> set[int]:
    return {int(part) for value in values for part in value.split(",") if part.strip().isdigit()}
