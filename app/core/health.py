"""/healthz: is the database reachable, is Redis reachable, is the scheduler alive."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db, redis_connection

bp = Blueprint("health", __name__)

HEARTBEAT_KEY = "kontor:scheduler:heartbeat"


@bp.get("/healthz")
def healthz():
    """Report database and Redis reachability (503 when either is down)."""
    checks: dict[str, dict] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "backend": db.engine.dialect.name}
    except Exception as error:  # any failure means "not reachable" to the operator
        db.session.rollback()
        checks["database"] = {"ok": False, "error": str(error).splitlines()[0][:200]}
    try:
        client = redis_connection.client
        client.ping()
        beat = client.get(HEARTBEAT_KEY)
        checks["redis"] = {"ok": True}
        checks["scheduler"] = {"last_heartbeat": beat.decode() if beat else None}
    except Exception as error:
        checks["redis"] = {"ok": False, "error": str(error).splitlines()[0][:200]}
    healthy = checks["database"]["ok"] and checks["redis"]["ok"]
    return jsonify(status="ok" if healthy else "unavailable", checks=checks), 200 if healthy else 503
