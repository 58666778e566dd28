"""Pytest fixtures for PrestaShop databases on the test MariaDB (add to pytest_plugins in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.fakes.prestashop_db import (
    MariaDBUnavailable,
    PrestaShopTestDatabase,
    admin_engine,
    create_database,
    load_standard_shop,
)

START_HINT = "Run `make services` (or `bash tests/ensure_services.sh`) to start it."


@pytest.fixture(scope="session")
def mariadb_admin() -> Iterator[Engine]:
    """An engine on the test MariaDB server; fails (never skips) when MariaDB is down."""
    try:
        engine = admin_engine()
    except MariaDBUnavailable as error:
        pytest.fail(f"{error}. The PrestaShop database tests need it (set KONTOR_TEST_MARIADB_URL to use "
                    f"another server). {START_HINT}", pytrace=False)
    yield engine
    engine.dispose()


@pytest.fixture
def prestashop_db_factory(mariadb_admin) -> Iterator[Callable[..., PrestaShopTestDatabase]]:
    """Make empty PrestaShop databases: factory(prefix="ps_", collation="", shop_group_table=False).

    Each gets a unique name and is dropped after the test.
    """
    created: list[PrestaShopTestDatabase] = []

    def make(prefix: str = "ps_", **options) -> PrestaShopTestDatabase:
        database = create_database(mariadb_admin, prefix, **options)
        created.append(database)
        return database

    yield make
    for database in created:
        database.drop()


@pytest.fixture
def prestashop_db(prestashop_db_factory) -> PrestaShopTestDatabase:
    """A database with prefix ps_ holding the standard shop (see tests/fakes/prestashop_db.py)."""
    database = prestashop_db_factory("ps_")
    load_standard_shop(database)
    return database
