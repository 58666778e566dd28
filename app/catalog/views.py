"""Product pages: the catalogue, one product with its shop links, manual link and unlink, autolink."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from app.catalog import services
from app.catalog.forms import AutolinkForm, LinkForm, ProductForm
from app.core import params
from app.core.auth import require_role, role_required
from app.core.errors import ValidationFailed
from app.core.transactions import refusal_shown
from app.catalog.models import ProductLink
from app.extensions import db
from app.integrations.services import get_integration, list_integrations

bp = Blueprint("catalog", __name__, url_prefix="/products")
SEARCH_MAX_LENGTH = 100


def _link_form(formdata=None) -> LinkForm:
    form = LinkForm(formdata=formdata) if formdata is not None else LinkForm(formdata=None)
    form.integration_id.choices = [(i.id, i.name) for i in list_integrations() if i.kind == "prestashop"]
    return form


def _catalogue(form: ProductForm, status: int = 200):
    q = params.text_arg(request.args.get("q"), "q", max_length=SEARCH_MAX_LENGTH, label="search text")
    linked = request.args.get("linked", "")
    if linked not in ("", "yes", "no"):
        raise ValidationFailed(_l("Show linked products with linked=yes or linked=no."), field="linked")
    page = services.list_products(q, params.page_arg(request.args.get("page")), linked=linked)
    return render_template("catalog/index.html", page=page, q=q, linked=linked, counts=services.catalogue_counts(),
                           form=form), status


@bp.get("")
def index():
    """The catalogue with search and link counts."""
    return _catalogue(ProductForm(formdata=None))


@bp.post("")
@role_required("operator")
def create():
    """Add a product by hand; a refused one shows the catalogue again with the reason next to the field."""
    form = ProductForm()
    if form.validate_on_submit():
        with refusal_shown(form, "sku"):
            product = services.create_product(form.sku.data or "", form.ean.data or "", form.name.data or "")
            flash(_("Product %(sku)s added.", sku=product.sku or product.ean), "success")
            return redirect(url_for("catalog.detail", product_id=product.id))
    return _catalogue(form, 422)


@bp.route("/<int:product_id>", methods=["GET", "POST"])
def detail(product_id: int):
    """One product, its supplier stock and its links to shop products (link one by hand)."""
    product = services.get_product(product_id)
    form = _link_form(request.form if request.method == "POST" else None)
    if request.method == "POST":
        require_role("operator")
        if form.validate_on_submit():
            with refusal_shown(form, "external_product_id"):
                services.link_product(product_id, form.integration_id.data, form.external_product_id.data or "",
                                      form.external_combination_id.data or "0")
                flash(_("Linked."), "success")
                return redirect(url_for("catalog.detail", product_id=product_id))
    return render_template("catalog/detail.html", product=product, form=form,
                           supply=services.supply_of_links(product)), 422 if form.errors else 200


@bp.post("/links/<int:link_id>/delete")
@role_required("operator")
def unlink(link_id: int):
    """Remove a link."""
    link = db.session.get(ProductLink, link_id) if params.is_id(link_id) else None
    product_id = link.product_id if link else None
    services.unlink(link_id)
    flash(_("Link removed."), "success")
    return redirect(url_for("catalog.detail", product_id=product_id) if product_id else url_for("catalog.index"))


@bp.post("/autolink/<int:integration_id>")
@role_required("admin")
def autolink(integration_id: int):
    """Start linking a shop's products by SKU, then EAN (a background job)."""
    integration = get_integration(integration_id)
    form = AutolinkForm()
    services.queue_autolink(integration.id, bool(form.create_missing.data))
    flash(_("Linking %(name)s's products has started; the counts appear under Last runs.", name=integration.name), "success")
    return redirect(url_for("integrations.detail", integration_id=integration_id))
