"""Reading a shop's products and combinations for autolink, from its database or webservice."""

from __future__ import annotations

from typing import Iterator

from app.catalog.services import ShopItemRef
from app.integrations.prestashop.database import PrestaShopDatabase
from app.integrations.services import client_for, get_integration
from app.stock.services import database_settings


def shop_items(integration_id: int) -> Iterator[ShopItemRef]:
    """Every product and combination of the shop, with reference, EAN and name."""
    integration = get_integration(integration_id)
    dsn = integration.credentials.get("db_dsn")
    if dsn:
        settings = database_settings(integration)
        language = settings["language_ids"][0] if settings["language_ids"] else None
        for item in PrestaShopDatabase(dsn, settings["prefix"]).items(language):
            yield ShopItemRef(str(item.id_product), str(item.id_product_attribute), item.reference or "",
                              item.ean13 or "", item.name or "")
        return
    for product, combination, reference, ean13, name in client_for(integration).catalogue():
        yield ShopItemRef(product, combination, reference, ean13, name)
