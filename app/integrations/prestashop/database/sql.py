"""The set-based statements of the availability write: temporary tables and per-table diff/update SQL.

Each chunk of writes is loaded into temporary tables and applied with one `UPDATE ... JOIN` per
shop table. The UPDATE's WHERE keeps only rows whose value really differs, so a re-run with
nothing to change costs a read per row and no write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.integrations.base import MissingRow, RowChange

# Temporary tables live in this connection only; the names just avoid clashing with shop tables.
TMP_STOCK = "kontor_avail_stock"
TMP_STOCK_TARGET = "kontor_avail_stock_target"
TMP_TEXT_VALUE = "kontor_avail_text_value"

# A product's texts: ((id_shop, id_lang, available_now, available_later), ...) in shop and language order. Few
# distinct sets serve many products, so each set is sent once per chunk and products refer to it.
TextSet = tuple[tuple[int, str | None, str | None], ...]


@dataclass(frozen=True)
class StockTarget:
    """The stock_available row key (besides product and combination) that serves some shops."""

    id_shop: int
    id_shop_group: int
    shop_ids: tuple[int, ...]

    @property
    def shared(self) -> bool:
        return self.id_shop == 0

    def describe(self) -> str:
        if self.shared:
            shops = ", ".join(map(str, self.shop_ids))
            return f"shop group {self.id_shop_group} (shared stock of shops {shops})"
        return f"shop {self.id_shop}"



@dataclass(frozen=True)
class TableSql:
    """The statements that diff and update one PrestaShop table against the temporary tables.

    The temporary tables drive every join (STRAIGHT_JOIN), so each target row is found through
    its unique key and the optimizer never scans the shop's table.
    """

    name: str  # PrestaShop's table name, as reported
    target: str  # quoted, prefixed table; aliased x
    sources: str  # the temporary tables as table references
    on: str  # joins a target row x to one source row
    present: str  # a NOT NULL column of x: NULL after the LEFT JOIN means the row is missing
    differs: str
    assign: str
    keys: tuple[tuple[str, str], ...]  # (reported name, SQL expression)
    before: tuple[tuple[str, str], ...]
    after: tuple[tuple[str, str], ...]
    missing_reason: Callable[[dict[str, int]], str]
    fanout: int  # target rows per source row: the stock targets; 1 for texts (each names its shop)
    # The same join led by the shop's table (x first), for an UPDATE over ranges of product ids.
    target_first: str = ""

    def found(self) -> str:
        return f"SELECT COUNT(*) FROM {self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"

    def changes(self, limit: int) -> str:
        columns = ", ".join(expression for _, expression in self.keys + self.before + self.after)
        return (f"SELECT {columns} FROM {self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"
                f" WHERE {self.differs} ORDER BY {self._order()} LIMIT {int(limit)}")

    def differences(self) -> str:
        """The rows that differ or are missing (last column 1), with keys and values, in key order."""
        columns = ", ".join(expression for _, expression in self.keys + self.before + self.after)
        return (f"SELECT {columns}, x.{self.present} IS NULL FROM {self.sources} LEFT JOIN {self.target} x"
                f" ON {self.on} WHERE x.{self.present} IS NULL OR {self.differs} ORDER BY {self._order()}")

    def missing(self) -> str:
        columns = ", ".join(expression for _, expression in self.keys)
        return (f"SELECT {columns} FROM {self.sources} LEFT JOIN {self.target} x ON {self.on}"
                f" WHERE x.{self.present} IS NULL ORDER BY {self._order()}")

    def update(self, every_row: bool = False, products: Sequence[int] = (),
               ranges: Sequence[tuple[int, int]] = ()) -> str:
        """The UPDATE of the loaded rows; `products` narrows it to those products' rows (known to
        differ), so a few changes among many rows cost a few lookups in the shop's table.

        `ranges` (id_product from, to) hold every loaded product: the shop's table then leads the
        join, read along its index over those ranges, and MariaDB updates its rows as it reads them
        (only a multi-table UPDATE's first table is updated on the fly; led by the temporary
        tables, the rows to change are kept aside and updated in a second pass).
        """
        conditions = [] if every_row else [self.differs]
        if products:
            conditions.append(f"t.id_product IN ({','.join(map(str, products))})")
        if ranges:
            conditions.append("(" + " OR ".join(f"x.id_product BETWEEN {int(low)} AND {int(high)}"
                                                 for low, high in ranges) + ")")
            tables = self.target_first
        else:
            tables = f"{self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"UPDATE {tables} SET {self.assign}{where}"

    def change(self, row: Sequence) -> RowChange:
        key_count, before_count = len(self.keys), len(self.before)
        values = list(row)
        return RowChange(
            table=self.name,
            key={name: int(value) for (name, _), value in zip(self.keys, values)},
            before={name: _plain(value) for (name, _), value in zip(self.before, values[key_count:])},
            after={name: _plain(value) for (name, _), value in zip(self.after, values[key_count + before_count:])})

    def key(self, row: Sequence) -> dict[str, int]:
        return {name: int(value) for (name, _), value in zip(self.keys, row)}

    def missing_row(self, key: dict[str, int]) -> MissingRow:
        return MissingRow(table=self.name, key=key, reason=self.missing_reason(key))

    def _order(self) -> str:
        return ", ".join(expression for _, expression in self.keys)


def stock_sql(target: str, targets: list[StockTarget]) -> TableSql:
    """stock_available: out_of_stock of each product/combination in each stock target."""
    by_key = {(t.id_shop, t.id_shop_group): t for t in targets}

    def reason(key: dict[str, int]) -> str:
        where = by_key[(key["id_shop"], key["id_shop_group"])].describe()
        return (f"no stock_available row for product {key['id_product']} "
                f"combination {key['id_product_attribute']} in {where}")

    return TableSql(
        name="stock_available",
        target=target,
        sources=f"{TMP_STOCK} t STRAIGHT_JOIN {TMP_STOCK_TARGET} g",
        on=("x.id_product = t.id_product AND x.id_product_attribute = t.id_product_attribute"
            " AND x.id_shop = g.id_shop AND x.id_shop_group = g.id_shop_group"),
        present="id_stock_available",
        differs="x.out_of_stock <> t.out_of_stock",
        assign="x.out_of_stock = t.out_of_stock",
        keys=(("id_product", "t.id_product"), ("id_product_attribute", "t.id_product_attribute"),
              ("id_shop", "g.id_shop"), ("id_shop_group", "g.id_shop_group")),
        before=(("out_of_stock", "x.out_of_stock"),),
        after=(("out_of_stock", "t.out_of_stock"),),
        missing_reason=reason,
        fanout=len(targets),
        target_first=(f"{target} x STRAIGHT_JOIN {TMP_STOCK_TARGET} g STRAIGHT_JOIN {TMP_STOCK} t"
                      " ON x.id_product = t.id_product AND x.id_product_attribute = t.id_product_attribute"
                      " AND x.id_shop = g.id_shop AND x.id_shop_group = g.id_shop_group"))


def text_sql(target: str) -> TableSql:
    """product_lang: available_now/available_later of each product in each shop and language."""
    def reason(key: dict[str, int]) -> str:
        return (f"no product_lang row for product {key['id_product']} in shop {key['id_shop']}, "
                f"language {key['id_lang']}")

    # Compared as bytes: the shop's collation is case- and accent-insensitive, and a text that
    # differs only in case or accents must still be written. <=> because either side may be NULL.
    same = ("CAST(x.{0} AS BINARY) <=> CAST(v.{0} AS BINARY)")
    return TableSql(
        name="product_lang",
        target=target,
        # A product's texts hang on one of its stock rows (id_set 0 on the others).
        sources=f"{TMP_STOCK} t STRAIGHT_JOIN {TMP_TEXT_VALUE} v ON v.id_set = t.id_set",
        on="x.id_product = t.id_product AND x.id_shop = v.id_shop AND x.id_lang = v.id_lang",
        present="id_product",
        differs=f"NOT ({same.format('available_now')} AND {same.format('available_later')})",
        assign="x.available_now = v.available_now, x.available_later = v.available_later",
        keys=(("id_product", "t.id_product"), ("id_shop", "v.id_shop"), ("id_lang", "v.id_lang")),
        before=(("available_now", "x.available_now"), ("available_later", "x.available_later")),
        after=(("available_now", "v.available_now"), ("available_later", "v.available_later")),
        missing_reason=reason,
        fanout=1,
        # The product's row that carries its texts (id_set > 0), found through t's id_product index.
        target_first=(f"{target} x STRAIGHT_JOIN {TMP_STOCK} t ON t.id_product = x.id_product AND t.id_set > 0"
                      f" STRAIGHT_JOIN {TMP_TEXT_VALUE} v"
                      " ON v.id_set = t.id_set AND v.id_shop = x.id_shop AND v.id_lang = x.id_lang"))


def _plain(value: object) -> object:
    return int(value) if isinstance(value, (int, bool)) else value

