"""INSERT ... ON CONFLICT on PostgreSQL and SQLite: the database decides who wins, whatever runs at once."""

from __future__ import annotations

import zlib
from typing import Any, Sequence

from sqlalchemy import Table, column, select, table as sql_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.core.bulk import load


def _insert(session: Session, table: Table):
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def insert_or_nothing(session: Session, table: Table, values: dict[str, Any], conflict: Sequence[str],
                      returning) -> Any | None:
    """Insert a row unless one with the same `conflict` columns exists; the new row's `returning`, or None."""
    statement = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=list(conflict))
    return session.execute(statement.returning(returning)).scalar()


def insert_or_update(session: Session, table: Table, values: dict[str, Any], conflict: Sequence[str],
                     update: dict[str, Any]) -> None:
    """Insert a row, or apply `update` (column -> value or expression) to the one already there."""
    statement = _insert(session, table).values(**values)
    session.execute(statement.on_conflict_do_update(index_elements=list(conflict), set_=update))


def insert_many_or_nothing(session: Session, table: Table, rows: list[dict[str, Any]], conflict: Sequence[str],
                           returning=None) -> list[Any]:
    """Insert the rows that do not exist yet; the new rows' `returning` values (none without `returning`).

    `returning` is a column (a list of values) or a tuple of columns (a list of tuples).
    """
    if not rows:
        return []
    columns = () if returning is None else returning if isinstance(returning, tuple) else (returning,)
    keys = rows[0].keys()
    same_shape = all(row.keys() == keys for row in rows)
    parameters = None
    if same_shape and session.get_bind().dialect.name == "postgresql":
        copied = _through_copy(session, table, list(keys), rows)
        statement = postgresql.insert(table).from_select(list(keys), copied)
    elif same_shape:
        # Rows of one shape go as an executemany: the statement is compiled once and cached, and the
        # driver batches it ("insertmanyvalues"). Compiling a VALUES list of a few thousand parameters
        # anew for every page cost more than the database took to insert it.
        statement, parameters = _insert(session, table), rows
    else:
        statement = _insert(session, table).values(rows)
    statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    if columns:
        statement = statement.returning(*columns)
    result = session.execute(statement, parameters) if parameters is not None else session.execute(statement)
    if not columns:
        return []
    if isinstance(returning, tuple):
        return [tuple(row) for row in result]
    return list(result.scalars())


def _copy_processors(session: Session, table: Table, keys: list[str]) -> list:
    """Each column's conversion of a Python value for the driver (None where the value goes as it is)."""
    dialect = session.get_bind().dialect
    return [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]


def _copied_rows(session: Session, table: Table, keys: list[str], rows: list[dict[str, Any]]):
    """The rows as COPY takes them: each value converted by its column type (JSON wrapped, times in UTC)."""
    processors = list(zip(keys, _copy_processors(session, table, keys)))
    return ([process(row[key]) if process else row[key] for key, process in processors] for row in rows)


def _through_copy(session: Session, table: Table, keys: list[str], rows: list[dict[str, Any]]):
    """COPY the rows into a temporary table shaped like `table`'s `keys`; the SELECT that reads them back.

    COPY sends rows in the driver's C code, with no statement text to parse and no escaping in
    Python: a multi-row VALUES list ("insertmanyvalues") is a new text of thousands of placeholders
    each time, which psycopg parses anew, and that cost more than the insert itself.
    """
    session.flush()  # COPY goes past the session: what it holds must be in the database first
    connection = session.connection()
    quoted = _quoted(session, keys)
    temp = f"copy_{table.name}_{zlib.crc32(','.join(keys).encode()):08x}"
    connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS "
                               f"SELECT {', '.join(quoted)} FROM {table.name} WITH NO DATA")
    connection.exec_driver_sql(f"DELETE FROM {temp}")
    load(connection, temp, quoted, _copied_rows(session, table, keys, rows))
    return select(*[column(key) for key in keys]).select_from(sql_table(temp))


def _quoted(session: Session, keys: list[str]) -> list[str]:
    preparer = session.get_bind().dialect.identifier_preparer
    return [preparer.quote(key) for key in keys]


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows of one shape: COPY on PostgreSQL (see _through_copy), an executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        keys = list(rows[0].keys())
        session.flush()  # COPY goes past the session: what it holds must be in the database first
        load(session.connection(), table.name, _quoted(session, keys), _copied_rows(session, table, keys, rows))
    else:
        session.execute(table.insert(), rows)
