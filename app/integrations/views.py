"""Integration pages: list, add/edit, connection, direction, platform states, mappings, runs, failed pushes."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_babel import gettext as _

from app.core.auth import has_role, require_role, role_required
from app.core.errors import ValidationFailed
from app.core.htmx import render_fragment, trigger
from app.core.transactions import refusal_shown
from app.extensions import htmx
from app.integrations import progress, services, state_mappings
from app.integrations.base import PlatformError
from app.integrations.forms import FORMS, DirectionForm, MappingForm
from app.integrations.models import DIRECTIONS, KINDS, MAPPING_DIRECTIONS, Integration
from app.settings.services import status_defs

bp = Blueprint("integrations", __name__, url_prefix="/integrations")


@bp.app_context_processor
def _reconnect_needed() -> dict:
    """Integrations whose grant is gone, for the header every admin sees on every page."""
    if not (current_user.is_authenticated and has_role(current_user, "admin")):
        return {"reconnect_needed": []}
    return {"reconnect_needed": services.needing_reconnect()}


def _mapping_form(integration: Integration, formdata=None, obj=None) -> MappingForm:
    form = MappingForm(formdata=formdata, obj=obj) if formdata is not None else MappingForm(formdata=None, obj=obj)
    form.local_status.choices = [(s.code, _(s.name)) for s in status_defs().values()]
    form.platform_state_id.choices = [
        (s.id, f"{_(s.name)} ({s.external_id})" + (f" · {_('read-only')}" if s.read_only else ""))
        for s in integration.states if s.active]
    return form


def _mappings_fragment(integration: Integration, form: MappingForm | None = None, error: str | None = None,
                       status_code: int = 200):
    return render_fragment("integrations/_mappings.html", status_code, integration=integration,
                           form=form or _mapping_form(integration), error=error, statuses=status_defs(),
                           directions=MAPPING_DIRECTIONS)


@bp.get("")
def index():
    """All integrations with their connection and sync state."""
    return render_template("integrations/index.html", integrations=services.list_integrations(), kinds=KINDS,
                           directions=DIRECTIONS)


@bp.route("/new/<kind>", methods=["GET", "POST"])
@role_required("admin")
def create(kind: str):
    """Add a PrestaShop or Allegro integration."""
    if kind not in FORMS:
        return redirect(url_for("integrations.index"))
    form = FORMS[kind]()
    if form.validate_on_submit():
        with refusal_shown(form, "name"):
            integration = services.save_integration(None, kind=kind, name=form.name.data, settings=form.settings(),
                                                    secrets=form.secrets())
            flash(_("%(name)s added. Test the connection and sync its states next.", name=integration.name), "success")
            return redirect(url_for("integrations.detail", integration_id=integration.id))
    return render_template("integrations/form.html", form=form, kind=kind, kinds=KINDS, integration=None,
                           masked={}), 422 if form.errors else 200


@bp.route("/<int:integration_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit(integration_id: int):
    """Change an integration's settings; secrets are replaced only when typed in."""
    integration = services.get_integration(integration_id)
    form_class = FORMS[integration.kind]
    form = form_class(data={"name": integration.name, **integration.settings}) if request.method == "GET" \
        else form_class()
    if form.validate_on_submit():
        with refusal_shown(form, "name"):
            services.save_integration(integration, kind=integration.kind, name=form.name.data,
                                      settings=form.settings(), secrets=form.secrets())
            flash(_("Settings saved."), "success")
            return redirect(url_for("integrations.detail", integration_id=integration.id))
    return render_template("integrations/form.html", form=form, kind=integration.kind, kinds=KINDS,
                           integration=integration, masked=services.masked_secrets(integration)), \
        422 if form.errors else 200


@bp.get("/<int:integration_id>")
def detail(integration_id: int):
    """Everything about one integration on one page (failed pushes load from the sync area)."""
    integration = services.get_integration(integration_id)
    runs = progress.recent_runs(integration.id)
    return render_template(
        "integrations/detail.html", integration=integration, kinds=KINDS, directions=DIRECTIONS,
        direction_form=DirectionForm(formdata=None, obj=integration), masked=services.masked_secrets(integration),
        form=_mapping_form(integration), error=None, statuses=status_defs(), mapping_directions=MAPPING_DIRECTIONS,
        runs=runs, run_summaries=progress.run_summaries(runs), cursors=progress.cursors(integration.id),
    )


@bp.post("/<int:integration_id>/test")
@role_required("operator")
def test_connection(integration_id: int):
    """Try the connection now and show the result in words."""
    integration = services.test_connection(integration_id)
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=integration_id))
    return render_fragment("integrations/_connection.html", integration=integration)


@bp.post("/<int:integration_id>/enabled")
@role_required("admin")
def toggle_enabled(integration_id: int):
    """Switch the integration on or off."""
    integration = services.set_enabled(integration_id, request.form.get("enabled") == "1")
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=integration_id))
    return render_fragment("integrations/_sync_direction.html", integration=integration, directions=DIRECTIONS,
                           direction_form=DirectionForm(formdata=None, obj=integration))


