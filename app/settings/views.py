"""Settings pages: order statuses and order numbering."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from app.core import params
from app.core.auth import require_role, role_required
from app.core.errors import NotFound, ValidationFailed
from app.core.htmx import render_fragment, render_page_or_fragment
from app.core.transactions import refusal_shown
from app.extensions import db, htmx
from app.settings import services
from app.settings.forms import NumberingForm, ShippingForm, StatusEditForm, StatusForm
from app.settings.models import OrderStatus
from app.settings.statuses import GROUPS

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _status_or_404(status_id: int) -> OrderStatus:
    status = db.session.get(OrderStatus, status_id) if params.is_id(status_id) else None
    if status is None:
        raise NotFound(_l("No such status."))
    return status


@bp.route("/statuses", methods=["GET", "POST"])
def statuses():
    """List statuses and add one."""
    form = StatusForm()
    if form.validate_on_submit():
        require_role("admin")
        with refusal_shown(form, "code"):
            status = services.add_status(form.code.data, form.name.data, form.colour.data, form.group.data,
                                         form.is_final.data)
            flash(_("Status “%(name)s” added.", name=status.name), "success")
            return redirect(url_for("settings.statuses"))
    return render_page_or_fragment("settings/statuses.html", "settings/_status_table.html",
                                   form=form, statuses=services.status_rows(), groups=GROUPS)


@bp.get("/statuses/<int:status_id>")
def status_row(status_id: int):
    """One status row, read-only (Cancel of an inline edit swaps this back)."""
    return render_fragment("settings/_status_row.html", status=_status_or_404(status_id), groups=GROUPS)


@bp.route("/statuses/<int:status_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_status(status_id: int):
    """Inline edit of one status row; errors stay on the row and nothing is saved."""
    status = _status_or_404(status_id)
    form = StatusEditForm(obj=status)
    if form.validate_on_submit():
        with refusal_shown(form, "name"):
            status = services.update_status(status_id, form.name.data, form.colour.data, form.group.data,
                                            form.is_final.data)
            if htmx:
                return render_fragment("settings/_status_row.html", status=status, groups=GROUPS)
            return redirect(url_for("settings.statuses"))
    status_code = 422 if form.errors else 200
    if htmx:
        return render_fragment("settings/_status_edit_row.html", status_code, status=status, form=form)
    return render_template("settings/status_edit.html", status=status, form=form), status_code


@bp.post("/statuses/<int:status_id>/move/<direction>")
@role_required("admin")
def move_status(status_id: int, direction: str):
    """Move a status up or down; the table swaps itself."""
    if direction not in ("up", "down"):
        raise NotFound(_l("Statuses move up or down."))
    services.move_status(status_id, direction)
    if htmx:
        return render_fragment("settings/_status_table.html", statuses=services.status_rows(), groups=GROUPS)
    return redirect(url_for("settings.statuses"))


@bp.route("/numbering", methods=["GET", "POST"])
def numbering():
    """Show and change how new orders are numbered."""
    scheme = services.numbering_scheme()
    form = NumberingForm(obj=scheme)
    if form.validate_on_submit():
        require_role("admin")
        with refusal_shown(form, "prefix"):
            services.update_numbering(form.prefix.data or "", form.suffix.data or "", form.padding.data,
                                      form.reset.data)
            flash(_("Numbering saved. The next order will be %(number)s.", number=services.preview_number(scheme)), "success")
            return redirect(url_for("settings.numbering"))
    return render_template("settings/numbering.html", form=form, scheme=scheme,
                           preview=services.preview_number(scheme))


@bp.route("/shipping", methods=["GET", "POST"])
def shipping():
    """Show and change the time to ship after which an order counts as late."""
    form = ShippingForm(obj=services.preferences())
    if form.validate_on_submit():
        require_role("admin")
        try:
            services.update_ship_within(form.ship_within_hours.data)
            flash(_("Time to ship saved."), "success")
            return redirect(url_for("settings.shipping"))
        except ValidationFailed as error:
            db.session.rollback()
            form.ship_within_hours.errors.append(error.message)
    return render_template("settings/shipping.html", form=form)
