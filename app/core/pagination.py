"""Page arithmetic for lists, shared by pages and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any, Sequence


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, with None where a gap is shown."""
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in shown if 1 <= n <= self.pages)
        result: list[int | None] = []
        for previous, current in zip([0, *numbers], numbers):
            if current - previous > 1 and previous:
                result.append(None)
            result.append(current)
        return result


def clamp_page(raw: Any, default: int = 1) -> int:
    """A page number from user input, never below 1."""
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        return default