@bp.post("/<int:integration_id>/direction")
@role_required("admin")
def set_direction(integration_id: int):
    """Save the sync direction (a toggle on the page)."""
    form = DirectionForm()
    error = None
    if form.validate_on_submit():
        integration = services.set_direction(integration_id, form.sync_direction.data)
    else:
        integration = services.get_integration(integration_id)
        error = "Choose one of the directions."
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=integration_id))
    return render_fragment("integrations/_sync_direction.html", 422 if error else 200, integration=integration,
                           directions=DIRECTIONS, direction_form=DirectionForm(formdata=None, obj=integration),
                           saved=error is None, error=error)


@bp.post("/<int:integration_id>/states/sync")
@role_required("operator")
def sync_states(integration_id: int):
    """Fetch the platform's order states now."""
    error = None
    try:
        counts = state_mappings.sync_states(integration_id)
        message = f"{counts['states']} states: {counts['added']} new, {counts['updated']} changed, " \
                  f"{counts['deactivated']} no longer offered."
    except PlatformError as failure:
        message, error = None, failure.message
    integration = services.get_integration(integration_id)
    if not htmx:
        flash(error or message, "error" if error else "success")
        return redirect(url_for("integrations.detail", integration_id=integration_id))
    response = render_fragment("integrations/_states.html", integration=integration, message=message, error=error)
    return trigger(response, "states-changed")


@bp.get("/<int:integration_id>/mappings")
def mappings(integration_id: int):
    """The mapping editor (fragment; refreshed when the states change)."""
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=integration_id, _anchor="status-mappings"))
    return _mappings_fragment(services.get_integration(integration_id))


@bp.post("/<int:integration_id>/mappings")
@role_required("admin")
def add_mapping(integration_id: int):
    """Add a mapping row; a mistake is shown on the new row and nothing is saved."""
    integration = services.get_integration(integration_id)
    form = _mapping_form(integration, formdata=request.form)
    if not form.validate_on_submit():
        return _mappings_fragment(integration, form, "Choose a Kontor status, a platform state and a direction.", 422)
    with refusal_shown() as refusal:
        state_mappings.add_mapping(integration_id, form.local_status.data, form.platform_state_id.data,
                             form.direction.data, {code: status.name for code, status in status_defs().items()})
    if refusal:
        return _mappings_fragment(services.get_integration(integration_id), form, refusal.message, 422)
    return _mappings_fragment(services.get_integration(integration_id))


@bp.route("/<int:integration_id>/mappings/<int:mapping_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_mapping(integration_id: int, mapping_id: int):
    """Inline edit of one mapping row (GET shows the editable row, POST saves it)."""
    mapping = state_mappings.get_mapping(integration_id, mapping_id)
    integration = mapping.integration
    if request.method == "GET":
        form = _mapping_form(integration, obj=mapping)
        return render_fragment("integrations/_mapping_edit_row.html", integration=integration, mapping=mapping,
                               form=form, error=None)
    form = _mapping_form(integration, formdata=request.form)
    error = None
    if form.validate_on_submit():
        with refusal_shown() as refusal:
            state_mappings.update_mapping(integration_id, mapping_id, form.local_status.data, form.platform_state_id.data,
                                    form.direction.data, {code: status.name for code, status in status_defs().items()})
            return _mappings_fragment(services.get_integration(integration_id))
        error = refusal.message
    else:
        error = "Choose a Kontor status, a platform state and a direction."
    return render_fragment("integrations/_mapping_edit_row.html", 422, integration=integration,
                           mapping=state_mappings.get_mapping(integration_id, mapping_id), form=form, error=error)


@bp.post("/<int:integration_id>/mappings/<int:mapping_id>/delete")
@role_required("admin")
def delete_mapping(integration_id: int, mapping_id: int):
    """Remove a mapping row."""
    state_mappings.delete_mapping(integration_id, mapping_id)
    return _mappings_fragment(services.get_integration(integration_id))


@bp.post("/<int:integration_id>/mappings/<int:mapping_id>/move/<direction>")
@role_required("admin")
def move_mapping(integration_id: int, mapping_id: int, direction: str):
    """Move a mapping row up or down."""
    state_mappings.move_mapping(integration_id, mapping_id, "up" if direction == "up" else "down")
    return _mappings_fragment(services.get_integration(integration_id))


@bp.route("/<int:integration_id>/allegro/connect", methods=["GET", "POST"])
def allegro_connect(integration_id: int):
    """Start the device flow (POST) or poll it (GET, every few seconds from the page)."""
    error, outcome = None, None
    if request.method == "POST":
        require_role("admin")
        try:
            services.start_allegro_connection(integration_id)
        except (PlatformError, ValidationFailed) as failure:
            error = failure.message
    else:
        try:
            outcome = services.poll_allegro_connection(integration_id)
        except PlatformError as failure:
            error = failure.message
    integration = services.get_integration(integration_id)
    if not htmx:
        return redirect(url_for("integrations.detail", integration_id=integration_id))
    response = render_fragment("integrations/_allegro_connect.html", integration=integration, error=error)
    if outcome == "connected":
        trigger(response, "connection-changed")
    return response
