"""Shared fixtures: real PostgreSQL, SQLite, and Redis; an app per test on a clean database."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.config import TestConfig
from app.extensions import db
from app.settings.services import seed_defaults

POSTGRES_ADMIN_URL = os.environ.get("KONTOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KONTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.prestashop_db_fixtures"]

START_HINT = "Run `make services` (or `bash tests/ensure_services.sh`) to start it."


def _worker_suffix() -> str:
    # Per process, so two test runs on one machine never drop each other's database.
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


# Uploaded feeds and other instance files of the tests go here, never into the checkout.
TEST_INSTANCE = tempfile.mkdtemp(prefix="kontor-test-instance-")


# The fake platforms listen on this machine; outside the tests Kontor calls only public addresses unless an
# admin allows a host. Set in the environment too, so the workers the tests start allow them as well.
LOCAL_FAKES = "127.0.0.1,localhost"
os.environ["KONTOR_PLATFORM_ALLOWED_HOSTS"] = LOCAL_FAKES


def _config(database_url: str, **extra) -> dict:
    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config.update({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": REDIS_URL, "INSTANCE_PATH": TEST_INSTANCE,
                   "PLATFORM_ALLOWED_HOSTS": frozenset(LOCAL_FAKES.split(",")), **extra})
    return config


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The test Redis URL; fails (never skips) when Redis is down."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({error}). {START_HINT}", pytrace=False)
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh PostgreSQL database migrated to head, for the whole session."""
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kontor_test_{_worker_suffix()}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error.orig}). {START_HINT}",
                    pytrace=False)
    url = re.sub(r"/[^/]*$", f"/{name}", POSTGRES_ADMIN_URL)
    app = create_app(_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """An SQLite file migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    app = create_app(_config(f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _truncate_all(app) -> None:
    with app.app_context():
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.session.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "kontor.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_url")


def app_on(database_url: str, redis_url: str):
    """Yield an app on a clean, migrated database with the default statuses and numbering."""
    app = create_app(_config(database_url))
    if database_url.startswith("postgresql"):
        _truncate_all(app)
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        seed_defaults()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url, redis_server):
    """An app on a clean, migrated database (SQLite, then PostgreSQL)."""
    yield from app_on(database_url, redis_server)


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token a page carries (form field or the body's hx-headers)."""
    match = CSRF_PATTERN.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1) or match.group(2)


@pytest.fixture
def login(client):
    """Sign a user in through the real login form; returns the CSRF token for later posts."""

    def sign_in(user, password: str = "password123") -> str:
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"email": user.email, "password": password,
                                               "csrf_token": csrf_from(page)})
        assert response.status_code == 302, response.get_data(as_text=True)
        return csrf_from(client.get("/orders").get_data(as_text=True))

    return sign_in
