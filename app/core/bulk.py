"""Set-based writes: load many rows into a temporary table in one go, on any backend.

Bulk work (feed imports, availability syncs) loads its rows into a temporary table and then
runs one UPDATE ... FROM per target table, instead of one statement per row.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection


def begin_write(connection: Connection) -> None:
    """On SQLite, begin this connection's transaction with the write lock (BEGIN IMMEDIATE).

    Bulk work reads the main database (matching rows) before it writes. In WAL mode a transaction
    that has read fails at once with "database is locked" when it comes to write after another
    connection committed in between: the busy timeout does not apply to that case. Two workers
    applying chunks at the same time hit it. A transaction begun IMMEDIATE waits for the lock
    instead. Does nothing on other databases, or when the transaction has already begun.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE")


def without_jit(connection: Connection) -> None:
    """Switch off PostgreSQL's JIT compiler for the rest of this transaction.

    Temporary tables have no statistics until analysed (nor have tables just filled, until
    autovacuum gets to them), so the planner can estimate a join of 25,000 rows at hundreds of
    millions of rows; past jit_above_cost it then spends ~0.4 s compiling each statement, longer
    than the statement runs. Bulk statements are plain joins that JIT does not speed up.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL jit = off"))


def temp_table(connection: Connection, name: str, columns: str) -> None:
    """Create an empty temporary table `name` for this transaction (`columns` is SQL DDL)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"))
    else:
        connection.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})"))
    connection.execute(text(f"DELETE FROM {name}"))


def load(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert rows into `table`: COPY on PostgreSQL, executemany elsewhere."""
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    connection.connection.driver_connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", list(rows))
