"""Rendered-fragment caching keyed by data versions kept in Redis.

A version is a counter per kind of data ("orders", "statuses") that is bumped after every
commit that changes such data. A cached fragment's key contains the versions it was built
from (and a digest of the code that built it), so a change makes every older copy unreachable
at once, in every process; nothing is ever served stale. Without Redis the fragment is simply rendered.

Each bump is also announced on a channel. A process keeps the versions it has read for as long as its
subscription has heard nothing (see VersionWatch), so most requests need no Redis round trip to learn them.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from time import monotonic
from typing import Callable, Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from flask import current_app, g, has_app_context, has_request_context

from app.config import ROOT
from app.core.i18n import current_locale
from app.extensions import redis_connection

log = logging.getLogger(__name__)

PREFIX = "kontor:cache:"
TTL_SECONDS = 120
# Every kind is read in one round trip, the first time a request needs any of them.
KINDS = ("orders", "statuses")


# A process trusts the versions it holds at most this long without reading them again, which bounds what a
# subscription that died without a word (a dropped connection nobody reset) could cost.
TRUST_SECONDS = 1.0
# After the subscription fails, versions are read from Redis on every request until this much later.
RESUBSCRIBE_AFTER_SECONDS = 5.0


class VersionWatch:
    """The versions this process last read, kept while the bump channel has said nothing since.

    Redis sends a bump's message to every subscriber before the bumping process hears back, so a message
    can only be missing from the socket here if the bump has not finished anywhere yet: reading the socket
    (no round trip) before using what is known is as current as asking Redis. Anything unusual (not yet
    subscribed, a failed connection, knowledge older than TRUST_SECONDS) reads Redis as before.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.channel = f"{PREFIX}bumped:{client.connection_pool.connection_kwargs.get('db', 0)}"
        self.lock = threading.Lock()
        self.pubsub: redis.client.PubSub | None = None
        self.confirmed = False
        self.known: dict[str, int] = {}
        self.read_at = 0.0
        self.resubscribe_at = 0.0

    def read(self, names: tuple[str, ...]) -> dict[str, int]:
        """The current version of each name."""
        with self.lock:
            trusted = self._quiet()
            if trusted and monotonic() - self.read_at < TRUST_SECONDS and all(n in self.known for n in names):
                return {n: self.known[n] for n in names}
            wanted = tuple(dict.fromkeys((*self.known, *names)))
            values = self.client.mget([f"{PREFIX}version:{n}" for n in wanted])
            current = {n: int(v or 0) for n, v in zip(wanted, values)}
            # Whatever was announced after this point shows on the socket and clears it again.
            self.known = current if trusted else {}
            self.read_at = monotonic()
            return {n: current[n] for n in names}

    def forget(self) -> None:
        """This process bumped a version: do not wait for the announcement to come back."""
        with self.lock:
            self.known = {}

    def _quiet(self) -> bool:
        """True if subscribed and nothing was announced since `known` was read (clearing it otherwise)."""
        if self.pubsub is None and not self._subscribe():
            return False
        try:
            while (message := self.pubsub.get_message(timeout=0)) is not None:
                self.known = {}
                if message["type"] == "subscribe":
                    self.confirmed = True
        except (redis.RedisError, OSError):
            self._drop()
            return False
        return self.confirmed

    def _subscribe(self) -> bool:
        if monotonic() < self.resubscribe_at:
            return False
        try:
            # No retries: a reconnect behind our back could lose announcements without our knowing.
            listener = redis.Redis(connection_pool=redis.ConnectionPool(
                connection_class=self.client.connection_pool.connection_class,
                **{**self.client.connection_pool.connection_kwargs, "retry": Retry(NoBackoff(), 0),
                   "health_check_interval": 10}))
            self.pubsub = listener.pubsub()
            self.pubsub.subscribe(self.channel)
        except (redis.RedisError, OSError):
            self._drop()
            return False
        self.confirmed = False
        return True

    def _drop(self) -> None:
        pubsub, self.pubsub, self.confirmed, self.known = self.pubsub, None, False, {}
        self.resubscribe_at = monotonic() + RESUBSCRIBE_AFTER_SECONDS
        if pubsub is not None:
            try:
                pubsub.close()
            except (redis.RedisError, OSError):
                pass


_WATCHES: dict[str, VersionWatch] = {}
os.register_at_fork(after_in_child=_WATCHES.clear)  # a child must not read its parent's subscription


def _watch() -> VersionWatch:
    url = redis_connection.url
    watch = _WATCHES.get(url)
    if watch is None or watch.client is not redis_connection.client:
        watch = _WATCHES[url] = VersionWatch(redis_connection.client)
    return watch


def versions(names: Iterable[str]) -> dict[str, int]:
    """The current version of each data kind (read once per request)."""
    names = tuple(names)
    cached = g.get("kontor_versions", {}) if has_request_context() else {}
    missing = tuple(n for n in (*KINDS, *names) if n not in cached)
    if any(n not in cached for n in names):
        cached.update(_watch().read(missing))
        if has_request_context():
            g.kontor_versions = cached
    return {n: cached[n] for n in names}


def bump(name: str) -> None:
    """Mark data of this kind changed: fragments built from it are not used again."""
    watch = _watch()
    watch.forget()
    try:
        with redis_connection.client.pipeline(transaction=False) as pipe:
            pipe.incr(f"{PREFIX}version:{name}").publish(watch.channel, name)
            pipe.execute()
    except redis.RedisError:
        # Fragments live only in Redis: if it cannot count, it cannot serve them either.
        log.warning("could not bump cache version %s; Redis unreachable", name)
    # The versions read earlier in this context (a request, a job, a test) are stale now.
    if has_app_context():
        g.pop("kontor_versions", None)


# What a fragment's markup and words come from: a deploy that changes any of them must not serve older fragments.
SOURCES = (("app", "*.py"), ("app", "*.po"), ("templates", "*.html"))


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the code, templates and translations this process runs (the same in every process of a deploy)."""
    digest = hashlib.sha1()
    for folder, pattern in SOURCES:
        for path in sorted((ROOT / folder).rglob(pattern)):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def fragment(parts: Iterable[str], depends_on: Iterable[str], render: Callable[[], str]) -> str:
    """The fragment for `parts`, from the cache if built from the current data, else rendered and stored."""
    if not current_app.config.get("FRAGMENT_CACHE", True):
        return render()
    try:
        current = versions(depends_on)
        # A fragment is text in one language: the request's language is part of every key.
        raw = "|".join([*map(str, parts), f"locale={current_locale()}", f"code={code_version()}",
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
