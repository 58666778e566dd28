"""Direct MySQL/MariaDB access to a PrestaShop database: read the catalogue, write availability.

connection: DSN, engine, table names, errors in words. catalogue: products and combinations.
availability: the set-based write engine. sql: its temporary tables and statements.
The result types (ShopItem, AvailabilityWrite, AvailabilityReport) live in integrations/base.py.
"""

from app.integrations.base import AvailabilityReport, AvailabilityWrite, MissingRow, RowChange, ShopItem, TableCounts
from app.integrations.prestashop.database.availability import AvailabilityWriter
from app.integrations.prestashop.database.catalogue import CatalogueReader
from app.integrations.prestashop.database.connection import (
    DEFAULT_PREFIX,
    Language,
    PrestaShopDatabaseError,
    Shop,
    normalise_dsn,
)


class PrestaShopDatabase(CatalogueReader, AvailabilityWriter):
    """One PrestaShop database, reached directly over MySQL: its catalogue and its availability."""


__all__ = ["AvailabilityReport", "AvailabilityWrite", "DEFAULT_PREFIX", "Language", "MissingRow",
           "PrestaShopDatabase", "PrestaShopDatabaseError", "RowChange", "Shop", "ShopItem", "TableCounts",
           "normalise_dsn"]
