"""Sliding-window budgets: at most N in any window, whatever the clock's minute says."""

from __future__ import annotations

import uuid

from app.core import ratelimit
from app.extensions import redis_connection

MINUTE = ratelimit.Limit("changes", 9000, window=60, bucket=1)
HOUR = ratelimit.Limit("changes-hour", 10_000, window=3600, bucket=60)


def prefix() -> str:
    return f"kontor:test:{uuid.uuid4().hex}"


def test_a_full_window_stays_full_across_the_top_of_the_minute(app):
    client, key = redis_connection.client, prefix()
    assert ratelimit.spend(client, key, 1_800_000_059.5, [(MINUTE, 9000)]) == 0
    # A calendar-minute counter would start afresh at :00; the window still holds the 9,000.
    assert 58.0 < ratelimit.spend(client, key, 1_800_000_060.5, [(MINUTE, 1)]) <= 59.5
    assert ratelimit.spend(client, key, 1_800_000_119.0, [(MINUTE, 1)]) > 0  # 59.5 s after: still inside
    assert ratelimit.spend(client, key, 1_800_000_120.0, [(MINUTE, 1)]) == 0


def test_the_wait_is_until_enough_of_the_oldest_spending_leaves_the_window(app):
    client, key = redis_connection.client, prefix()
    ratelimit.spend(client, key, 1_800_000_000.0, [(MINUTE, 4000)])
    ratelimit.spend(client, key, 1_800_000_030.0, [(MINUTE, 5000)])
    # 3,000 more need the first 4,000 gone (a second after the minute is over), not all 9,000.
    assert ratelimit.spend(client, key, 1_800_000_040.0, [(MINUTE, 3000)]) == 21.0
    assert ratelimit.spend(client, key, 1_800_000_061.0, [(MINUTE, 3000)]) == 0


def test_a_refused_spend_takes_nothing_from_any_of_its_limits(app):
    client, key = redis_connection.client, prefix()
    ratelimit.spend(client, key, 1_800_000_000.0, [(HOUR, 9500)])
    # The minute has room, the hour has not: neither is charged.
    assert ratelimit.spend(client, key, 1_800_000_100.0, [(MINUTE, 1000), (HOUR, 1000)]) > 0
    assert ratelimit.spend(client, key, 1_800_000_100.0, [(MINUTE, 9000)]) == 0
    assert ratelimit.spend(client, key, 1_800_000_100.0, [(HOUR, 500)]) == 0
