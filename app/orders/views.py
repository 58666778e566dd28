"""Order pages: the list, the detail with its timeline, status changes, notes, create and edit."""

from __future__ import annotations

from flask import (Blueprint, flash, get_template_attribute, make_response, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from app.core import cache, params
from app.core.auth import has_role, require_role
from app.core.errors import BadParameter, Conflict, KontorError, NotFound, TransitionRefused, ValidationFailed
from app.core.htmx import render_fragment, trigger
from app.core.i18n import current_locale
from app.extensions import htmx
from app.orders import links, listing, services, shipments, table_rows, workflow
from app.orders.forms import VAT_CHOICES, BulkStatusForm, NoteForm, OrderForm, ShipmentForm, StatusChangeForm
from app.orders.models import FULFILLMENT_STATUSES, PAYMENT_STATUSES, SOURCES
from app.settings.services import status_defs
from app.settings.statuses import GROUPS

bp = Blueprint("orders", __name__)


def _actor() -> services.Actor:
    return services.Actor.user(current_user, "manual")


def _status_choices() -> list[tuple[str, str]]:
    return [(s.code, _(s.name)) for s in status_defs().values()]


# Per language: (the statuses they were built from, the list's texts), rebuilt when status_defs() hands out a
# new version of the statuses.
_list_texts_built: dict[str, tuple] = {}


def _list_texts(statuses: dict) -> dict:
    """The order list's texts, once per statuses version and language: this is the busiest page there is.

    Each row (orders/table_rows.py) only looks its status and payment badges and its source's name up, and puts
    its number between the two halves of the checkbox label, instead of rendering a macro or translating.
    """
    locale = current_locale()
    built_for, texts = _list_texts_built.get(locale, (None, {}))
    if built_for is not statuses:
        status_badge = get_template_attribute("macros/ui.html", "status_badge")
        payment_badge = get_template_attribute("macros/ui.html", "payment_badge")
        select_before, _placeholder, select_after = _("Select %(number)s").partition("%(number)s")
        texts = {"status_badges": {code: status_badge(code, statuses) for code in statuses},
                 "payment_badges": {code: payment_badge(code, name) for code, name in PAYMENT_STATUSES.items()},
                 "payment_names": {code: str(name) for code, name in PAYMENT_STATUSES.items()},
                 "source_names": {code: escape(str(name)) for code, name in SOURCES.items()},
                 "status_choices": _status_choices(),
                 # Translations are markup (as _() in a template treats them); the number is escaped.
                 "select_before": Markup(select_before), "select_after": Markup(select_after)}
        _list_texts_built[locale] = (statuses, texts)
    return texts


@bp.get("/orders")
def index():
    """List orders with filters from the URL; HTMX gets just the table."""
    filters = listing.OrderFilters.from_args(request.args)
    list_url = url_for("orders.index")
    statuses = status_defs()
    can_edit = has_role(current_user, "operator")
    texts = _list_texts(statuses)

    def render_table() -> str:
        page = listing.list_table_rows(filters)
        rows = table_rows.render(page.items, texts, list_url, can_edit, current_locale(),
                                 lambda code: get_template_attribute("macros/ui.html", "status_badge")(code, statuses))
        return render_template("orders/_table.html", page=page, rows=rows, filters=filters, list_url=list_url)

    # The table is the same for everyone with the same filters and role until an order changes; the
    # warnings about unusable filters are part of it, so they are part of the key.
    table = Markup(cache.fragment(("orders-table", filters.url(list_url), can_edit, *filters.errors),
                                  ("orders", "statuses"), render_table))
    status = 400 if filters.errors else 200
    if htmx and not htmx.boosted:
        response = make_response(table, status)
        response.vary.add("HX-Request")
        return response
    # The bulk form is posted to bulk_status(), which builds and checks the BulkStatusForm; the page only
    # needs its choices and the CSRF token.
    response = make_response(render_template(
        "orders/index.html", table=table, filters=filters, groups=GROUPS, **texts), status)
    response.vary.add("HX-Request")
    return response


@bp.post("/orders/bulk-status")
def bulk_status():
    """Change the status of the selected orders, reporting each row's result."""
    require_role("operator")
    form = BulkStatusForm()
    form.status.choices = _status_choices()
    try:
        ids = params.id_list(request.form.getlist("ids"), "ids", what="order")
    except BadParameter as bad:
        return render_fragment("orders/_bulk_result.html", 400, outcomes=[], message=bad.message)
    if not form.validate_on_submit() or not ids:
        message = "Select at least one order." if not ids else "Choose the status to move the orders to."
        return render_fragment("orders/_bulk_result.html", 422, outcomes=[], message=message)
    outcomes = services.bulk_change_status(ids, form.status.data, _actor())
    if not htmx:
        changed = sum(o.changed for o in outcomes)
        flash(_("%(changed)s of %(len)s orders changed.", changed=changed, len=len(outcomes)), "success" if changed else "warning")
        return redirect(request.referrer or url_for("orders.index"))
    response = render_fragment("orders/_bulk_result.html", outcomes=outcomes, statuses=status_defs(),
                               target=status_defs()[form.status.data])
    return trigger(response, "orders-changed")


def _status_panel(order, form=None, error=None, status=200):
    statuses = status_defs()
    form = form or StatusChangeForm(formdata=None)
    allowed = {s.code for s in workflow.allowed_targets(order.status, statuses)}
    form.status.choices = [(s.code, _(s.name)) for s in statuses.values() if s.code != order.status]
    return render_fragment("orders/_status_panel.html", status, order=order, form=form, error=error,
                           statuses=statuses, allowed=allowed)


@bp.get("/orders/<int:order_id>")
def detail(order_id: int):
    """Everything about one order: customer, items, payments, shipments, notes and timeline."""
    order = services.get_order(order_id, full=True)
    statuses = status_defs()
    form = StatusChangeForm(formdata=None)
    form.status.choices = [(s.code, _(s.name)) for s in statuses.values() if s.code != order.status]
    allowed = {s.code for s in workflow.allowed_targets(order.status, statuses)}
    return render_template(
        "orders/detail.html", order=order, statuses=statuses, form=form, allowed=allowed, error=None,
        note_form=NoteForm(formdata=None), timeline=services.timeline(order), sources=SOURCES,
        shipment_form=ShipmentForm(formdata=None),
        payment_statuses=PAYMENT_STATUSES, fulfillment_statuses=FULFILLMENT_STATUSES,
    )


@bp.post("/orders/<int:order_id>/status")
def change_status(order_id: int):
    """Change the order's status; a refused change shows its reason and changes nothing."""
    require_role("operator")
    order = services.get_order(order_id)
    form = StatusChangeForm()
    form.status.choices = _status_choices()
    error = None
    if form.validate_on_submit():
        try:
            services.change_status(order_id, form.status.data, _actor(), form.comment.data or "")
            order = services.get_order(order_id)
            if not htmx:
                flash(_("Status changed to %(status_defs)s.", status_defs=_(status_defs()[order.status].name)), "success")
                return redirect(url_for("orders.detail", order_id=order_id))
            return trigger(_status_panel(order), "timeline-changed")
        except (TransitionRefused, Conflict) as refused:
            error = refused.message
    else:
        error = "; ".join(str(e) for errors in form.errors.values() for e in errors)
    order = services.get_order(order_id)
    if not htmx:
        flash(error, "error")
        return redirect(url_for("orders.detail", order_id=order_id))
    return _status_panel(order, form=form, error=error, status=409)


@bp.get("/orders/<int:order_id>/timeline")
def timeline(order_id: int):
    """The order's timeline (fragment for HTMX; the detail page otherwise)."""
    if not htmx:
        return redirect(url_for("orders.detail", order_id=order_id, _anchor="order-timeline"))
    order = services.get_order(order_id, full=True)
    return render_fragment("orders/_timeline.html", order=order, timeline=services.timeline(order),
                           note_form=NoteForm(formdata=None))


@bp.post("/orders/<int:order_id>/notes")
def add_note(order_id: int):
    """Add a note; the timeline swaps itself to show it."""
    require_role("operator")
    form = NoteForm()
    error = None
    if form.validate_on_submit():
        try:
            services.add_note(order_id, form.body.data, _actor())
            form = NoteForm(formdata=None)
        except ValidationFailed as invalid:
            error = invalid.message
    else:
        error = "; ".join(str(e) for errors in form.errors.values() for e in errors)
    if not htmx:
        flash(error or _("Note added."), "error" if error else "success")
        return redirect(url_for("orders.detail", order_id=order_id, _anchor="order-timeline"))
    order = services.get_order(order_id, full=True)
    return render_fragment("orders/_timeline.html", 422 if error else 200, order=order,
                           timeline=services.timeline(order), note_form=form, note_error=error)


@bp.post("/orders/<int:order_id>/shipments")
def add_shipment(order_id: int):
    """Add a parcel (carrier, tracking number); a platform order gets the number too, via the outbox."""
    require_role("operator")
    form = ShipmentForm()
    status = 200
    if form.validate_on_submit():
        try:
            shipment = shipments.add_shipment(order_id, form.to_input(), _actor())
            form = ShipmentForm(formdata=None)
            if not htmx:
                flash(_("Shipment %(tracking_number)s added.", tracking_number=shipment.tracking_number), "success")
                return redirect(url_for("orders.detail", order_id=order_id))
        except ValidationFailed as invalid:
            getattr(form, invalid.field or "tracking_number").errors.append(invalid.message)
            status = 422
    else:
        status = 422
    if not htmx:
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("orders.detail", order_id=order_id))
    response = render_fragment("orders/_shipments.html", status, order=services.get_order(order_id, full=True),
                               shipment_form=form)
    return trigger(response, "timeline-changed") if status == 200 else response


