"""Reordering rows that carry a `position` (statuses, mapping rows)."""

from __future__ import annotations

from typing import Any, Sequence


def move(rows: Sequence[Any], row_id: int, direction: str) -> bool | None:
    """Swap the row with its neighbour up or down and renumber positions by tens.

    Returns None if no row has that id, False if it is already at that end, True if it moved.
    """
    rows = list(rows)
    index = next((i for i, row in enumerate(rows) if row.id == row_id), None)
    if index is None:
        return None
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rows):
        return False
    rows[index], rows[other] = rows[other], rows[index]
    for position, row in enumerate(rows, start=1):
        row.position = position * 10
    return True
