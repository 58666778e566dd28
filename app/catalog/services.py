"""Products, their links to shop products and combinations, and linking them automatically."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import func, insert, or_, select
from flask_babel import lazy_gettext as _l

from app.core import params
from app.core.events import bus
from app.core.errors import NotFound, ValidationFailed
from app.core.pagination import Page
from app.core.types import utcnow
from app.extensions import db
from app.catalog.models import Product, ProductLink
from app.catalog.supply import MissingPolicy
from app.integrations.models import Integration, IntegrationRun

AUTOLINK_REQUESTED = "catalog.autolink_requested"


@dataclass(frozen=True)
class ShopItemRef:
    """A product or combination in a shop, as autolink sees it."""

    external_product_id: str
    external_combination_id: str
    reference: str
    ean13: str
    name: str = ""


def get_product(product_id: int) -> Product:
    """The product with that id, or NotFound."""
    product = db.session.get(Product, product_id) if params.is_id(product_id) else None
    if product is None:
        raise NotFound(_l("Product %(product_id)s does not exist.", product_id=product_id))
    return product


def supply_of_links(product: Product) -> dict[int, str]:
    """Per link of the product: where its supplier data comes from and which rule applies, in words."""
    feed_ids = {int(link.supplier_availability["contractor_id"]) for link in product.links
                if (link.supplier_availability or {}).get("contractor_id") is not None}
    feeds = {feed.id: feed for feed in db.session.scalars(select(Integration).where(Integration.id.in_(feed_ids)))}
    described = {}
    for link in product.links:
        supplier = link.supplier_availability or {}
        feed = feeds.get(supplier.get("contractor_id"))
        words = MissingPolicy.of(feed.settings if feed else None).describe_link(supplier)
        described[link.id] = f"{feed.name}: {words}" if feed else words
    return described


def list_products(q: str = "", page: int = 1, per_page: int = 50, linked: str = "") -> Page:
    """Products matching a search on SKU, EAN or name, with paging."""
    query = select(Product)
    if q:
        needle = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Product.sku).like(needle), Product.ean.like(needle),
                                func.lower(Product.name).like(needle)))
    has_links = select(ProductLink.id).where(ProductLink.product_id == Product.id).exists()
    if linked == "yes":
        query = query.where(has_links)
    elif linked == "no":
        query = query.where(~has_links)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    # A page past the end shows the last one (and keeps the offset within the database's range).
    page = max(1, min(page, -(-total // per_page)))
    rows = db.session.scalars(query.order_by(Product.sku, Product.id).offset((page - 1) * per_page).limit(per_page))
    return Page(items=list(rows), page=page, per_page=per_page, total=total)


def catalogue_counts() -> dict[str, int]:
    """How many products there are and how many are linked to a shop."""
    products = db.session.scalar(select(func.count(Product.id))) or 0
    linked = db.session.scalar(select(func.count(func.distinct(ProductLink.product_id)))) or 0
    return {"products": products, "linked": linked, "unlinked": products - linked}


def create_product(sku: str, ean: str, name: str) -> Product:
    """Add a product; it needs a SKU or an EAN to be matched to shops and feeds."""
    sku = params.text_arg(sku, "sku", max_length=params.column_length(Product.sku), label="SKU")
    ean = params.text_arg("".join(ch for ch in ean if ch.isdigit()), "ean",
                          max_length=params.column_length(Product.ean), label="EAN")
    name = params.text_arg(name, "name", max_length=params.column_length(Product.name))
    if not (sku or ean):
        raise ValidationFailed(_l("A product needs a SKU or an EAN."), field="sku")
    if sku and db.session.scalar(select(Product.id).where(Product.sku == sku)):
        raise ValidationFailed(_l("A product with SKU %(sku)s already exists.", sku=sku), field="sku")
    product = Product(sku=sku, ean=ean, name=name)
    db.session.add(product)
    db.session.commit()
    return product


def link_product(product_id: int, integration_id: int, external_product_id: str,
                 external_combination_id: str = "0") -> ProductLink:
    """Link a product to a shop product (and combination) by hand."""
    product = get_product(product_id)
    integration = db.session.get(Integration, integration_id) if params.is_id(integration_id) else None
    if integration is None or integration.kind != "prestashop":
        raise ValidationFailed(_l("Choose a PrestaShop integration."), field="integration_id")
    external_product_id = external_product_id.strip()
    external_combination_id = (external_combination_id or "0").strip()
    if not (external_product_id.isascii() and external_product_id.isdigit() and len(external_product_id) <= 20
            and external_combination_id.isascii() and external_combination_id.isdigit()
            and len(external_combination_id) <= 20):
        raise ValidationFailed(_l("Product and combination ids are numbers (combination 0 = the product itself)."),
                               field="external_product_id")
    taken = db.session.scalar(select(ProductLink).where(
        ProductLink.integration_id == integration_id, ProductLink.external_product_id == external_product_id,
        ProductLink.external_combination_id == external_combination_id))
    if taken is not None:
        raise ValidationFailed(_l("That shop product is already linked to %(sku)s.", sku=taken.product.sku or taken.product.name),
                               field="external_product_id")
    link = ProductLink(product=product, integration_id=integration_id, external_product_id=external_product_id,
                       external_combination_id=external_combination_id, meta={"linked_by": "hand"})
    db.session.add(link)
    db.session.commit()
    return link


def unlink(link_id: int) -> None:
    """Remove a link (the shop product is no longer kept in step)."""
    link = db.session.get(ProductLink, link_id) if params.is_id(link_id) else None
    if link is None:
        raise NotFound(_l("No such link."))
    db.session.delete(link)
    db.session.commit()


def _index(products: Iterable[tuple[int, str, str]]) -> tuple[dict, dict]:
    by_sku: dict[str, list[int]] = defaultdict(list)
    by_ean: dict[str, list[int]] = defaultdict(list)
    for product_id, sku, ean in products:
        if sku:
            by_sku[sku.strip().lower()].append(product_id)
        if ean:
            by_ean[ean.lstrip("0")].append(product_id)
    return by_sku, by_ean


def queue_autolink(integration_id: int, create_missing: bool = False) -> None:
    """Have the workers link a shop's products (announced now, enqueued once the session commits)."""
    bus.publish(db.session, AUTOLINK_REQUESTED, {"integration_id": integration_id, "create_missing": create_missing})
    db.session.commit()


