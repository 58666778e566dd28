"""Throwaway MariaDB databases with PrestaShop's real schema, and shops to fill them with.

The schema is tests/fixtures/prestashop/db_structure_subset.sql with its placeholders replaced
the way PrestaShop's installer does: PREFIX_ -> the table prefix, ENGINE_TYPE -> InnoDB,
COLLATION -> '' or a COLLATE clause.

`load_standard_shop` fills a database with a small multistore shop full of awkward real-world
data (the constants below name its ids); `load_bulk_shop` fills one with many plain products for
timings and chunking.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.fakes import fixture_path

MARIADB_ADMIN_URL = os.environ.get("KONTOR_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
INSTALLER_ENGINE = "InnoDB"
DATABASE_NAME_PREFIX = "kontor_ps_test_"

# -- the standard shop ----------------------------------------------------------------------------
# Group 1 does not share stock: its shop 1 keeps its own rows (id_shop = 1, id_shop_group = 0).
# Group 2 shares stock between shops 2 and 3: one row per product (id_shop = 0, id_shop_group = 2).
INDEPENDENT_SHOP = 1
INDEPENDENT_GROUP = 1
SHARED_GROUP = 2
SHARED_SHOPS = (2, 3)
ALL_SHOPS = (INDEPENDENT_SHOP, *SHARED_SHOPS)
LANGUAGES = (1, 2, 3)  # pl, en, de

SHOP_GROUPS = ((INDEPENDENT_GROUP, "Domyślna", False), (SHARED_GROUP, "Outlety", True))
SHOPS = ((1, INDEPENDENT_GROUP, "Sklep główny"), (2, SHARED_GROUP, "Outlet Kraków"), (3, SHARED_GROUP, "Outlet Łódź"))
LANGUAGE_ROWS = ((1, "Polski (Polish)", "pl", "pl-pl", "pl-PL"),
                 (2, "English (English)", "en", "en-us", "en-US"),
                 (3, "Deutsch (German)", "de", "de-de", "de-DE"))
# available_now / available_later per language before any sync: a mix of texts, '' and NULL.
INITIAL_TEXTS = {1: ("Dostępny", "Wysyłka w 3 dni"), 2: ("In stock", ""), 3: ("Auf Lager", None)}
INITIAL_OUT_OF_STOCK = 2  # "use the shop's default", as PrestaShop creates rows


@dataclass(frozen=True)
class SeedProduct:
    id_product: int
    reference: str | None
    ean13: str | None
    name: str
    # (id_product_attribute, reference, ean13)
    combinations: tuple[tuple[int, str | None, str | None], ...] = ()
    texts: bool = True  # False: available_now / available_later are NULL in every shop and language


PRODUCTS = (
    SeedProduct(1, "KRZ-001", "0012345678905", "Krzesło dębowe „Żółw”"),
    SeedProduct(2, "TSH", "5901234123457", "Koszulka z łąki",
                combinations=((1, "TSH-S", "5901234123464"), (2, "TSH-M", None), (3, "", "0040000000017"))),
    SeedProduct(3, "", None, "Zażółć gęślą jaźń"),
    SeedProduct(4, "DUP-1", "0400638133393", "Półka sosnowa"),
    SeedProduct(5, "DUP-1", None, "Półka sosnowa (druga)"),
    SeedProduct(6, "NUL-6", "5901234123471", "Stół bez tekstów dostępności", texts=False),
    SeedProduct(7, "SOLO-7", "5901234123488", "Tylko w outletach"),
    SeedProduct(8, "GRP-8", "5901234123495", "Bez wiersza grupy"),
    SeedProduct(9, "KOMB-9", None, "Kubek ceramiczny",
                combinations=((4, "KOMB-9-A", "0000000000017"), (5, "KOMB-9-B", "5901234123501"))),
    SeedProduct(10, "  WS-10 ", " 590123412351", "Szafa z odstępami w indeksie"),
)
# Deliberate gaps, as real shops have them:
ABSENT_FROM_SHOP = {7: INDEPENDENT_SHOP}  # in product, not in product_shop / product_lang / stock of that shop
MISSING_GROUP_STOCK = {(8, 0)}  # no (id_shop = 0, id_shop_group = 2) row
MISSING_SHOP_STOCK = {(9, 5)}  # no row in the independent shop for this combination
# Rows left behind for shops 2 and 3 from before their group shared stock; PrestaShop ignores them.
STALE_SHOP_STOCK_PRODUCTS = (1, 2)
ALREADY_ALLOWED = {(1, 0)}  # out_of_stock already 1 in the independent shop


def stock_keys(product: SeedProduct) -> list[tuple[int, int]]:
    """(id_product, id_product_attribute) of the product row and its combinations."""
    return [(product.id_product, 0)] + [(product.id_product, c[0]) for c in product.combinations]


# -- databases ------------------------------------------------------------------------------------


class MariaDBUnavailable(RuntimeError):
    """MariaDB could not be reached at MARIADB_ADMIN_URL."""


def admin_engine(url: str = MARIADB_ADMIN_URL) -> Engine:
    """An engine on the server (no database), checked with a round trip."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as error:
        engine.dispose()
        raise MariaDBUnavailable(f"MariaDB is not reachable at {url} ({error.orig})") from error
    return engine


