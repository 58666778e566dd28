"""Warehouse pages: stock, warehouses, receipts and corrections, shortages, documents and their print, Settings > Orders."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app.catalog.models import Product
from app.core import params
from app.core.auth import require_role, role_required
from app.core.errors import ValidationFailed
from app.core.htmx import render_fragment, render_page_or_fragment
from app.extensions import db
from app.orders.services import Actor, get_order
from app.stock import documents, printing, reservations, stock_sync, warehouses
from app.stock.models import REASONS
from app.stock.warehouse_forms import MovementForm, OrderSettingsForm, WarehouseForm

bp = Blueprint("warehouse", __name__)


def _actor() -> Actor:
    return Actor.user(current_user)


def _warehouse_choices() -> list[tuple[int, str]]:
    return [(w.id, f"{w.code} · {w.name}") for w in warehouses.warehouses()]


def _product_by_sku(sku: str) -> Product:
    ids = db.session.scalars(select(Product.id).where(Product.sku == sku.strip()).limit(2)).all()
    if len(ids) != 1:
        shown = params.clean_text(sku, 64)
        raise ValidationFailed(_l("No single product has SKU “%(sku)s”.", sku=shown) if not ids else
                               _l("More than one product has SKU “%(sku)s”; fix the catalogue.", sku=shown),
                               field="sku")
    return db.session.get(Product, ids[0])


@bp.get("/stock")
def stock():
    """Products' stock per warehouse, filtered (below minimum, reserved, refused)."""
    filter_name = request.args.get("filter", "")
    if filter_name not in warehouses.STOCK_FILTERS:
        filter_name = ""
    warehouse_id = params.int_arg(request.args.get("warehouse"), "warehouse", minimum=1, label="warehouse")
    query = params.text_arg(request.args.get("q", ""), "q", max_length=100, label="search")
    form = MovementForm()
    form.warehouse_id.choices = _warehouse_choices()
    return render_page_or_fragment(
        "stock/stock.html", "stock/_stock_table.html", rows=warehouses.stock_list(filter_name, warehouse_id, query),
        filter_name=filter_name, filters=warehouses.STOCK_FILTERS, warehouse_id=warehouse_id, q=query,
        warehouse_list=warehouses.warehouses(), form=form)


@bp.post("/stock/<any(receive, correct):kind>")
@role_required("operator")
def movement(kind: str):
    """A goods receipt (PZ) or a stock count correction of one product, posted at once."""
    form = MovementForm()
    form.warehouse_id.choices = _warehouse_choices()
    if not form.validate_on_submit():
        errors = "; ".join(f"{getattr(form, name).label.text}: {' '.join(e)}" for name, e in form.errors.items())
        flash(gettext("Nothing was changed. %(errors)s", errors=errors), "error")
        return redirect(url_for("warehouse.stock"))
    try:
        product = _product_by_sku(form.sku.data)
        if kind == "receive":
            document = documents.receive(form.warehouse_id.data, [(product.id, form.quantity.data)], _actor(),
                                         note=form.note.data or "")
        else:
            document = documents.correct(form.warehouse_id.data, product.id, form.quantity.data, _actor(),
                                         note=form.note.data or "")
        flash(gettext("%(kind)s %(number)s posted.", kind=document.kind_name, number=document.number), "success")
    except ValidationFailed as error:
        db.session.rollback()
        flash(gettext("Nothing was changed: %(why)s", why=error.message), "error")
    return redirect(url_for("warehouse.stock"))


@bp.route("/stock/warehouses", methods=["GET", "POST"])
def warehouse_list():
    """List warehouses and add one (admin)."""
    form = WarehouseForm()
    if form.validate_on_submit():
        require_role("admin")
        try:
            warehouse = warehouses.add_warehouse(form.code.data, form.name.data)
            flash(gettext("Warehouse %(code)s added.", code=warehouse.code), "success")
            return redirect(url_for("warehouse.warehouse_list"))
        except ValidationFailed as error:
            db.session.rollback()
            getattr(form, error.field or "code").errors.append(error.message)
    return render_template("stock/warehouses.html", form=form, warehouse_list=warehouses.warehouses())


@bp.get("/stock/shortages")
def shortages():
    """What is missing for which orders."""
    return render_template("stock/shortages.html", rows=reservations.shortages())


@bp.get("/stock/documents")
def document_list():
    """The latest warehouse documents."""
    return render_template("stock/documents.html", rows=documents.recent_documents())


@bp.get("/stock/documents/<int:document_id>")
def document(document_id: int):
    """A document's print view (seller, lines, quantities, signatures)."""
    return render_template("stock/document_print.html", document=documents.get_document(document_id),
                           seller=warehouses.order_settings().seller_details)


