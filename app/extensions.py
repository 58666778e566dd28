"""Flask extensions, created unbound and attached in create_app (init_app style)."""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from rq import Queue
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from app.core.embedded_redis import ensure_embedded_redis

# Stable constraint names so migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
babel = Babel()

QUEUE_NAMES = ("integrations", "import", "orders", "default")


class RedisConnection:
    """The app's Redis connection and RQ queues; embedded Redis when no REDIS_URL is set."""

    def init_app(self, app: Flask) -> None:
        app.extensions["kontor_redis"] = {"url": app.config.get("REDIS_URL"), "client": None}

    def _state(self) -> dict:
        return current_app.extensions["kontor_redis"]

    @property
    def url(self) -> str:
        state = self._state()
        if not state["url"]:
            state["url"] = ensure_embedded_redis(current_app.config["INSTANCE_PATH"])
        return state["url"]

    @property
    def client(self) -> Redis:
        state = self._state()
        if state["client"] is None:
            state["client"] = Redis.from_url(self.url, socket_connect_timeout=3, health_check_interval=30)
        return state["client"]

    def queue(self, name: str = "default") -> Queue:
        """The RQ queue of that name on the app's Redis."""
        if name not in QUEUE_NAMES:
            raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUE_NAMES)}")
        return Queue(name, connection=self.client)


redis_connection = RedisConnection()
