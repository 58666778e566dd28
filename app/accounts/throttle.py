"""Failed sign-ins counted in Redis per account and per client address, so every web process agrees.

After `LOGIN_MAX_FAILURES` failures the account (or address) is locked for `LOGIN_LOCK_SECONDS`, and
each further failure doubles the lock, up to `LOGIN_MAX_LOCK_SECONDS` (15 minutes). A success clears
the account's count; an address's count only fades, so one good account cannot reset a guesser.
"""

from __future__ import annotations

import hashlib
import logging
from functools import wraps
from typing import Callable

from flask import current_app
from redis import RedisError

from app.extensions import redis_connection

log = logging.getLogger(__name__)

PREFIX = "kontor:login"
# Failures are remembered this long after the last one, longer than the longest lock, so a guesser who
# waits out a lock meets the next, longer one.
WINDOW_SECONDS = 3600


def lock_seconds(failures: int, threshold: int, first: int, longest: int) -> int:
    """How long `failures` failures lock: nothing below the threshold, then first, 2x first ... up to longest."""
    if failures < threshold:
        return 0
    return min(longest, first * 2 ** min(failures - threshold, 32))


def _without_redis(default: int) -> Callable:
    """With Redis unreachable, sign-in keeps working unthrottled (and says so in the log) instead of failing."""

    def decorator(function: Callable) -> Callable:
        @wraps(function)
        def wrapped(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except RedisError as error:
                log.error("Sign-in throttling is off: Redis is unreachable (%s)", error)
                return default

        return wrapped

    return decorator


def _subjects(email: str, address: str) -> list[tuple[str, int]]:
    # Hashed so any typed e-mail makes a short, plain key.
    account = hashlib.sha256(email.encode(errors="replace")).hexdigest()[:32]
    config = current_app.config
    return [(f"account:{account}", int(config["LOGIN_MAX_FAILURES"])),
            (f"address:{address}", int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]))]


@_without_redis(default=0)
def retry_after(email: str, address: str) -> int:
    """Seconds until this account and address may try again (0: now)."""
    client = redis_connection.client
    with client.pipeline(transaction=False) as pipe:
        for subject, _ in _subjects(email, address):
            pipe.pttl(f"{PREFIX}:lock:{subject}")
        remaining = pipe.execute()
    longest_ms = max((ms for ms in remaining if ms and ms > 0), default=0)
    return -(-longest_ms // 1000)  # round up: answering "0 seconds" while still locked would mislead


@_without_redis(default=0)
def record_failure(email: str, address: str) -> int:
    """Count a failed sign-in; the seconds of the lock it starts (0: none)."""
    client = redis_connection.client
    config = current_app.config
    first, longest = int(config["LOGIN_LOCK_SECONDS"]), int(config["LOGIN_MAX_LOCK_SECONDS"])
    locked = 0
    for subject, threshold in _subjects(email, address):
        key = f"{PREFIX}:failures:{subject}"
        with client.pipeline() as pipe:  # MULTI: the count and its expiry together
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS)
            failures, _ = pipe.execute()
        seconds = lock_seconds(int(failures), threshold, first, longest)
        if seconds:
            client.set(f"{PREFIX}:lock:{subject}", 1, ex=seconds)
            locked = max(locked, seconds)
    return locked


@_without_redis(default=None)
def clear_account(email: str) -> None:
    """Forget the failures of an account that just signed in."""
    subject = _subjects(email, "-")[0][0]
    redis_connection.client.delete(f"{PREFIX}:failures:{subject}", f"{PREFIX}:lock:{subject}")
