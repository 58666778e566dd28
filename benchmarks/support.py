"""Set-up the benchmark scripts share: a throwaway PostgreSQL database and an emptied Redis database."""

from __future__ import annotations

import contextlib
from typing import Iterator

import redis
import sqlalchemy as sa

PG_SERVER = "postgres@127.0.0.1:5432"


@contextlib.contextmanager
def throwaway_postgresql(name: str, server: str = PG_SERVER) -> Iterator[str]:
    """Create database `name` (dropping a leftover first) and drop it on the way out; yields its URL."""
    admin = sa.create_engine(f"postgresql+psycopg://{server}/postgres", isolation_level="AUTOCOMMIT")
    drop = sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as conn:
            conn.execute(drop)  # a leftover from an earlier, killed run
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield f"postgresql+psycopg://{server}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(drop)
            print(f"cleanup: dropped PostgreSQL database {name}", flush=True)
    finally:
        admin.dispose()


@contextlib.contextmanager
def emptied_redis(url: str) -> Iterator[redis.Redis]:
    """The Redis database at `url`, empty at the start and flushed at the end."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    client.ping()
    leftover = client.dbsize()
    if leftover:
        print(f"note: {url} held {leftover} keys (an earlier run?); flushing it", flush=True)
    client.flushdb()
    try:
        yield client
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
            print(f"cleanup: flushed {url}", flush=True)
        client.close()
