"""The yardstick of benchmarks/webhook_ingest.py: a bare Flask endpoint that checks a Shopify HMAC and
inserts one row, nothing else (no login, no ledger states, no job). Served by gunicorn like Kontor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
from flask import Flask, request

TABLE = "bare_deliveries"


def create_bare_app() -> Flask:
    """The bare endpoint: POST /bare with a Shopify signature; 401 if it is wrong, 200 once the row is in."""
    app = Flask(__name__)
    secret = os.environ["BARE_WEBHOOK_SECRET"].encode()
    dsn = os.environ["BARE_DATABASE_DSN"]
    state: dict[str, psycopg.Connection] = {}

    @app.post("/bare")
    def bare():
        body = request.get_data()
        expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, request.headers.get("X-Shopify-Hmac-Sha256", "")):
            return "bad signature", 401
        if "conn" not in state:  # one connection per gunicorn worker, opened after the fork
            state["conn"] = psycopg.connect(dsn, autocommit=True)
        state["conn"].execute(f"INSERT INTO {TABLE} (delivery_id, body) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                              (request.headers.get("X-Shopify-Webhook-Id", ""), body))
        return "", 200

    return app
