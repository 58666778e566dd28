"""Warehouse fixtures: a default warehouse, products and stock put there through a real goods receipt."""

from __future__ import annotations

import pytest

from app.catalog.models import Product
from app.extensions import db
from app.orders.services import Actor
from app.stock import documents, warehouses
from tests.conftest import app_on

KEEPER = Actor("Magda (warehouse)", "manual")


@pytest.fixture
def warehouse(app):
    return warehouses.add_warehouse("MAG", "Main warehouse")


def stocked(sku: str, units: int, warehouse, name: str = "") -> Product:
    """A product with `units` received into the warehouse by a PZ."""
    product = Product(sku=sku, name=name or f"Product {sku}")
    db.session.add(product)
    db.session.commit()
    if units:
        documents.receive(warehouse.id, [(product.id, units)], KEEPER)
    return product


@pytest.fixture
def pg_app(postgres_url, redis_server):
    """An app on PostgreSQL only (tests of many workers at once)."""
    yield from app_on(postgres_url, redis_server)
