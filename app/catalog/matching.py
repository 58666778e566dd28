"""Which catalogue product a platform line item is: its listing's link first, then the SKU, then the EAN."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.catalog.models import Product, ProductLink
from app.extensions import db


@dataclass(frozen=True)
class SoldItem:
    """What a platform says about a line item: the listing (offer) id, the seller's SKU and the EAN."""

    offer_id: str = ""
    sku: str = ""
    ean: str = ""


def _unique(pairs) -> dict[str, int]:
    found: dict[str, set[int]] = {}
    for key, product_id in pairs:
        found.setdefault(key, set()).add(product_id)
    # A SKU or EAN that two products share matches neither: a guess would sell the wrong thing.
    return {key: ids.pop() for key, ids in found.items() if len(ids) == 1}


def match_products(integration_id: int, items: list[SoldItem]) -> list[int | None]:
    """The product id for each item (None where nothing matches), in three set-based queries at most."""
    offers = {i.offer_id for i in items if i.offer_id}
    skus = {i.sku.strip().lower() for i in items if i.sku.strip()}
    eans = {i.ean.strip().lstrip("0") for i in items if i.ean.strip().lstrip("0")}
    by_offer = _unique(db.session.execute(select(ProductLink.external_product_id, ProductLink.product_id).where(
        ProductLink.integration_id == integration_id, ProductLink.external_product_id.in_(offers)))) if offers else {}
    by_sku = _unique(db.session.execute(select(func.lower(Product.sku), Product.id).where(
        func.lower(Product.sku).in_(skus)))) if skus else {}
    by_ean = {}
    if eans:
        rows = db.session.execute(select(Product.ean, Product.id).where(Product.ean != "", Product.ean.in_(
            {e for ean in eans for e in (ean, ean.zfill(8), ean.zfill(12), ean.zfill(13), ean.zfill(14))})))
        by_ean = _unique((ean.lstrip("0"), product_id) for ean, product_id in rows)
    return [by_offer.get(i.offer_id) or by_sku.get(i.sku.strip().lower()) or by_ean.get(i.ean.strip().lstrip("0"))
            for i in items]
