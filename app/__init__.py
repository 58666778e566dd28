"""Kontor: create_app wires extensions, blueprints, CLI commands and event handlers."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any, Callable

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import ROOT, Config, check_production_safety
from app.core.secrets import install_log_filter
from app.extensions import csrf, db, htmx, login_manager, migrate, redis_connection


class Kontor(Flask):
    """Flask, asking once per view or hook (not on every request) whether it is a coroutine function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        # Flask runs inspect.iscoroutinefunction on each hook and view of every request: some seven
        # checks, a twentieth of a webhook delivery's own work, with the same answer each time.
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app; `config` overrides settings read from the environment."""
    app = Kontor(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=Config.INSTANCE_PATH,
    )
    app.config.from_object(Config)
    app.config.update(Config.from_environment())
    if config:
        app.config.update(config)
    check_production_safety(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    redis_connection.init_app(app)

    from app.core import events, i18n, web
    from app.core.auth import require_login_everywhere

    events.install(Session)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
    require_login_everywhere(app)
    i18n.init_app(app)
    web.init_app(app)

    from app.accounts import views as accounts_views
    from app.catalog import views as catalog_views
    from app.core import health
    from app.dashboard import views as dashboard_views
    from app.inbound import views as inbound_views
    from app.integrations import api as integrations_api, views as integrations_views
    from app.jobs import views as queues_views
    from app.monitoring import api as monitoring_api, views as monitoring_views
    from app.orders import api as orders_api, views as orders_views
    from app.settings import views as settings_views
    from app.stock import api as stock_api, views as stock_views, warehouse_views
    from app.suppliers import views as suppliers_views
    from app.sync import views as sync_views
    from app.webhooks import receiver as webhook_receiver, views as webhooks_views

    app.register_blueprint(health.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(orders_views.bp)
    app.register_blueprint(settings_views.bp)
    app.register_blueprint(integrations_views.bp)
    app.register_blueprint(sync_views.bp)
    app.register_blueprint(catalog_views.bp)
    app.register_blueprint(suppliers_views.bp)
    app.register_blueprint(stock_views.bp)
    app.register_blueprint(warehouse_views.bp)
    app.register_blueprint(inbound_views.bp)
    app.register_blueprint(monitoring_views.bp)
    app.register_blueprint(queues_views.bp)
    for api in (orders_api.bp, integrations_api.bp, monitoring_api.bp, stock_api.bp):
        app.register_blueprint(api)
        csrf.exempt(api)  # token-authenticated, no cookies
    app.register_blueprint(webhooks_views.bp)  # addresses only: webhook_receiver answers the deliveries
    webhook_receiver.init_app(app)
    if app.config["TRUSTED_PROXIES"]:  # outermost, so the receiver sees the caller's address too
        proxies = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from app import cli as kontor_cli
    from app.accounts import cli as accounts_cli
    from app.inbound import cli as inbound_cli
    from app.integrations.prestashop import cli as prestashop_cli
    from app.jobs import cli as jobs_cli
    from app.stock import cli as stock_cli  # noqa: F401 - adds its commands to `flask prestashop`

    from app.suppliers import cli as suppliers_cli

    kontor_cli.init_app(app)
    accounts_cli.init_app(app)
    jobs_cli.init_app(app)
    inbound_cli.init_app(app)
    suppliers_cli.init_app(app)
    prestashop_cli.init_app(app)

    # Handlers subscribe at import; importing them here registers them once per process.
    from app.inbound import runs as inbound_runs  # noqa: F401  (import runs' outcomes on the integration page)
    from app.jobs import handlers as job_handlers  # noqa: F401
    from app.orders import handlers as order_handlers  # noqa: F401
    from app.monitoring import alerts  # noqa: F401  (the deliverer of alert operations)
    from app.sync import push, shipments  # noqa: F401
    from app.stock import handlers as stock_handlers, stock_push  # noqa: F401

    if not app.testing:
        # What is built by now lives as long as the process. Frozen, it is out of the collector's way: a
        # full collection no longer walks some 200,000 long-lived objects (a pause of 100+ ms every few
        # seconds under load), and forked job processes leave those pages shared.
        gc.freeze()
    return app


def _tune_sqlite(engine) -> None:
    """WAL lets readers and the single writer work at the same time; wait instead of failing on a lock."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 32 MiB of pages per connection instead of SQLite's 2 MiB: the dashboard's per-order index probes
        # and the list's counts otherwise re-read the same index pages from the OS on every request.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()
