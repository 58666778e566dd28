"""Rendered-fragment caching keyed by data versions kept in Redis.

A version is a counter per kind of data ("orders", "statuses") that is bumped after every
commit that changes such data. A cached fragment's key contains the versions it was built
from, so a change makes every older copy unreachable at once, in every process; nothing is
ever served stale. Without Redis the fragment is simply rendered.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Callable, Iterable

import redis
from flask import current_app, g, has_app_context, has_request_context

from app.core.i18n import current_locale
from app.extensions import redis_connection

log = logging.getLogger(__name__)

PREFIX = "kontor:cache:"
TTL_SECONDS = 120
# Every kind is read in one round trip, the first time a request needs any of them.
KINDS = ("orders", "statuses")


def versions(names: Iterable[str]) -> dict[str, int]:
    """The current version of each data kind (read once per request)."""
    names = tuple(names)
    cached = g.get("kontor_versions", {}) if has_request_context() else {}
    missing = [n for n in (*KINDS, *names) if n not in cached]
    if any(n not in cached for n in names):
        values = redis_connection.client.mget([f"{PREFIX}version:{n}" for n in missing])
        cached.update({n: int(v or 0) for n, v in zip(missing, values)})
        if has_request_context():
            g.kontor_versions = cached
    return {n: cached[n] for n in names}


def bump(name: str) -> None:
    """Mark data of this kind changed: fragments built from it are not used again."""
    try:
        redis_connection.client.incr(f"{PREFIX}version:{name}")
    except redis.RedisError:
        # Fragments live only in Redis: if it cannot count, it cannot serve them either.
        log.warning("could not bump cache version %s; Redis unreachable", name)
    # The versions read earlier in this context (a request, a job, a test) are stale now.
    if has_app_context():
        g.pop("kontor_versions", None)


def fragment(parts: Iterable[str], depends_on: Iterable[str], render: Callable[[], str]) -> str:
    """The fragment for `parts`, from the cache if built from the current data, else rendered and stored."""
    if not current_app.config.get("FRAGMENT_CACHE", True):
        return render()
    try:
        current = versions(depends_on)
        # A fragment is text in one language: the request's language is part of every key.
        raw = "|".join([*map(str, parts), f"locale={current_locale()}",
                        *(f"{k}={v}" for k, v in sorted(current.items()))])
        key = PREFIX + "fragment:" + hashlib.sha1(raw.encode()).hexdigest()
        hit = redis_connection.client.get(key)
        if hit is not None:
            return hit.decode()
    except redis.RedisError:
        return render()
    html = render()
    try:
        redis_connection.client.set(key, html.encode(), ex=TTL_SECONDS)
    except redis.RedisError:
        pass
    return html
