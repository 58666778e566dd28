"""Direct MySQL/MariaDB access to a PrestaShop database: read the catalogue, write availability.

This client knows MySQL and PrestaShop's tables only. It takes its settings as arguments and
returns plain dataclasses; it never imports Flask or Kontor's models.

Writes touch exactly three columns and never insert a row:
`stock_available.out_of_stock` and `product_lang.available_now` / `available_later`.
They are set-based: each chunk of writes is loaded into temporary tables and applied with one
`UPDATE ... JOIN` per table, in one transaction per chunk. The UPDATE's WHERE keeps only rows
whose value really differs, so a re-run with nothing to change costs a read per row and no write.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.integrations.base import PlatformError, TransientPlatformError

DEFAULT_PREFIX = "ps_"
DEFAULT_CHUNK_SIZE = 5000
SAMPLE_SIZE = 20
# product_lang.available_now / available_later are varchar(255) in every PrestaShop version.
TEXT_MAX_LENGTH = 255
# stock_available.out_of_stock: 0 deny orders, 1 allow orders, 2 use the shop's default.
OUT_OF_STOCK_VALUES = (0, 1, 2)
TABLE_ORDER = {"stock_available": 0, "product_lang": 1}
REQUIRED_TABLES = ("product", "product_lang", "product_attribute", "stock_available", "shop")
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_]{0,32}$")

# MySQL error numbers worth another attempt: deadlock, lock wait timeout, lost or refused connection.
RETRYABLE_ERRORS = {1205, 1213, 2002, 2003, 2006, 2013, 1040}
CHUNK_ATTEMPTS = 3

# Temporary tables live in this connection only; the names just avoid clashing with shop tables.
TMP_STOCK = "kontor_avail_stock"
TMP_STOCK_TARGET = "kontor_avail_stock_target"
TMP_TEXT = "kontor_avail_text"
TMP_TEXT_VALUE = "kontor_avail_text_value"
TMP_SHOP = "kontor_avail_shop"


class PrestaShopDatabaseError(PlatformError):
    """The shop's database refused or does not look like PrestaShop; `message` is meant for the seller."""


@dataclass(frozen=True)
class ShopItem:
    """A product (id_product_attribute 0) or one of its combinations, as the shop lists it."""

    id_product: int
    id_product_attribute: int
    reference: str
    ean13: str
    name: str


class Shop(NamedTuple):
    """A shop of a multistore PrestaShop and the group it belongs to."""

    id_shop: int
    id_shop_group: int
    name: str


class Language(NamedTuple):
    """A language of the shop (product_lang rows exist per language)."""

    id_lang: int
    iso_code: str
    name: str
    active: bool


@dataclass(frozen=True)
class AvailabilityWrite:
    """What one product or combination should say in the shop.

    `texts` maps a language id to (available_now, available_later). product_lang has no
    combination, so texts apply to the whole product: pass None for combination rows, or when
    texts should not be written at all.
    """

    id_product: int
    id_product_attribute: int
    out_of_stock: int
    texts: dict[int, tuple[str | None, str | None]] | None = None


@dataclass(frozen=True)
class RowChange:
    """One row that changes (or would change, in a dry run): its key and the columns before/after."""

    table: str
    key: dict[str, int]
    before: dict[str, object]
    after: dict[str, object]


@dataclass(frozen=True)
class MissingRow:
    """A row the write needed but the shop does not have (it is reported, never created)."""

    table: str
    key: dict[str, int]
    reason: str


@dataclass
class TableCounts:
    """Target rows of one table: changed, already right, or absent from the shop."""

    changed: int = 0
    unchanged: int = 0
    missing: int = 0

    def add(self, other: TableCounts) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.missing += other.missing


