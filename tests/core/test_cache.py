"""Data versions: what one process changes, every other process sees on its very next read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from app.core import cache
from app.extensions import redis_connection

ROOT = Path(__file__).resolve().parents[2]
# Versions live in Redis, whatever the database: one is enough (each test starts other processes).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _bump_in_another_process(app, name: str) -> None:
    """Run cache.bump(name) in a separate Python process on the same Redis, and wait for it to finish."""
    script = textwrap.dedent(f"""
        from app import create_app
        from app.core import cache
        app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": {app.config["REDIS_URL"]!r},
                           "SECRET_KEY": "test-secret-key-of-some-length-here"}})
        with app.app_context():
            cache.bump({name!r})
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)


def _read(app, name: str) -> int:
    with app.app_context(), app.test_request_context():  # as a new request: nothing remembered on `g`
        return cache.versions([name])[name]


def test_a_bump_in_another_process_is_seen_on_the_next_read(app):
    before = _read(app, "statuses")
    assert _read(app, "statuses") == before  # settled: subscribed, and the versions are known here

    _bump_in_another_process(app, "statuses")
    assert _read(app, "statuses") == before + 1  # at once, no waiting for the announcement
    _bump_in_another_process(app, "statuses")
    _bump_in_another_process(app, "orders")
    assert (_read(app, "statuses"), _read(app, "orders")) == (before + 2, 1)


def test_a_bump_here_is_seen_here_at_once(app):
    before = _read(app, "orders")
    _read(app, "orders")
    with app.app_context():
        cache.bump("orders")
    assert _read(app, "orders") == before + 1


def test_a_lost_subscription_falls_back_to_asking_redis(app):
    before = _read(app, "orders")
    _read(app, "orders")
    # Redis drops every subscriber (a restart, a proxy timing out the idle connection).
    redis.Redis.from_url(app.config["REDIS_URL"]).client_kill_filter(_type="pubsub")
    _bump_in_another_process(app, "orders")
    assert _read(app, "orders") == before + 1
    _bump_in_another_process(app, "orders")
    assert _read(app, "orders") == before + 2


def test_a_change_without_an_announcement_is_seen_within_the_trust_window(app, monkeypatch):
    """A subscription that died silently (no reset reached us) costs at most TRUST_SECONDS of old versions."""
    before = _read(app, "orders")
    _read(app, "orders")
    with app.app_context():
        redis_connection.client.incr(f"{cache.PREFIX}version:orders")  # counted, never announced
    monkeypatch.setattr(cache, "TRUST_SECONDS", 0.0)
    assert _read(app, "orders") == before + 1


def test_a_fragment_built_by_other_code_is_not_served(app, monkeypatch):
    """After a deploy that changes code, templates or translations, the page is built afresh, not served old."""
    built = []

    def render() -> str:
        built.append(len(built) + 1)
        return f"<p>table {built[-1]}</p>"

    def table() -> str:
        with app.app_context(), app.test_request_context():
            return cache.fragment(("orders-table", "/orders"), ("orders",), render)

    assert table() == "<p>table 1</p>"
    assert table() == "<p>table 1</p>"  # the same code and data: from the cache
    monkeypatch.setattr(cache, "code_version", lambda: "the next deploy")
    assert table() == "<p>table 2</p>"
