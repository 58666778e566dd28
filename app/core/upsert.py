"""INSERT ... ON CONFLICT on PostgreSQL and SQLite: the database decides who wins, whatever runs at once."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


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
    statement = _insert(session, table).on_conflict_do_nothing(index_elements=list(conflict))
    columns = () if returning is None else returning if isinstance(returning, tuple) else (returning,)
    if columns:
        statement = statement.returning(*columns)
    keys = rows[0].keys()
    if all(row.keys() == keys for row in rows):
        # Rows of one shape go as an executemany: the statement is compiled once and cached, and the
        # driver batches it ("insertmanyvalues"). Compiling a VALUES list of a few thousand parameters
        # anew for every page cost more than the database took to insert it.
        result = session.execute(statement, rows)
    else:
        result = session.execute(statement.values(rows))
    if not columns:
        return []
    if isinstance(returning, tuple):
        return [tuple(row) for row in result]
    return list(result.scalars())