@bp.get("/orders/item-row")
def item_row():
    """One empty item row for the order form (added with HTMX)."""
    index = params.int_arg(request.args.get("index"), "index", default=0, minimum=0, maximum=1000,
                           label="row number")
    return render_fragment("orders/_item_row.html", row=None, index=index, vat_choices=VAT_CHOICES)


def _order_form(order=None) -> OrderForm:
    form = OrderForm(obj=order) if order is not None and request.method == "GET" else OrderForm()
    form.status.choices = _status_choices()
    form.integration_id.choices = [("", "— not linked —")] + [
        (str(i.id), f"{i.name} ({i.kind_name})") for i in links.sales_channels()]
    if order is not None and request.method == "GET":
        form.integration_id.data = str(order.integration_id or "")
        form.revision.data = str(order.revision)
        for kind in ("shipping", "billing"):
            address = order.address(kind)
            if address:
                getattr(form, kind).form.process(obj=address)
        while len(form.items):
            form.items.pop_entry()
        for item in order.items:
            form.items.append_entry(item)
            form.items[-1].form.vat_rate.data = str(int(item.vat_rate))
    return form


def _place_error(form: OrderForm, error: KontorError) -> str | None:
    """Show a service's refusal next to its field when the form has it; otherwise it goes above the form."""
    field = form._fields.get(error.field or "")
    if field is None or not isinstance(field.errors, list):
        return error.message
    field.errors.append(error.message)
    return None