def schema_statements(prefix: str = "ps_", collation: str = "") -> list[str]:
    """db_structure_subset.sql as the installer would run it, one statement per item."""
    text = fixture_path("prestashop", "db_structure_subset.sql").read_text(encoding="utf-8")
    text = text.replace("PREFIX_", prefix).replace("ENGINE_TYPE", INSTALLER_ENGINE).replace("COLLATION", collation)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in re.split(r";\s*(?:\n|$)", text) if statement.strip()]


# Not in the schema subset, so written here (not copied) with the columns of PrestaShop's ShopGroup
# entity; real shops have it, and its share_stock says whether a group's shops share stock.
SHOP_GROUP_DDL = """CREATE TABLE `{prefix}shop_group` (
  `id_shop_group` INT AUTO_INCREMENT NOT NULL,
  `name` VARCHAR(64) NOT NULL,
  `color` VARCHAR(50) NOT NULL,
  `share_customer` TINYINT(1) NOT NULL,
  `share_order` TINYINT(1) NOT NULL,
  `share_stock` TINYINT(1) NOT NULL,
  `active` TINYINT(1) NOT NULL,
  `deleted` TINYINT(1) NOT NULL,
  PRIMARY KEY (`id_shop_group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


@dataclass
class PrestaShopTestDatabase:
    """One throwaway database: its DSN for the client under test, and helpers to read and write it."""

    name: str
    prefix: str
    admin: Engine
    engine: Engine = field(init=False)
    _known_tables: set[str] = field(init=False, default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.admin.url.set(database=self.name, query={"charset": "utf8mb4"}))

    @property
    def dsn(self) -> str:
        """mysql+pymysql://…/name, as a seller would paste it (password included)."""
        return self.engine.url.render_as_string(hide_password=False)

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"

    def execute(self, sql: str, params: dict | list[dict] | None = None) -> None:
        """Run SQL in which {table} is replaced by the prefixed name, e.g. "UPDATE {stock_available} …"."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(self._tables(sql)), params or {})

    def insert(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        self.execute(f"INSERT INTO {self.table(table)} ({', '.join(f'`{c}`' for c in columns)}) "
                     f"VALUES ({', '.join(':' + c for c in columns)})", rows)

    def rows(self, table: str, where: str = "1", params: dict | None = None) -> list[dict]:
        """Every column of the matching rows, ordered by the primary key."""
        order = ", ".join(f"`{c}`" for c in self.primary_key(table))
        with self.engine.connect() as conn:
            result = conn.execute(sa.text(
                f"SELECT * FROM {self.table(table)} WHERE {self._tables(where)} ORDER BY {order}"), params or {})
            return [dict(row._mapping) for row in result]

    def cell(self, table: str, column: str, **key) -> object:
        """One value; fails when the key does not match exactly one row."""
        where = " AND ".join(f"`{name}` = :{name}" for name in key)
        found = self.rows(table, where, key)
        assert len(found) == 1, f"{len(found)} rows in {self.prefix}{table} for {key}"
        return found[0][column]

    def count(self, table: str, **key) -> int:
        where = " AND ".join(f"`{name}` = :{name}" for name in key) or "1"
        with self.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {self.table(table)} WHERE {where}"), key).scalar()

    def snapshot(self, *tables: str) -> dict[str, list[dict]]:
        """Every row and column of the tables (default: all of them), for before/after comparisons."""
        return {table: self.rows(table) for table in tables or self.tables()}

    def tables(self) -> list[str]:
        """The PrestaShop tables of this database, without the prefix."""
        names = sa.inspect(self.engine).get_table_names()
        return sorted(name[len(self.prefix):] for name in names if name.startswith(self.prefix))

    def primary_key(self, table: str) -> list[str]:
        return sa.inspect(self.engine).get_pk_constraint(self.prefix + table)["constrained_columns"]

    def drop(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{self.name}`")

    def _tables(self, sql: str) -> str:
        # Only table names: a text such as '{delivery_days}' in the SQL stays as it is.
        names = set(re.findall(r"\{(\w+)\}", sql))
        if not names <= self._known_tables:
            self._known_tables = set(self.tables())
        return re.sub(r"\{(\w+)\}", lambda match: self.table(match.group(1))
                      if match.group(1) in self._known_tables else match.group(0), sql)


def create_database(admin: Engine, prefix: str = "ps_", *, collation: str = "",
                    shop_group_table: bool = False) -> PrestaShopTestDatabase:
    """A new database with a unique name, loaded with the PrestaShop schema under `prefix`."""
    name = f"{DATABASE_NAME_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    database = PrestaShopTestDatabase(name=name, prefix=prefix, admin=admin)
    statements = schema_statements(prefix, collation)
    if shop_group_table:
        statements.append(SHOP_GROUP_DDL.format(prefix=prefix))
    with database.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    return database


# -- contents -------------------------------------------------------------------------------------


def load_standard_shop(db: PrestaShopTestDatabase) -> None:
    """Three shops (one on its own, two sharing stock), three languages, the PRODUCTS above."""
    _load_shops_and_languages(db, SHOP_GROUPS, SHOPS, LANGUAGE_ROWS)
    for product in PRODUCTS:
        _load_product(db, product)


def _load_shops_and_languages(db: PrestaShopTestDatabase, groups, shops, languages) -> None:
    if _has_table(db, "shop_group"):
        db.insert("shop_group", [
            {"id_shop_group": g, "name": name, "color": "", "share_customer": 0, "share_order": 0,
             "share_stock": int(shares), "active": 1, "deleted": 0} for g, name, shares in groups])
    db.insert("shop", [
        {"id_shop": s, "id_shop_group": g, "name": name, "color": "", "id_category": 2, "theme_name": "classic",
         "active": 1, "deleted": 0} for s, g, name in shops])
    db.insert("lang", [
        {"id_lang": lang, "name": name, "active": 1, "iso_code": iso, "language_code": code, "locale": locale,
         "date_format_lite": "Y-m-d", "date_format_full": "Y-m-d H:i:s", "is_rtl": 0}
        for lang, name, iso, code, locale in languages])
    db.insert("configuration", [{"name": "PS_LANG_DEFAULT", "value": str(languages[0][0]),
                                 "date_add": "2024-01-01 00:00:00", "date_upd": "2024-01-01 00:00:00"}])


def _load_product(db: PrestaShopTestDatabase, product: SeedProduct) -> None:
    p = product.id_product
    shops = [s for s, _, _ in SHOPS if ABSENT_FROM_SHOP.get(p) != s]
    db.insert("product", [{
        "id_product": p, "id_tax_rules_group": 1, "reference": product.reference, "ean13": product.ean13,
        "quantity": 0, "price": f"{p * 10}.500000", "active": 1, "id_shop_default": 1,
        "date_add": "2024-01-02 10:00:00", "date_upd": "2024-01-02 10:00:00",
        "product_type": "combinations" if product.combinations else "standard"}])
    db.insert("product_shop", [{
        "id_product": p, "id_shop": s, "id_tax_rules_group": 1, "price": f"{p * 10 + s}.000000", "active": 1,
        "date_add": "2024-01-02 10:00:00", "date_upd": "2024-01-02 10:00:00"} for s in shops])
    db.insert("product_lang", [{
        "id_product": p, "id_shop": s, "id_lang": lang, "name": f"{product.name} [{iso}]",
        "link_rewrite": f"produkt-{p}", "description": f"<p>Opis {p} ({iso})</p>", "meta_title": f"Meta {p}",
        "available_now": INITIAL_TEXTS[lang][0] if product.texts else None,
        "available_later": INITIAL_TEXTS[lang][1] if product.texts else None,
        "delivery_in_stock": "1-2 dni", "delivery_out_stock": None}
        for s in shops for lang, _, iso, _, _ in LANGUAGE_ROWS])
    db.insert("product_attribute", [{
        "id_product_attribute": a, "id_product": p, "reference": reference, "ean13": ean13,
        "price": "1.000000", "default_on": 1 if index == 0 else None}
        for index, (a, reference, ean13) in enumerate(product.combinations)])
    db.insert("stock_available", _stock_rows(product, shops))


def _stock_rows(product: SeedProduct, shops: list[int]) -> list[dict]:
    rows = []
    for p, a in stock_keys(product):
        def row(id_shop: int, id_shop_group: int, out_of_stock: int = INITIAL_OUT_OF_STOCK) -> dict:
            return {"id_product": p, "id_product_attribute": a, "id_shop": id_shop, "id_shop_group": id_shop_group,
                    "quantity": p * 10 + a, "physical_quantity": p * 10 + a + 1, "reserved_quantity": 1,
                    "depends_on_stock": 0, "out_of_stock": out_of_stock, "location": f"R{p}-{a}"}

        if INDEPENDENT_SHOP in shops and (p, a) not in MISSING_SHOP_STOCK:
            rows.append(row(INDEPENDENT_SHOP, 0, 1 if (p, a) in ALREADY_ALLOWED else INITIAL_OUT_OF_STOCK))
        if (p, a) not in MISSING_GROUP_STOCK:
            rows.append(row(0, SHARED_GROUP))
        if p in STALE_SHOP_STOCK_PRODUCTS:
            rows.extend(row(s, 0, 0) for s in SHARED_SHOPS)
    return rows


def load_bulk_shop(db: PrestaShopTestDatabase, products: int, *, languages: tuple[int, ...] = (1, 2),
                   shop_id: int = 1, out_of_stock: int = 0, texts: tuple[str, str] = ("", "")) -> None:
    """One shop that keeps its own stock, `languages`, and products 1..n without combinations.

    Generated by the server (MariaDB's sequence engine), so 100,000 products take seconds.
    """
    _load_shops_and_languages(db, ((1, "Domyślna", False),), ((shop_id, 1, "Sklep"),),
                              [row for row in LANGUAGE_ROWS if row[0] in languages])
    seq = f"seq_1_to_{int(products)}"
    now, later = texts
    language_list = " UNION ALL ".join(f"SELECT {int(lang)} AS id_lang" for lang in languages)
    db.execute(f"INSERT INTO {{product}} (id_product, id_tax_rules_group, reference, ean13, active, date_add, date_upd)"
               f" SELECT seq, 1, CONCAT('BULK-', seq), LPAD(seq, 13, '0'), 1, NOW(), NOW() FROM {seq}")
    db.execute(f"INSERT INTO {{product_shop}} (id_product, id_shop, id_tax_rules_group, active, date_add, date_upd)"
               f" SELECT seq, {int(shop_id)}, 1, 1, NOW(), NOW() FROM {seq}")
    db.execute(f"INSERT INTO {{product_lang}} (id_product, id_shop, id_lang, link_rewrite, name,"
               f" available_now, available_later)"
               f" SELECT seq, {int(shop_id)}, l.id_lang, CONCAT('produkt-', seq), CONCAT('Produkt ', seq), :now, :later"
               f" FROM {seq} JOIN ({language_list}) l", {"now": now, "later": later})
    db.execute(f"INSERT INTO {{stock_available}} (id_product, id_product_attribute, id_shop, id_shop_group,"
               f" quantity, out_of_stock) SELECT seq, 0, {int(shop_id)}, 0, seq % 50, {int(out_of_stock)} FROM {seq}")


def _has_table(db: PrestaShopTestDatabase, name: str) -> bool:
    return sa.inspect(db.engine).has_table(db.prefix + name)
