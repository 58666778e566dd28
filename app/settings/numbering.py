"""Order numbering rules: pure functions over the counter and the date."""

from __future__ import annotations

from datetime import date

RESETS = {"never": "Never", "yearly": "Every year", "monthly": "Every month"}


def period_key(reset: str, today: date) -> str:
    """The period the counter belongs to; a new period restarts the counter."""
    if reset == "yearly":
        return f"{today:%Y}"
    if reset == "monthly":
        return f"{today:%Y-%m}"
    return ""


def next_counter(counter: int, stored_period: str, reset: str, today: date) -> tuple[int, str]:
    """The next counter value and its period, restarting at 1 when the period changed."""
    period = period_key(reset, today)
    if period != stored_period:
        return 1, period
    return counter + 1, period


def expand(template: str, today: date) -> str:
    """Replace {YYYY}, {YY}, {MM} and {DD} in a prefix or suffix."""
    return (
        template.replace("{YYYY}", f"{today:%Y}")
        .replace("{YY}", f"{today:%y}")
        .replace("{MM}", f"{today:%m}")
        .replace("{DD}", f"{today:%d}")
    )


def format_number(prefix: str, counter: int, suffix: str, padding: int, today: date) -> str:
    """The order number for a counter value, e.g. ZK/2026/00042."""
    return f"{expand(prefix, today)}{counter:0{max(padding, 1)}d}{expand(suffix, today)}"
