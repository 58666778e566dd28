"""Set-based stock quantities straight into a PrestaShop database (shops with a DSN).

One transaction per call: the wanted quantities go into a temporary table, then one UPDATE … JOIN
writes every stock_available row PrestaShop reads for the configured shops, keeping
physical_quantity = quantity + reserved_quantity as PrestaShop itself does. Shared stock is honoured
as in the availability sync: a group that shares stock has one row (id_shop = 0, id_shop_group = g).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.integrations.base import PlatformError, TransientPlatformError
from app.integrations.prestashop.database.connection import PREFIX_PATTERN, normalise_dsn

TMP = "kontor_tmp_stock_quantity"
INSERT_CHUNK = 5000
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class StockWriteError(Exception):
    """The database refused or could not be reached; `message` is for the seller (never the DSN)."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message, self.retryable = message, retryable

    def as_platform(self) -> PlatformError:
        return TransientPlatformError(self.message) if self.retryable else PlatformError(self.message)


@dataclass
class QuantityReport:
    targets: list[str] = field(default_factory=list)
    changed: set[tuple[int, int]] = field(default_factory=set)
    missing: set[tuple[int, int]] = field(default_factory=set)
    rows_written: int = 0


def _engine(dsn: str) -> Engine:
    with _engines_lock:
        if dsn not in _engines:
            _engines[dsn] = sa.create_engine(normalise_dsn(dsn), pool_pre_ping=True, pool_recycle=1800,
                                             connect_args={"connect_timeout": 10})
        return _engines[dsn]


def _targets(conn: Connection, prefix: str, shop_ids: Sequence[int]) -> dict[tuple[int, int], str]:
    group_of = {int(s): int(g) for s, g in conn.exec_driver_sql(f"SELECT id_shop, id_shop_group FROM `{prefix}shop`")}
    unknown = [s for s in shop_ids if int(s) not in group_of]
    if unknown:
        raise StockWriteError(f"Shop {', '.join(map(str, unknown))} does not exist in the shop's database.", False)
    groups = {group_of[int(s)] for s in shop_ids}
    has_groups = conn.exec_driver_sql(f"SHOW TABLES LIKE '{prefix}shop\\_group'").first() is not None
    if has_groups:
        sharing = {int(r[0]) for r in conn.execute(sa.text(
            f"SELECT id_shop_group FROM `{prefix}shop_group` WHERE share_stock = 1 AND id_shop_group IN :ids")
            .bindparams(sa.bindparam("ids", expanding=True)), {"ids": sorted(groups)})}
    else:
        sharing = {g for g in groups if conn.execute(sa.text(
            f"SELECT 1 FROM `{prefix}stock_available` WHERE id_shop = 0 AND id_shop_group = :g LIMIT 1"),
            {"g": g}).first()}
    targets: dict[tuple[int, int], str] = {}
    for shop in dict.fromkeys(int(s) for s in shop_ids):
        group = group_of[shop]
        if group in sharing:
            targets[(0, group)] = f"shop group {group} (shared stock)"
        else:
            targets[(shop, 0)] = f"shop {shop}"
    return targets


def set_quantities(dsn: str, prefix: str, shop_ids: Sequence[int], wanted: dict[tuple[int, int], int]
                   ) -> QuantityReport:
    """Set quantity (and physical_quantity) of each (id_product, id_product_attribute) in every target row."""
    if not PREFIX_PATTERN.match(prefix):
        raise StockWriteError(f"Table prefix {prefix!r} may hold only letters, digits and underscores.", False)
    report = QuantityReport()
    if not wanted:
        return report
    table = f"`{prefix}stock_available`"
    try:
        with _engine(dsn).connect() as conn:
            targets = _targets(conn, prefix, shop_ids)
            report.targets = list(targets.values())
            conn.commit()
            conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {TMP}")
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {TMP} (id_product INT UNSIGNED NOT NULL, id_product_attribute INT UNSIGNED"
                " NOT NULL, quantity INT NOT NULL, PRIMARY KEY (id_product, id_product_attribute)) ENGINE=MEMORY")
            try:
                rows = [(p, a, q) for (p, a), q in wanted.items()]
                cursor = conn.connection.cursor()
                for start in range(0, len(rows), INSERT_CHUNK):
                    cursor.executemany(f"INSERT INTO {TMP} (id_product, id_product_attribute, quantity) "
                                       "VALUES (%s, %s, %s)", rows[start:start + INSERT_CHUNK])
                cursor.close()
                where_target = " OR ".join(f"(s.id_shop = {int(shop)} AND s.id_shop_group = {int(group)})"
                                           for shop, group in targets)
                for shop, group in targets:
                    report.missing |= {(int(p), int(a)) for p, a in conn.exec_driver_sql(
                        f"SELECT t.id_product, t.id_product_attribute FROM {TMP} t LEFT JOIN {table} s"
                        " ON s.id_product = t.id_product AND s.id_product_attribute = t.id_product_attribute"
                        f" AND s.id_shop = {int(shop)} AND s.id_shop_group = {int(group)}"
                        " WHERE s.id_stock_available IS NULL")}
                differs = ("(s.quantity <> t.quantity OR s.physical_quantity <> t.quantity + s.reserved_quantity)")
                report.changed = {(int(p), int(a)) for p, a in conn.exec_driver_sql(
                    f"SELECT DISTINCT t.id_product, t.id_product_attribute FROM {TMP} t JOIN {table} s"
                    " ON s.id_product = t.id_product AND s.id_product_attribute = t.id_product_attribute"
                    f" WHERE ({where_target}) AND {differs}")}
                report.rows_written = conn.exec_driver_sql(
                    f"UPDATE {table} s JOIN {TMP} t ON s.id_product = t.id_product"
                    " AND s.id_product_attribute = t.id_product_attribute"
                    " SET s.quantity = t.quantity, s.physical_quantity = t.quantity + s.reserved_quantity"
                    f" WHERE ({where_target}) AND {differs}").rowcount
                conn.commit()
            finally:
                conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {TMP}")
                conn.commit()
    except StockWriteError:
        raise
    except sa.exc.OperationalError as error:
        raise StockWriteError(f"The shop's database could not be reached or was busy ({type(error.orig).__name__}); "
                              "retrying later.", True) from None
    except sa.exc.DBAPIError as error:
        raise StockWriteError(f"The shop's database refused the stock update ({type(error.orig).__name__}).",
                              False) from None
    return report


def read_quantities(dsn: str, prefix: str, shop_ids: Sequence[int], keys: list[tuple[int, int]]
                    ) -> dict[tuple[int, int], int]:
    """The quantity PrestaShop shows for each key (the first target's row), for reconciliation."""
    if not PREFIX_PATTERN.match(prefix):
        raise StockWriteError(f"Table prefix {prefix!r} may hold only letters, digits and underscores.", False)
    found: dict[tuple[int, int], int] = {}
    with _engine(dsn).connect() as conn:
        targets = list(_targets(conn, prefix, shop_ids))
        shop, group = targets[0]
        products = sorted({p for p, _ in keys})
        for start in range(0, len(products), 5000):
            rows = conn.execute(sa.text(
                f"SELECT id_product, id_product_attribute, quantity FROM `{prefix}stock_available`"
                " WHERE id_shop = :shop AND id_shop_group = :group AND id_product IN :ids")
                .bindparams(sa.bindparam("ids", expanding=True)),
                {"shop": shop, "group": group, "ids": products[start:start + 5000]})
            found.update({(int(p), int(a)): int(q) for p, a, q in rows})
    wanted = set(keys)
    return {key: value for key, value in found.items() if key in wanted}