@dataclass
class AvailabilityReport:
    """The outcome of write_availability; a dry run reports the same diff without writing."""

    dry_run: bool
    products: int = 0  # writes given: products and combinations
    stock: TableCounts = field(default_factory=TableCounts)
    texts: TableCounts = field(default_factory=TableCounts)
    changed_rows: list[RowChange] = field(default_factory=list)
    missing_rows: list[MissingRow] = field(default_factory=list)
    # Every write (id_product, id_product_attribute) that lacks at least one row in the shop: all
    # of them, not a sample. A missing product_lang row counts against the write that carried
    # the product's texts.
    missing_keys: set[tuple[int, int]] = field(default_factory=set)
    targets: list[str] = field(default_factory=list)
    chunks: int = 0
    duration: float = 0.0

    @property
    def changed(self) -> int:
        return self.stock.changed + self.texts.changed

    @property
    def unchanged(self) -> int:
        return self.stock.unchanged + self.texts.unchanged

    @property
    def missing(self) -> int:
        return self.stock.missing + self.texts.missing

    def summary(self) -> str:
        """One line for a run log."""
        verb = "would change" if self.dry_run else "changed"
        return (f"{self.products} products/combinations: stock_available {verb} {self.stock.changed}, "
                f"unchanged {self.stock.unchanged}, missing {self.stock.missing}; product_lang {verb} "
                f"{self.texts.changed}, unchanged {self.texts.unchanged}, missing {self.texts.missing} "
                f"({self.duration:.2f} s)")


@dataclass(frozen=True)
class _StockTarget:
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


# A product's texts: ((id_lang, available_now, available_later), ...) in language order. Few
# distinct sets serve many products, so each set is sent once per chunk and products refer to it.
TextSet = tuple[tuple[int, str | None, str | None], ...]


@dataclass
class _Chunk:
    """Validated writes of one transaction; a product's rows never straddle two chunks."""

    stock: list[tuple[int, int, int]]
    texts: dict[int, TextSet]
    text_owners: dict[int, int]  # id_product -> the id_product_attribute of the write carrying its texts


@dataclass
class _ChunkResult:
    stock: TableCounts = field(default_factory=TableCounts)
    texts: TableCounts = field(default_factory=TableCounts)
    changed_rows: list[RowChange] = field(default_factory=list)
    missing_rows: list[MissingRow] = field(default_factory=list)
    missing_keys: set[tuple[int, int]] = field(default_factory=set)


def normalise_dsn(dsn: str) -> sa.URL:
    """A SQLAlchemy URL for PyMySQL from `mysql://`, `mysql+pymysql://` or `mariadb://` DSNs."""
    try:
        url = sa.make_url(dsn.strip())
    except sa.exc.ArgumentError as error:
        raise ValueError(f"Not a database address: {dsn!r}. "
                         "Expected mysql://user:password@host:3306/database.") from error
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise ValueError(f"Not a MySQL/MariaDB address: {url.get_backend_name()}://… "
                         "Expected mysql://user:password@host:3306/database.")
    if not url.database:
        raise ValueError("The database address has no database name (…/database at the end).")
    # PyMySQL is the driver Kontor ships; the mysql dialect works against MariaDB too.
    url = url.set(drivername="mysql+pymysql")
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


