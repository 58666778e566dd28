"""Configuration from the environment, and the production safety check."""

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.config import ConfigError, _normalise_database_url

LONG_SECRET = "a-long-random-production-secret-of-48-characters"
LONG_PASSPHRASE = "a passphrase of more than thirty-two characters"


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_to_start_without_an_encryption_key(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)
    monkeypatch.delenv("KONTOR_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ConfigError, match="KONTOR_ENCRYPTION_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_production_refuses_a_short_secret_key_and_says_how_to_make_one(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a")
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", "x")
    with pytest.raises(ConfigError) as refused:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    message = str(refused.value)
    assert "SECRET_KEY has only 1 characters" in message and "at least 32" in message
    assert "python -c 'import secrets; print(secrets.token_urlsafe(48))'" in message


@pytest.mark.parametrize("key", ["x", "p" * 31])
def test_production_refuses_an_encryption_key_that_is_neither_fernet_nor_a_long_passphrase(monkeypatch, key):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", key)
    with pytest.raises(ConfigError) as refused:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    message = str(refused.value)
    assert "KONTOR_ENCRYPTION_KEY is neither a Fernet key nor a passphrase of at least 32 characters" in message
    assert "Fernet.generate_key()" in message


@pytest.mark.parametrize("key", [Fernet.generate_key().decode(), LONG_PASSPHRASE])
def test_production_starts_with_real_keys(monkeypatch, key):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", LONG_SECRET)
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", key)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True


def test_development_keeps_working_with_short_keys(monkeypatch):
    monkeypatch.delenv("KONTOR_ENV", raising=False)
    monkeypatch.setenv("SECRET_KEY", "a")
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", "x")
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"] == "a"


def test_throttle_and_proxy_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KONTOR_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("KONTOR_LOGIN_MAX_FAILURES_PER_ADDRESS", "50")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["TRUSTED_PROXIES"] == 1 and app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] == 50
    monkeypatch.setenv("KONTOR_TRUSTED_PROXIES", "one")
    with pytest.raises(ConfigError, match="KONTOR_TRUSTED_PROXIES must be a whole number"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_webhook_enqueue_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("KONTOR_WEBHOOK_ENQUEUE_INTERVAL", raising=False)
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["WEBHOOK_ENQUEUE_INTERVAL"] == 0.1
    monkeypatch.setenv("KONTOR_WEBHOOK_ENQUEUE_INTERVAL", "0.5")
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["WEBHOOK_ENQUEUE_INTERVAL"] == 0.5
    monkeypatch.setenv("KONTOR_WEBHOOK_ENQUEUE_INTERVAL", "0")  # one job per delivery, before the answer
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["WEBHOOK_ENQUEUE_INTERVAL"] == 0
    for wrong in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv("KONTOR_WEBHOOK_ENQUEUE_INTERVAL", wrong)
        with pytest.raises(ConfigError, match="KONTOR_WEBHOOK_ENQUEUE_INTERVAL must be a number of 0 or more"):
            create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


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
