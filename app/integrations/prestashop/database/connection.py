"""Reaching a PrestaShop database: the DSN, the pooled engine, table names and errors in words.

This package knows MySQL and PrestaShop's tables only. It takes its settings as arguments and
returns plain dataclasses (integrations/base.py); it never imports Flask or Kontor's models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.integrations.base import PlatformError, TransientPlatformError

DEFAULT_PREFIX = "ps_"
REQUIRED_TABLES = ("product", "product_lang", "product_attribute", "stock_available", "shop")
PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_]{0,32}$")

# MySQL error numbers worth another attempt: deadlock, lock wait timeout, lost or refused connection.
RETRYABLE_ERRORS = {1205, 1213, 2002, 2003, 2006, 2013, 1040}
DEADLOCK_ERRORS = (1205, 1213)


class PrestaShopDatabaseError(PlatformError):
    """The shop's database refused or does not look like PrestaShop; `message` is meant for the seller."""



class Shop(NamedTuple):
    """A shop of a multistore PrestaShop and the group it belongs to."""

    id_shop: int
    id_shop_group: int
    name: str


ALLOWED_OPTIONS = frozenset({"charset"})


class Language(NamedTuple):
    """A language of the shop (product_lang rows exist per language)."""

    id_lang: int
    iso_code: str
    name: str
    active: bool


def normalise_dsn(dsn: str) -> sa.URL:
    """A SQLAlchemy URL for PyMySQL from `mysql://`, `mysql+pymysql://` or `mariadb://` DSNs.

    The messages never repeat the DSN: it holds the shop database's password.
    """
    try:
        url = sa.make_url(dsn.strip())
    except sa.exc.ArgumentError as error:
        raise ValueError("Not a database address. Expected mysql://user:password@host:3306/database.") from error
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise ValueError(f"Not a MySQL/MariaDB address: {url.get_backend_name()}://… "
                         "Expected mysql://user:password@host:3306/database.")
    if not url.database:
        raise ValueError("The database address has no database name (…/database at the end).")
    # Options after "?" become the driver's connect arguments: read_default_file, unix_socket or
    # local_infile would have Kontor read its own files. Only the character set is a shop's to choose.
    if set(url.query) - ALLOWED_OPTIONS:
        raise ValueError("The database address may carry only ?charset=… after the database name.")
    # PyMySQL is the driver Kontor ships; the mysql dialect works against MariaDB too.
    url = url.set(drivername="mysql+pymysql")
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


class PrestaShopConnection:
    """One PrestaShop database, reached directly over MySQL: connecting and what every read needs."""

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

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def table(self, name: str) -> str:
        """The quoted, prefixed name of a PrestaShop table."""
        return f"`{self.prefix}{name}`"

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

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A pooled connection; database errors come out as PrestaShopDatabaseError / TransientPlatformError."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as error:
            raise translate(error) from error

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



def run(conn: Connection, statement: str):
    """Execute complete SQL text (ids are ints, texts escaped by the driver).

    no_parameters: the driver must not read a % in a text as a parameter marker.
    """
    return conn.exec_driver_sql(statement, execution_options={"no_parameters": True})


def run_update(conn: Connection, statement: str) -> tuple[int, int | None]:
    """Execute an UPDATE; (rows matched, rows changed), or (row count, None) when the server did not say.

    MySQL skips a matched row whose new values equal its old ones and counts it as matched, not
    changed; its info line ("Rows matched: 3  Changed: 1  Warnings: 0", worded in the server's
    language) gives both in the one pass, where the row count (found rows, as SQLAlchemy
    connects) gives only the first.
    """
    result = run(conn, statement)
    cursor_result = getattr(result.context.cursor, "_result", None)  # PyMySQL's last result
    info = getattr(cursor_result, "message", None) or b""
    match = _UPDATE_INFO.search(info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info))
    if match is None:
        return result.rowcount, None
    return int(match[1]), int(match[2])


# The info line's three numbers, whatever the words around them; anchored at the end, as PyMySQL
# may leave the line's length byte in front.
_UPDATE_INFO = re.compile(r"(\d+)\D+(\d+)\D+\d+\D*$")


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def error_number(error: sa.exc.DBAPIError) -> int | None:
    args = getattr(error.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def translate(error: sa.exc.DBAPIError) -> PlatformError:
    """A database error in words for the seller; connection trouble and deadlocks are transient."""
    number = error_number(error)
    args = getattr(error.orig, "args", ())
    detail = args[1] if len(args) > 1 else str(error.orig)
    message = f"The shop's database answered: {detail}" + (f" (MySQL error {number})" if number else "")
    if number in RETRYABLE_ERRORS:
        return TransientPlatformError(message)
    return PrestaShopDatabaseError(message)