class PrestaShopDatabase:
    """One PrestaShop database, reached directly over MySQL."""

    def __init__(self, dsn: str, prefix: str = DEFAULT_PREFIX, *, connect_timeout: int = 10) -> None:
        if not PREFIX_PATTERN.match(prefix):
            raise ValueError(f"Table prefix {prefix!r} may hold only letters, digits and underscores.")
        self.prefix = prefix
        self.url = normalise_dsn(dsn)
        self.engine: Engine = sa.create_engine(
            self.url, pool_pre_ping=True, pool_recycle=1800, connect_args={"connect_timeout": connect_timeout})

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> PrestaShopDatabase:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def table(self, name: str) -> str:
        """The quoted, prefixed name of a PrestaShop table."""
        return f"`{self.prefix}{name}`"

    # -- reading ---------------------------------------------------------------------------------

    def check(self) -> str:
        """Connect, make sure PrestaShop's tables are there, and say what was found, in words."""
        with self._connect() as conn:
            version = conn.exec_driver_sql("SELECT VERSION()").scalar()
            present = self._tables_present(conn)
            missing = [self.prefix + name for name in REQUIRED_TABLES if self.prefix + name not in present]
            if missing:
                raise PrestaShopDatabaseError(self._missing_tables_message(conn, missing))
            counts = conn.execute(sa.text(
                f"SELECT (SELECT COUNT(*) FROM {self.table('shop')}),"
                f" (SELECT COUNT(*) FROM {self.table('product')}),"
                f" (SELECT COUNT(*) FROM {self.table('product_attribute')})")).one()
        server = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return (f"Connected to {server} {version.split('-')[0]}, database {self.url.database}, "
                f"table prefix {self.prefix}: {counts[0]} shops, {counts[1]} products, {counts[2]} combinations.")

    def shops(self) -> list[Shop]:
        """The shops that are not deleted: (id_shop, id_shop_group, name)."""
        with self._connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT id_shop, id_shop_group, name FROM {self.table('shop')} WHERE deleted = 0 ORDER BY id_shop"))
            return [Shop(int(r[0]), int(r[1]), r[2]) for r in rows]

    def languages(self) -> list[Language]:
        """The shop's languages: (id_lang, iso_code, name, active)."""
        with self._connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT id_lang, iso_code, name, active FROM {self.table('lang')} ORDER BY id_lang"))
            return [Language(int(r[0]), r[1], r[2], bool(r[3])) for r in rows]

    def items(self, language_id: int | None = None, *, shop_id: int | None = None,
              page_size: int = 2000) -> Iterator[ShopItem]:
        """Every product (id_product_attribute 0) followed by its combinations, in id order.

        The name comes from product_lang in `language_id` (default: the shop's default language)
        and in `shop_id` (default: each product's default shop), else from any shop. Combinations
        carry their product's name. References and EANs are stripped; NULL becomes "". Pages are
        read by id (keyset) on a fresh connection each, so a slow consumer never holds the shop's
        tables open.
        """
        with self._connect() as conn:
            language = language_id if language_id is not None else self._default_language(conn)
        after = 0
        while True:
            with self._connect() as conn:
                products = self._product_page(conn, after, language, shop_id, page_size)
                if not products:
                    return
                combinations = self._combinations(conn, products[0][0], products[-1][0])
            for id_product, reference, ean13, name in products:
                yield ShopItem(id_product, 0, _clean(reference), _clean(ean13), name or "")
                for id_attribute, attribute_reference, attribute_ean in combinations.get(id_product, ()):
                    yield ShopItem(id_product, id_attribute, _clean(attribute_reference), _clean(attribute_ean),
                                   name or "")
            after = products[-1][0]

    def _product_page(self, conn: Connection, after: int, language: int, shop_id: int | None,
                      limit: int) -> list[tuple]:
        shop = ":shop" if shop_id is not None else "p.id_shop_default"
        rows = conn.execute(sa.text(
            f"SELECT p.id_product, p.reference, p.ean13, COALESCE(pl.name,"
            f"   (SELECT MIN(pl2.name) FROM {self.table('product_lang')} pl2"
            f"    WHERE pl2.id_product = p.id_product AND pl2.id_lang = :lang))"
            f" FROM {self.table('product')} p"
            f" LEFT JOIN {self.table('product_lang')} pl"
            f"   ON pl.id_product = p.id_product AND pl.id_shop = {shop} AND pl.id_lang = :lang"
            f" WHERE p.id_product > :after ORDER BY p.id_product LIMIT :limit"),
            {"after": after, "lang": language, "shop": shop_id, "limit": limit})
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    def _combinations(self, conn: Connection, first: int, last: int) -> dict[int, list[tuple]]:
        rows = conn.execute(sa.text(
            f"SELECT id_product, id_product_attribute, reference, ean13 FROM {self.table('product_attribute')}"
            " WHERE id_product BETWEEN :first AND :last ORDER BY id_product, id_product_attribute"),
            {"first": first, "last": last})
        combinations: dict[int, list[tuple]] = {}
        for id_product, id_attribute, reference, ean13 in rows:
            combinations.setdefault(int(id_product), []).append((int(id_attribute), reference, ean13))
        return combinations

    def _default_language(self, conn: Connection) -> int:
        present = self._tables_present(conn)
        if self.prefix + "configuration" in present:
            value = conn.execute(sa.text(
                f"SELECT value FROM {self.table('configuration')} WHERE name = 'PS_LANG_DEFAULT'"
                " ORDER BY id_shop IS NOT NULL, id_shop_group IS NOT NULL LIMIT 1")).scalar()
            if value and str(value).strip().isdigit():
                return int(value)
        if self.prefix + "lang" in present:
            lowest = conn.execute(sa.text(f"SELECT MIN(id_lang) FROM {self.table('lang')}")).scalar()
            if lowest:
                return int(lowest)
        return 1

    # -- writing ---------------------------------------------------------------------------------

    def write_availability(self, writes: Sequence[AvailabilityWrite], *, shop_ids: Sequence[int],
                           language_ids: Sequence[int], dry_run: bool = False,
                           chunk_size: int = DEFAULT_CHUNK_SIZE, sample_size: int = SAMPLE_SIZE
                           ) -> AvailabilityReport:
        """Set out_of_stock and the availability texts of the given products in the given shops.

        stock_available: per configured shop, the row PrestaShop itself reads — (id_shop = 0,
        id_shop_group = g) once per group that shares stock, else (id_shop = s, id_shop_group = 0).
        product_lang: (id_product, s, l) for each shop s and each language l that is both in
        `language_ids` and in the write's texts. Only rows whose value differs are written; rows
        the shop lacks are reported in `missing_rows`, never inserted. Each chunk of `chunk_size`
        writes is one transaction (retried on deadlock). `dry_run` computes the same report with
        SELECTs only (into this connection's temporary tables) and changes nothing in the shop.
        """
        started = time.perf_counter()
        if not shop_ids:
            raise ValueError("At least one shop id is needed.")
        chunks = list(_chunks(writes, language_ids, max(1, chunk_size)))
        report = AvailabilityReport(dry_run=dry_run, products=len(writes), chunks=len(chunks))
        with self._connect() as conn:
            targets = self._stock_targets(conn, shop_ids)
            report.targets = [target.describe() for target in targets]
            conn.commit()  # temporary tables are created outside any transaction (GTID-safe)
            writers = (_TableWriter(_stock_sql(self.table("stock_available"), targets), dry_run),
                       _TableWriter(_text_sql(self.table("product_lang"), len(set(shop_ids))), dry_run))
            self._create_temporary_tables(conn, targets, shop_ids)
            try:
                for chunk in chunks:
                    _merge(report, self._apply_chunk_with_retries(conn, chunk, writers, _rooms(report, sample_size)))
            finally:
                self._drop_temporary_tables(conn)
        # Chunks add their samples as they go; list them table by table, in key order, so the
        # report does not depend on the chunk size.
        report.changed_rows.sort(key=lambda row: TABLE_ORDER[row.table])
        report.missing_rows.sort(key=lambda row: TABLE_ORDER[row.table])
        report.duration = time.perf_counter() - started
        return report

    def _stock_targets(self, conn: Connection, shop_ids: Sequence[int]) -> list[_StockTarget]:
        """Which stock_available row serves each configured shop, one target per shared group."""
        group_of = {int(shop): int(group) for shop, group in conn.execute(sa.text(
            f"SELECT id_shop, id_shop_group FROM {self.table('shop')} ORDER BY id_shop"))}
        unknown = [shop for shop in shop_ids if int(shop) not in group_of]
        if unknown:
            raise PrestaShopDatabaseError(
                f"Shop {', '.join(map(str, unknown))} does not exist in {self.table('shop')}.")
        configured = list(dict.fromkeys(int(shop) for shop in shop_ids))
        sharing = self._groups_sharing_stock(conn, {group_of[shop] for shop in configured})
        targets: dict[tuple[int, int], tuple[int, ...]] = {}
        for shop in configured:
            group = group_of[shop]
            if group in sharing:
                # Every shop of the group sells from this row, configured or not: say so.
                targets[(0, group)] = tuple(s for s, g in group_of.items() if g == group)
            else:
                targets[(shop, 0)] = (shop,)
        return [_StockTarget(id_shop, id_shop_group, shops) for (id_shop, id_shop_group), shops in targets.items()]

    def _groups_sharing_stock(self, conn: Connection, groups: set[int]) -> set[int]:
        if self.prefix + "shop_group" in self._tables_present(conn):
            rows = conn.execute(sa.text(
                f"SELECT id_shop_group FROM {self.table('shop_group')}"
                " WHERE share_stock = 1 AND id_shop_group IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)), {"ids": sorted(groups)})
            return {int(r[0]) for r in rows}
        # Without shop_group (trimmed schemas), a group shares stock when PrestaShop keeps
        # group rows for it: stock_available rows with id_shop = 0 and that id_shop_group.
        return {group for group in groups if conn.execute(sa.text(
            f"SELECT 1 FROM {self.table('stock_available')} WHERE id_shop = 0 AND id_shop_group = :group LIMIT 1"),
            {"group": group}).first()}

    def _create_temporary_tables(self, conn: Connection, targets: list[_StockTarget],
                                 shop_ids: Sequence[int]) -> None:
        # Left over in a pooled connection if an earlier run died half-way.
        self._drop_temporary_tables(conn)
        # Keys and ids only in MEMORY tables (small rows, no redo log); the texts, which can be
        # long and many, in a default-engine table so no heap-size limit applies.
        statements = [
            f"CREATE TEMPORARY TABLE {TMP_STOCK} (id_product INT UNSIGNED NOT NULL,"
            " id_product_attribute INT UNSIGNED NOT NULL, out_of_stock TINYINT UNSIGNED NOT NULL,"
            " PRIMARY KEY (id_product, id_product_attribute)) ENGINE=MEMORY",
            f"CREATE TEMPORARY TABLE {TMP_STOCK_TARGET} (id_shop INT UNSIGNED NOT NULL,"
            " id_shop_group INT UNSIGNED NOT NULL, PRIMARY KEY (id_shop, id_shop_group)) ENGINE=MEMORY",
            f"CREATE TEMPORARY TABLE {TMP_TEXT} (id_product INT UNSIGNED NOT NULL PRIMARY KEY,"
            " id_set INT UNSIGNED NOT NULL) ENGINE=MEMORY",
            f"CREATE TEMPORARY TABLE {TMP_TEXT_VALUE} (id_set INT UNSIGNED NOT NULL, id_lang INT UNSIGNED NOT NULL,"
            " available_now VARCHAR(255) NULL, available_later VARCHAR(255) NULL, PRIMARY KEY (id_set, id_lang))"
            " DEFAULT CHARSET=utf8mb4",
            f"CREATE TEMPORARY TABLE {TMP_SHOP} (id_shop INT UNSIGNED NOT NULL PRIMARY KEY) ENGINE=MEMORY",
            f"INSERT INTO {TMP_STOCK_TARGET} VALUES "
            + ",".join(f"({t.id_shop},{t.id_shop_group})" for t in targets),
            f"INSERT INTO {TMP_SHOP} VALUES " + ",".join(f"({int(s)})" for s in dict.fromkeys(shop_ids)),
        ]
        for statement in statements:
            _run(conn, statement)
        conn.commit()

    def _drop_temporary_tables(self, conn: Connection) -> None:
        try:
            _run(conn, f"DROP TEMPORARY TABLE IF EXISTS {TMP_STOCK}, {TMP_STOCK_TARGET}, {TMP_TEXT},"
                       f" {TMP_TEXT_VALUE}, {TMP_SHOP}")
            conn.commit()
        except sa.exc.DBAPIError:
            # The connection is broken (the error that broke it is on its way up): let the pool
            # drop it, and its temporary tables with it.
            conn.invalidate()

    def _apply_chunk_with_retries(self, conn: Connection, chunk: _Chunk, writers: tuple[_TableWriter, _TableWriter],
                                  rooms: dict[str, tuple[int, int]]) -> _ChunkResult:
        attempt = 1
        while True:
            try:
                result = self._apply_chunk(conn, chunk, writers, rooms)
                conn.commit()
                return result
            except sa.exc.DBAPIError as error:
                conn.rollback()
                # A deadlock with the shop's own checkout can happen under load; the chunk only
                # sets values, so running it again is safe.
                if _error_number(error) not in (1205, 1213) or attempt == CHUNK_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
                attempt += 1

    def _apply_chunk(self, conn: Connection, chunk: _Chunk, writers: tuple[_TableWriter, _TableWriter],
                     rooms: dict[str, tuple[int, int]]) -> _ChunkResult:
        self._load_chunk(conn, chunk)
        stock, texts = writers
        result = _ChunkResult()
        result.stock = stock.apply(conn, len(chunk.stock) * stock.sql.fanout, rooms[stock.sql.name], result,
                                   lambda key: (key["id_product"], key["id_product_attribute"]))
        if chunk.texts:
            expected = sum(len(text_set) for text_set in chunk.texts.values()) * texts.sql.fanout
            result.texts = texts.apply(conn, expected, rooms[texts.sql.name], result,
                                       lambda key: (key["id_product"], chunk.text_owners[key["id_product"]]))
        return result

    def _load_chunk(self, conn: Connection, chunk: _Chunk) -> None:
        _run(conn, f"DELETE FROM {TMP_STOCK}")
        _run(conn, f"DELETE FROM {TMP_TEXT}")
        _run(conn, f"DELETE FROM {TMP_TEXT_VALUE}")
        _run(conn, f"INSERT INTO {TMP_STOCK} VALUES " + ",".join(f"({p},{a},{o})" for p, a, o in chunk.stock))
        if not chunk.texts:
            return
        set_ids: dict[TextSet, int] = {}
        rows = ",".join(f"({id_product},{set_ids.setdefault(texts, len(set_ids) + 1)})"
                        for id_product, texts in chunk.texts.items())
        escape = conn.connection.dbapi_connection.escape
        values = ",".join(f"({set_id},{id_lang},{escape(now)},{escape(later)})"
                          for texts, set_id in set_ids.items() for id_lang, now, later in texts)
        _run(conn, f"INSERT INTO {TMP_TEXT_VALUE} VALUES {values}")
        _run(conn, f"INSERT INTO {TMP_TEXT} VALUES {rows}")

    # -- helpers ---------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A pooled connection; database errors come out as PrestaShopDatabaseError / TransientPlatformError."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as error:
            raise _translate(error) from error

    def _tables_present(self, conn: Connection) -> set[str]:
        rows = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name LIKE :pattern"), {"pattern": _like_prefix(self.prefix)})
        return {r[0] for r in rows}

    def _missing_tables_message(self, conn: Connection, missing: list[str]) -> str:
        message = f"Connected, but these tables are missing: {', '.join(missing)}."
        found = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name LIKE '%stock\\_available' ORDER BY table_name LIMIT 5")).scalars().all()
        prefixes = [name[: -len("stock_available")] for name in found]
        if prefixes:
            message += f" The database has PrestaShop tables with prefix {', '.join(prefixes)} — is the prefix right?"
        else:
            message += " Is this the shop's database?"
        return message


# -- set-based statements -------------------------------------------------------------------------


@dataclass(frozen=True)
class _TableSql:
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
    fanout: int  # target rows per source row: stock targets, or shops for texts

    def found(self) -> str:
        return f"SELECT COUNT(*) FROM {self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"

    def counts(self) -> str:
        return (f"SELECT COUNT(*), COUNT(x.{self.present}),"
                f" COALESCE(SUM(x.{self.present} IS NOT NULL AND {self.differs}), 0)"
                f" FROM {self.sources} LEFT JOIN {self.target} x ON {self.on}")

    def changes(self, limit: int) -> str:
        columns = ", ".join(expression for _, expression in self.keys + self.before + self.after)
        return (f"SELECT {columns} FROM {self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"
                f" WHERE {self.differs} ORDER BY {self._order()} LIMIT {int(limit)}")

    def missing(self) -> str:
        columns = ", ".join(expression for _, expression in self.keys)
        return (f"SELECT {columns} FROM {self.sources} LEFT JOIN {self.target} x ON {self.on}"
                f" WHERE x.{self.present} IS NULL ORDER BY {self._order()}")

    def update(self) -> str:
        return (f"UPDATE {self.sources} STRAIGHT_JOIN {self.target} x ON {self.on}"
                f" SET {self.assign} WHERE {self.differs}")

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


def _stock_sql(target: str, targets: list[_StockTarget]) -> _TableSql:
    by_key = {(t.id_shop, t.id_shop_group): t for t in targets}

    def reason(key: dict[str, int]) -> str:
        where = by_key[(key["id_shop"], key["id_shop_group"])].describe()
        return (f"no stock_available row for product {key['id_product']} "
                f"combination {key['id_product_attribute']} in {where}")

    return _TableSql(
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
        fanout=len(targets))


def _text_sql(target: str, shop_count: int) -> _TableSql:
    def reason(key: dict[str, int]) -> str:
        return (f"no product_lang row for product {key['id_product']} in shop {key['id_shop']}, "
                f"language {key['id_lang']}")

    # Compared as bytes: the shop's collation is case- and accent-insensitive, and a text that
    # differs only in case or accents must still be written. <=> because either side may be NULL.
    same = ("CAST(x.{0} AS BINARY) <=> CAST(v.{0} AS BINARY)")
    return _TableSql(
        name="product_lang",
        target=target,
        sources=f"{TMP_TEXT} t STRAIGHT_JOIN {TMP_TEXT_VALUE} v ON v.id_set = t.id_set STRAIGHT_JOIN {TMP_SHOP} s",
        on="x.id_product = t.id_product AND x.id_shop = s.id_shop AND x.id_lang = v.id_lang",
        present="id_product",
        differs=f"NOT ({same.format('available_now')} AND {same.format('available_later')})",
        assign="x.available_now = v.available_now, x.available_later = v.available_later",
        keys=(("id_product", "t.id_product"), ("id_shop", "s.id_shop"), ("id_lang", "v.id_lang")),
        before=(("available_now", "x.available_now"), ("available_later", "x.available_later")),
        after=(("available_now", "v.available_now"), ("available_later", "v.available_later")),
        missing_reason=reason,
        fanout=shop_count)


class _TableWriter:
    """Diffs and updates one table, chunk after chunk, in the cheaper order of statements.

    A sync is mostly either a first run (nearly every row changes) or a re-run (nearly none do),
    and the previous chunk predicts the next. Expecting few changes, it counts first and skips
    the UPDATE when nothing differs (one pass over the rows). Expecting many, it updates first
    and needs no count at all when every expected row changed (again one pass).
    """

    def __init__(self, sql: _TableSql, dry_run: bool) -> None:
        self.sql = sql
        self.dry_run = dry_run
        self.expect_changes = False

    def apply(self, conn: Connection, expected: int, room: tuple[int, int], result: _ChunkResult,
              write_key: Callable[[dict[str, int]], tuple[int, int]]) -> TableCounts:
        """Count, sample and (unless dry) update the rows of the loaded chunk.

        `write_key` names the write a missing row belongs to, for the report's missing_keys.
        """
        if self.expect_changes and not self.dry_run:
            counts = self._update_first(conn, expected, room[0], result)
        else:
            counts = self._count_first(conn, room[0], result)
        if counts.missing:
            self._collect_missing(conn, room[1], result, write_key)
        self.expect_changes = counts.changed * 2 > counts.changed + counts.unchanged
        return counts

    def _count_first(self, conn: Connection, room: int, result: _ChunkResult) -> TableCounts:
        expected, found, differing = (int(value) for value in _run(conn, self.sql.counts()).one())
        self._sample_changes(conn, room if differing else 0, result)
        changed = differing
        if differing and not self.dry_run:
            changed = self._update(conn)
        return TableCounts(changed=changed, unchanged=found - changed, missing=expected - found)

    def _update_first(self, conn: Connection, expected: int, room: int, result: _ChunkResult) -> TableCounts:
        self._sample_changes(conn, room, result)
        changed = self._update(conn)
        found = expected if changed == expected else int(_run(conn, self.sql.found()).scalar())
        return TableCounts(changed=changed, unchanged=found - changed, missing=expected - found)

    def _update(self, conn: Connection) -> int:
        # The WHERE keeps only rows that differ, so the row count means "changed" whether the
        # connection reports found rows (SQLAlchemy sets CLIENT.FOUND_ROWS) or changed rows.
        return _run(conn, self.sql.update()).rowcount

    def _sample_changes(self, conn: Connection, room: int, result: _ChunkResult) -> None:
        # Read before the UPDATE, so a dry run and a real run report the same rows.
        if room:
            result.changed_rows.extend(self.sql.change(row) for row in _run(conn, self.sql.changes(room)))

    def _collect_missing(self, conn: Connection, room: int, result: _ChunkResult,
                         write_key: Callable[[dict[str, int]], tuple[int, int]]) -> None:
        # All of them (rows a shop lacks are few), so the caller knows every write that did not land.
        keys = [self.sql.key(row) for row in _run(conn, self.sql.missing())]
        result.missing_keys.update(write_key(key) for key in keys)
        result.missing_rows.extend(self.sql.missing_row(key) for key in keys[:room])


# -- validating and chunking ----------------------------------------------------------------------


def _chunks(writes: Sequence[AvailabilityWrite], language_ids: Sequence[int], chunk_size: int) -> Iterator[_Chunk]:
    """Validated writes in id order, about chunk_size rows each, never splitting a product."""
    stock, texts, owners = _validated(writes, language_ids)
    chunk = _Chunk([], {}, {})
    for row in stock:
        id_product = row[0]
        if len(chunk.stock) >= chunk_size and id_product != chunk.stock[-1][0]:
            yield chunk
            chunk = _Chunk([], {}, {})
        chunk.stock.append(row)
        if id_product in texts:
            chunk.texts[id_product] = texts[id_product]
            chunk.text_owners[id_product] = owners[id_product]
    if chunk.stock:
        yield chunk


def _validated(writes: Sequence[AvailabilityWrite], language_ids: Sequence[int]
               ) -> tuple[list[tuple[int, int, int]], dict[int, TextSet], dict[int, int]]:
    """(id_product, id_product_attribute, out_of_stock) sorted, each product's texts, and which
    combination's write carried them.

    Tight on purpose: it runs once per write, 100,000 times in a big sync.
    """
    languages = sorted({int(language) for language in language_ids})
    stock: list[tuple[int, int, int]] = []
    texts: dict[int, TextSet] = {}
    owners: dict[int, int] = {}
    checked: set[TextSet] = set()
    for write in writes:
        id_product, id_attribute = int(write.id_product), int(write.id_product_attribute)
        out_of_stock = write.out_of_stock
        if id_product <= 0 or id_attribute < 0:
            raise ValueError(f"Not a PrestaShop product/combination id: {id_product}/{id_attribute}.")
        if out_of_stock not in OUT_OF_STOCK_VALUES:
            raise ValueError(f"out_of_stock must be 0, 1 or 2, not {out_of_stock!r} (product {id_product}).")
        stock.append((id_product, id_attribute, int(out_of_stock)))
        by_language = write.texts
        if by_language is None:
            continue
        chosen = tuple([(language, *by_language[language]) for language in languages if language in by_language])
        if chosen not in checked:
            _check_texts(chosen, id_product)
            checked.add(chosen)
        if texts.setdefault(id_product, chosen) != chosen:
            raise ValueError(f"Product {id_product} is given two different availability texts.")
        owners.setdefault(id_product, id_attribute)
    stock.sort()
    _refuse_duplicates(stock)
    return stock, {id_product: chosen for id_product, chosen in texts.items() if chosen}, owners


def _refuse_duplicates(stock: list[tuple[int, int, int]]) -> None:
    if len({(p, a) for p, a, _ in stock}) == len(stock):
        return
    for previous, row in zip(stock, stock[1:]):
        if previous[:2] == row[:2]:
            raise ValueError(f"Product {row[0]} combination {row[1]} is listed twice.")


def _check_texts(texts: TextSet, id_product: int) -> None:
    for _, *pair in texts:
        for text in pair:
            if text is not None and not isinstance(text, str):
                raise ValueError(f"Availability texts must be strings (product {id_product}): {text!r}.")
            if text is not None and len(text) > TEXT_MAX_LENGTH:
                raise ValueError(f"Availability text longer than {TEXT_MAX_LENGTH} characters "
                                 f"(product {id_product}): {text[:40]!r}…")


# -- small helpers --------------------------------------------------------------------------------


def _rooms(report: AvailabilityReport, sample_size: int) -> dict[str, tuple[int, int]]:
    """How many more changed / missing sample rows the report takes, per table."""
    rooms = {}
    for table in TABLE_ORDER:
        changes = sum(1 for row in report.changed_rows if row.table == table)
        missing = sum(1 for row in report.missing_rows if row.table == table)
        rooms[table] = (max(0, sample_size - changes), max(0, sample_size - missing))
    return rooms


def _merge(report: AvailabilityReport, result: _ChunkResult) -> None:
    report.stock.add(result.stock)
    report.texts.add(result.texts)
    report.changed_rows.extend(result.changed_rows)
    report.missing_rows.extend(result.missing_rows)
    report.missing_keys.update(result.missing_keys)


def _run(conn: Connection, statement: str):
    # no_parameters: the statement is complete SQL (ids are ints, texts escaped by the driver), so
    # the driver must not read a % in a text as a parameter marker.
    return conn.exec_driver_sql(statement, execution_options={"no_parameters": True})


def _plain(value: object) -> object:
    return int(value) if isinstance(value, (int, bool)) else value


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _error_number(error: sa.exc.DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _translate(error: sa.exc.DBAPIError) -> PlatformError:
    """A database error in words for the seller; connection trouble and deadlocks are transient."""
    number = _error_number(error)
    args = getattr(error.orig, "args", ())
    detail = args[1] if len(args) > 1 else str(error.orig)
    message = f"The shop's database answered: {detail}" + (f" (MySQL error {number})" if number else "")
    if number in RETRYABLE_ERRORS:
        return TransientPlatformError(message)
    return PrestaShopDatabaseError(message)
