"""Configuration from the environment, and the production safety check."""

import pytest

from app import create_app
from app.config import ConfigError, _normalise_database_url


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_to_start_without_an_encryption_key(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.delenv("KONTOR_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigError, match="KONTOR_ENCRYPTION_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_starts_with_real_keys(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", "another-long-random-secret")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_environment_sets_database_redis_and_disabled_handlers(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/kontor")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/2")
    monkeypatch.setenv("KONTOR_DISABLED_HANDLERS", "orders.log_status_change, other")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/kontor"
    assert app.config["REDIS_URL"] == "redis://cache.example:6379/2"
    assert app.config["DISABLED_EVENT_HANDLERS"] == {"orders.log_status_change", "other"}


def test_database_urls_use_the_shipped_driver():
    assert _normalise_database_url("postgresql://x/y") == "postgresql+psycopg://x/y"
    assert _normalise_database_url("sqlite:///a.db") == "sqlite:///a.db"