def autolink(integration_id: int, items: Iterable[ShopItemRef], create_missing: bool = False) -> dict[str, int]:
    """Link shop items to products by SKU (the shop's reference), then EAN; existing links are kept.

    A SKU or EAN shared by several products is ambiguous and left for a person to link.
    With `create_missing`, an item that matches nothing becomes a new product.
    """
    started = utcnow()
    by_sku, by_ean = _index(db.session.execute(select(Product.id, Product.sku, Product.ean)).all())
    existing = {(p, c) for p, c in db.session.execute(
        select(ProductLink.external_product_id, ProductLink.external_combination_id)
        .where(ProductLink.integration_id == integration_id)).all()}
    counts = {"items": 0, "already linked": 0, "linked": 0, "created": 0, "unmatched": 0, "ambiguous": 0}
    new_links: list[dict] = []
    new_products: list[ShopItemRef] = []
    for item in items:
        counts["items"] += 1
        key = (str(item.external_product_id), str(item.external_combination_id or "0"))
        if key in existing:
            counts["already linked"] += 1
            continue
        candidates = by_sku.get(item.reference.strip().lower(), []) if item.reference.strip() else []
        if not candidates and item.ean13.strip("0 "):
            candidates = by_ean.get(item.ean13.strip().lstrip("0"), [])
        if len(candidates) > 1:
            counts["ambiguous"] += 1
        elif candidates:
            new_links.append({"integration_id": integration_id, "product_id": candidates[0],
                              "external_product_id": key[0], "external_combination_id": key[1],
                              "meta": {"linked_by": "autolink"}, "created_at": utcnow()})
            existing.add(key)
            counts["linked"] += 1
        elif create_missing and (item.reference.strip() or item.ean13.strip("0 ")):
            new_products.append(item)
            existing.add(key)
        else:
            counts["unmatched"] += 1
    if new_links:
        db.session.execute(insert(ProductLink), new_links)
    if new_products:
        counts["created"] = _create_linked(integration_id, new_products)
    run = IntegrationRun(integration_id=integration_id, kind="autolink", started_at=started, finished_at=utcnow(),
                         counts=counts)
    run.say(_l("%(count)s new links", count=counts["linked"] + counts["created"]))
    db.session.add(run)
    db.session.commit()
    return counts


def _create_linked(integration_id: int, items: list[ShopItemRef]) -> int:
    created = 0
    for start in range(0, len(items), 5000):
        batch = items[start:start + 5000]
        ids = db.session.scalars(insert(Product).returning(Product.id, sort_by_parameter_order=True), [
            {"sku": i.reference.strip()[:64], "ean": i.ean13.strip()[:32], "name": i.name[:255],
             "created_at": utcnow(), "updated_at": utcnow()} for i in batch]).all()
        db.session.execute(insert(ProductLink), [
            {"integration_id": integration_id, "product_id": product_id, "external_product_id": str(i.external_product_id),
             "external_combination_id": str(i.external_combination_id or "0"), "meta": {"linked_by": "autolink"},
             "created_at": utcnow()} for product_id, i in zip(ids, batch)])
        created += len(batch)
    return created
