"""Configuration read from the environment (a .env file is read in development)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("KONTOR_INSTANCE_PATH", ROOT / "instance"))

DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"
MIN_SECRET_LENGTH = 32
MAKE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
MAKE_ENCRYPTION_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot run safely."""


def _env_list(name: str) -> frozenset[str]:
    return frozenset(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


class Config:
    """Defaults for development: embedded SQLite and embedded Redis."""

    ENV_NAME = "development"
    INSTANCE_PATH = str(INSTANCE)
    SECRET_KEY = DEFAULT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE / 'kontor.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL: str | None = None
    KONTOR_ENCRYPTION_KEY: str | None = None
    # Event handlers switched off by name, e.g. KONTOR_DISABLED_HANDLERS=orders.log_status_change
    DISABLED_EVENT_HANDLERS: frozenset[str] = frozenset()
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Proxies in front of the app (load balancer, nginx) whose X-Forwarded-For/-Proto are believed; the client
    # address is what sign-in throttling counts, so it must not be the proxy's.
    TRUSTED_PROXIES = 0
    # Sign-in throttling: after this many failures an account / a client address waits LOGIN_LOCK_SECONDS,
    # doubling with each further failure up to LOGIN_MAX_LOCK_SECONDS.
    LOGIN_MAX_FAILURES = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    LOGIN_LOCK_SECONDS = 30
    LOGIN_MAX_LOCK_SECONDS = 900
    ORDERS_PER_PAGE = 50
    # How long an outbox operation stays taken without a sign of life from its worker (the worker
    # extends it while it works), so a killed worker's operation is taken over within a minute.
    SYNC_LEASE_SECONDS = 30
    # First wait before an undelivered operation is tried again (doubles up to an hour).
    SYNC_BACKOFF_INITIAL = 60
    # How long a web worker keeps an integration's webhook secrets and on/off switch before reading them again.
    WEBHOOK_CACHE_SECONDS = 5
    # Stored webhook deliveries get their jobs started in batches this often (seconds; 0: one by one, at once).
    WEBHOOK_ENQUEUE_INTERVAL = 0.1
    # Seconds between scheduler ticks; each tick re-asserts the schedule (heals a flushed Redis).
    SCHEDULER_INTERVAL = 10
    # Stock updates to the channels (KONTOR_STOCK_SYNC_*): attempts before an operation fails, the
    # first retry wait (doubling, with jitter) and its cap, operations per delivery batch, and after how
    # many hours reconciliation fixes a difference by itself.
    STOCK_SYNC_MAX_ATTEMPTS = 10
    STOCK_SYNC_BACKOFF_INITIAL = 60.0
    STOCK_SYNC_BACKOFF_CAP = 3600.0
    STOCK_SYNC_BATCH = 5000
    STOCK_SYNC_FIX_AFTER_HOURS = 24.0
    # Serve rendered order tables from Redis until an order changes (KONTOR_FRAGMENT_CACHE=0 turns it off).
    FRAGMENT_CACHE = True
    # Path feeds read only regular files inside this folder (KONTOR_FEEDS_DIR; None: instance/feeds).
    FEEDS_DIR: str | None = None
    # Hosts URL feeds may reach although they resolve to a private or local address (KONTOR_FEED_ALLOWED_HOSTS).
    FEED_ALLOWED_HOSTS: frozenset[str] = frozenset()
    # Hosts alert channels may reach although they resolve to a private or local address
    # (KONTOR_ALERT_ALLOWED_HOSTS), e.g. an SMTP relay on the same machine.
    ALERT_ALLOWED_HOSTS: frozenset[str] = frozenset()
    # Hosts platform integrations (shop URL, site URL, API overrides) may reach although they resolve to a private
    # or local address (KONTOR_PLATFORM_ALLOWED_HOSTS), e.g. a shop on the seller's own network.
    PLATFORM_ALLOWED_HOSTS: frozenset[str] = frozenset()
    # Hosts a PrestaShop database DSN may name although they are local or private (KONTOR_SHOP_DATABASE_HOSTS
    # replaces the list): the shop's database on the same machine is the common set-up.
    SHOP_DATABASE_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})
    # The largest JSON body the API reads (a bulk status change of 10,000 orders is about 400 KB).
    API_MAX_BODY_BYTES = 4 * 1024 * 1024
    # Where Telegram's Bot API answers (a local fake in tests).
    TELEGRAM_API_URL = "https://api.telegram.org"

    @classmethod
    def from_environment(cls) -> dict:
        """Read the settings DESIGN.md lists from the environment."""
        load_dotenv(ROOT / ".env")
        env = os.environ.get("KONTOR_ENV", cls.ENV_NAME)
        settings: dict = {"ENV_NAME": env}
        if os.environ.get("DATABASE_URL"):
            settings["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(os.environ["DATABASE_URL"])
        if os.environ.get("REDIS_URL"):
            settings["REDIS_URL"] = os.environ["REDIS_URL"]
        if os.environ.get("SECRET_KEY"):
            settings["SECRET_KEY"] = os.environ["SECRET_KEY"]
        if os.environ.get("KONTOR_ENCRYPTION_KEY"):
            settings["KONTOR_ENCRYPTION_KEY"] = os.environ["KONTOR_ENCRYPTION_KEY"]
        settings["DISABLED_EVENT_HANDLERS"] = _env_list("KONTOR_DISABLED_HANDLERS")
        if os.environ.get("KONTOR_FEEDS_DIR"):
            settings["FEEDS_DIR"] = os.environ["KONTOR_FEEDS_DIR"]
        settings["FEED_ALLOWED_HOSTS"] = _env_list("KONTOR_FEED_ALLOWED_HOSTS")
        settings["ALERT_ALLOWED_HOSTS"] = _env_list("KONTOR_ALERT_ALLOWED_HOSTS")
        settings["PLATFORM_ALLOWED_HOSTS"] = _env_list("KONTOR_PLATFORM_ALLOWED_HOSTS")
        if os.environ.get("KONTOR_SHOP_DATABASE_HOSTS") is not None:
            settings["SHOP_DATABASE_HOSTS"] = _env_list("KONTOR_SHOP_DATABASE_HOSTS")
        if os.environ.get("KONTOR_FRAGMENT_CACHE"):
            settings["FRAGMENT_CACHE"] = os.environ["KONTOR_FRAGMENT_CACHE"] not in ("0", "false", "off")
        for name in ("SYNC_LEASE_SECONDS", "SYNC_BACKOFF_INITIAL", "SCHEDULER_INTERVAL", "WEBHOOK_ENQUEUE_INTERVAL",
                     "STOCK_SYNC_BACKOFF_INITIAL", "STOCK_SYNC_BACKOFF_CAP", "STOCK_SYNC_FIX_AFTER_HOURS"):
            if os.environ.get(f"KONTOR_{name}"):
                settings[name] = _env_float(f"KONTOR_{name}")
        for name in ("STOCK_SYNC_MAX_ATTEMPTS", "STOCK_SYNC_BATCH"):
            if os.environ.get(f"KONTOR_{name}"):
                settings[name] = _env_int(f"KONTOR_{name}")
        for name in ("TRUSTED_PROXIES", "LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_ADDRESS"):
            if os.environ.get(f"KONTOR_{name}"):
                settings[name] = _env_int(f"KONTOR_{name}")
        if env == "production":
            settings["SESSION_COOKIE_SECURE"] = True
            settings["REMEMBER_COOKIE_SECURE"] = True
        return settings


class TestConfig(Config):
    """Settings for the test suite; tests pass the database and Redis URLs explicitly."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    KONTOR_ENCRYPTION_KEY = "test-encryption-key"
    WTF_CSRF_ENABLED = True
    SYNC_LEASE_SECONDS = 5
    WEBHOOK_CACHE_SECONDS = 0  # tests switch integrations off and rotate secrets between two deliveries
    WEBHOOK_ENQUEUE_INTERVAL = 0  # a test's job is queued before its request returns, not during the next test


def _env_int(name: str) -> int:
    value = os.environ[name].strip()
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"{name} must be a whole number, not {value!r}.")
    return int(value)


def _env_float(name: str) -> float:
    # Every such setting is a wait or a duration: a negative, infinite or NaN one would stall a loop for good.
    value = os.environ[name].strip()
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ConfigError(f"{name} must be a number of 0 or more, not {value!r}.")
    return number


def _normalise_database_url(url: str) -> str:
    # Heroku-style URLs and bare postgresql:// should use the psycopg 3 driver we ship.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def is_fernet_key(value: str) -> bool:
    """True if `value` is a Fernet key (32 url-safe base64 bytes)."""
    try:
        Fernet(value.encode())
    except (ValueError, TypeError):
        return False
    return True


def check_production_safety(config: dict) -> None:
    """Refuse to run in production with a missing, default or short secret key or a weak encryption key."""
    if config.get("ENV_NAME") != "production":
        return
    secret = config.get("SECRET_KEY") or ""
    if secret in ("", DEFAULT_SECRET_KEY):
        raise ConfigError(
            "KONTOR_ENV=production but SECRET_KEY is not set (or is the development default). "
            f"Set SECRET_KEY to a long random value, e.g. {MAKE_SECRET_KEY}."
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"KONTOR_ENV=production but SECRET_KEY has only {len(secret)} characters; it signs sessions and "
            f"needs at least {MIN_SECRET_LENGTH}. Make one with {MAKE_SECRET_KEY}."
        )
    key = config.get("KONTOR_ENCRYPTION_KEY") or ""
    if not key:
        raise ConfigError(
            "KONTOR_ENV=production but KONTOR_ENCRYPTION_KEY is not set; platform credentials are encrypted "
            f"with it. Generate one with {MAKE_ENCRYPTION_KEY} and keep it safe: without it stored credentials "
            "are lost."
        )
    if not is_fernet_key(key) and len(key) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"KONTOR_ENV=production but KONTOR_ENCRYPTION_KEY is neither a Fernet key nor a passphrase of at least "
            f"{MIN_SECRET_LENGTH} characters (it has {len(key)}). Generate a Fernet key with {MAKE_ENCRYPTION_KEY}. "
            "If credentials are already stored, they were encrypted with the current key: re-enter them after "
            "changing it."
        )
