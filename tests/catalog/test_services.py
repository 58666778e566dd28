"""Products and links: autolink by SKU then EAN, manual link and unlink."""

import pytest
from sqlalchemy import func, select

from app.catalog import services
from app.catalog.models import Product, ProductLink
from app.catalog.services import ShopItemRef
from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import IntegrationRun
from tests.factories import make_integration


@pytest.fixture
def shop(app):
    return make_integration("prestashop")


def links(shop):
    return {(l.external_product_id, l.external_combination_id): l.product.sku
            for l in db.session.scalars(select(ProductLink).where(ProductLink.integration_id == shop.id))}


def test_autolink_matches_by_sku_then_ean_and_reports_the_rest(shop):
    kubek = services.create_product("KUB-350", "5901234567890", "Kubek")
    services.create_product("TSH-M", "", "Koszulka M")
    services.create_product("", "5900000000017", "Notes")
    twin_a = Product(sku="DUP", name="A")
    twin_b = Product(sku="DUP", name="B")
    db.session.add_all([twin_a, twin_b])
    db.session.commit()

    counts = services.autolink(shop.id, [
        ShopItemRef("10", "0", "kub-350", ""),              # SKU, case-insensitive
        ShopItemRef("11", "0", "", "05900000000017"),        # EAN with a leading zero
        ShopItemRef("12", "3", "TSH-M", ""),                 # a combination
        ShopItemRef("13", "0", "DUP", ""),                   # two products share this SKU
        ShopItemRef("14", "0", "NOPE", "1234567890123"),
    ])
    assert counts["linked"] == 3 and counts["ambiguous"] == 1 and counts["unmatched"] == 1
    assert links(shop) == {("10", "0"): "KUB-350", ("11", "0"): "", ("12", "3"): "TSH-M"}
    assert db.session.scalars(select(IntegrationRun).where(IntegrationRun.kind == "autolink")).one().counts == counts
    assert kubek.links[0].meta["linked_by"] == "autolink"


def test_autolink_keeps_existing_links_and_can_create_missing_products(shop):
    product = services.create_product("A-1", "", "A")
    services.link_product(product.id, shop.id, "10", "0")
    counts = services.autolink(shop.id, [ShopItemRef("10", "0", "OTHER", ""), ShopItemRef("20", "0", "NEW-1", "",
                                                                                           "Nowy produkt")],
                               create_missing=True)
    assert counts["already linked"] == 1 and counts["created"] == 1
    assert links(shop)[("10", "0")] == "A-1"
    created = db.session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert created.name == "Nowy produkt" and created.links[0].external_product_id == "20"
    again = services.autolink(shop.id, [ShopItemRef("20", "0", "NEW-1", "")], create_missing=True)
    assert again["already linked"] == 1 and db.session.scalar(select(func.count(Product.id))) == 2


def test_manual_link_refuses_mistakes(shop):
    product = services.create_product("A-1", "", "A")
    other = services.create_product("B-1", "", "B")
    services.link_product(product.id, shop.id, "10")
    with pytest.raises(ValidationFailed, match="already linked to A-1"):
        services.link_product(other.id, shop.id, "10", "0")
    with pytest.raises(ValidationFailed, match="are numbers"):
        services.link_product(other.id, shop.id, "ten")
    with pytest.raises(ValidationFailed, match="SKU or an EAN"):
        services.create_product("", "", "Nameless")
    services.unlink(product.links[0].id)
    assert links(shop) == {}