@bp.route("/orders/new", methods=["GET", "POST"])
def create():
    """Create a manual order."""
    require_role("operator")
    form = _order_form()
    error = None
    if form.validate_on_submit():
        try:
            order = services.create_order(form.to_input(), _actor())
            flash(_("Order %(number)s created.", number=order.number), "success")
            return redirect(url_for("orders.detail", order_id=order.id))
        except KontorError as invalid:
            error = _place_error(form, invalid)
    status = 422 if request.method == "POST" else 200
    return render_template("orders/form.html", form=form, order=None, error=error, vat_choices=VAT_CHOICES), status


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
def edit(order_id: int):
    """Edit an order's customer, addresses, items and payment/fulfillment status."""
    require_role("operator")
    order = services.get_order(order_id, full=True)
    form = _order_form(order)
    del form.status  # status changes go through the workflow, not the edit form
    error = None
    if form.validate_on_submit():
        try:
            expected = int(form.revision.data) if (form.revision.data or "").isdigit() else None
            services.update_order(order_id, form.to_input(), _actor(), expected_revision=expected)
            flash(_("Order saved."), "success")
            return redirect(url_for("orders.detail", order_id=order_id))
        except (ValidationFailed, Conflict, NotFound) as invalid:
            error = _place_error(form, invalid)
    status = 422 if request.method == "POST" else 200
    return render_template("orders/form.html", form=form, order=order, error=error, vat_choices=VAT_CHOICES), status