@bp.get("/stock/documents/<int:document_id>.pdf")
def document_pdf(document_id: int):
    """The document as a PDF."""
    document = documents.get_document(document_id)
    body = printing.document_pdf(document, warehouses.order_settings().seller_details)
    filename = document.number.replace("/", "-") + ".pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.post("/stock/documents/<int:document_id>/post")
@role_required("operator")
def post_document(document_id: int):
    """Post a draft document."""
    try:
        document = documents.post(document_id, _actor())
        flash(gettext("%(number)s posted.", number=document.number), "success")
    except ValidationFailed as error:
        flash(gettext("Not posted: %(why)s", why=error.message), "error")
    return redirect(url_for("warehouse.document", document_id=document_id))


@bp.get("/stock/products/<int:product_id>")
def product_stock(product_id: int):
    """A product's stock per warehouse and last movements (the product page loads this)."""
    product = db.session.get(Product, product_id) if params.is_id(product_id) else None
    if product is None:
        raise ValidationFailed(_l("No such product."))
    return render_fragment("stock/_product_stock.html", product=product,
                           levels=warehouses.product_levels(product_id),
                           movements=warehouses.product_movements(product_id), reasons=REASONS)


def _order_panel(order_id: int, status_code: int = 200, error: str = ""):
    order = get_order(order_id)
    return render_fragment("stock/_order_stock.html", status_code, order=order, error=error,
                           reservations=reservations.order_reservations(order.id),
                           documents=documents.order_documents(order.id), wz=documents.order_wz(order.id))


@bp.get("/stock/orders/<int:order_id>")
def order_stock(order_id: int):
    """An order's reservations and documents (the order page loads this)."""
    return _order_panel(order_id)


@bp.post("/stock/orders/<int:order_id>/<any(reserve, release, wz):action>")
@role_required("operator")
def order_action(order_id: int, action: str):
    """Reserve, release, or issue and post the WZ of an order; the panel replaces itself."""
    try:
        if action == "reserve":
            reservations.reserve(order_id, _actor())
        elif action == "release":
            reservations.release(order_id, _actor())
        else:
            documents.issue_wz(order_id, _actor())
    except ValidationFailed as error:
        db.session.rollback()
        return _order_panel(order_id, 200, error.message)
    return _order_panel(order_id)


@bp.get("/stock/sync")
def channel_sync():
    """Stock sent to the channels: health, the latest updates, and what reconciliation found."""
    state = request.args.get("state", "")
    if state not in stock_sync.LIST_STATES:
        state = ""
    rows, total = stock_sync.operations(state, 100, 0)
    return render_template("stock/sync.html", status=stock_sync.status(), rows=rows, total=total, state=state,
                           states=stock_sync.LIST_STATES, differences=stock_sync.differences())


@bp.post("/stock/sync/reconcile")
@role_required("operator")
def reconcile_now():
    """Read the channels now and fix every difference found."""
    outcome = stock_sync.reconcile_all(fix_all=True)
    words = "; ".join(f"{name}: {_outcome_words(result)}" for name, result in outcome.items())
    flash(gettext("Reconciled. %(outcome)s", outcome=words or gettext("No channel takes stock from Kontor.")),
          "success")
    return redirect(url_for("warehouse.channel_sync"))


def _outcome_words(result) -> str:
    if isinstance(result, str):
        return result
    return gettext("%(checked)s checked, %(differences)s differing, %(fixed)s sent again", checked=result["checked"],
                   differences=result["differences"], fixed=result["fixed"])


@bp.route("/settings/orders", methods=["GET", "POST"])
def order_settings():
    """Settings > Orders: default warehouse, reservations, automatic WZ, release on cancel."""
    settings = warehouses.order_settings()
    db.session.commit()
    form = OrderSettingsForm(data={
        "default_warehouse_id": settings.default_warehouse_id, "reserve": settings.reserve_on_awaiting_fulfillment,
        "reservation_hours": settings.reservation_hours, "issue_wz_on": settings.issue_wz_on,
        "release_on_cancel": settings.release_on_cancel, "seller_details": settings.seller_details,
    } if request.method == "GET" else None)
    form.default_warehouse_id.choices = _warehouse_choices()
    if request.method == "POST":
        require_role("admin")
        if form.validate_on_submit():
            try:
                warehouses.update_order_settings(
                    default_warehouse_id=form.default_warehouse_id.data, reserve=form.reserve.data,
                    hours=form.reservation_hours.data, issue_wz_on=form.issue_wz_on.data,
                    release_on_cancel=form.release_on_cancel.data, seller_details=form.seller_details.data or "")
                flash(gettext("Order settings saved."), "success")
                return redirect(url_for("warehouse.order_settings"))
            except ValidationFailed as error:
                db.session.rollback()
                getattr(form, error.field or "default_warehouse_id", form.default_warehouse_id).errors.append(
                    error.message)
    status_code = 422 if form.errors else 200
    return render_template("settings/orders.html", form=form), status_code
