"""Set-based writes: load many rows into a temporary table in one go, on any backend.

Bulk work (feed imports, availability syncs) loads its rows into a temporary table and then
runs one UPDATE ... FROM per target table, instead of one statement per row.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection


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
