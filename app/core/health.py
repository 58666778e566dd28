"""/healthz: is the database reachable, is Redis reachable, is the scheduler alive."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.core.types import utcnow
from app.extensions import db, redis_connection

bp = Blueprint("health", __name__)

HEARTBEAT_KEY = "kontor:scheduler:heartbeat"
# The heartbeat job runs every minute; three missed beats mean nothing recurring runs.
HEARTBEAT_MAX_AGE = timedelta(minutes=3)


def _scheduler_check(beat: bytes | None) -> dict:
    if not beat:
        return {"ok": False, "last_heartbeat": None,
                "error": "No heartbeat: the scheduler or the default queue's worker is not running."}
    try:
        at = datetime.fromisoformat(beat.decode())
    except ValueError:
        return {"ok": False, "last_heartbeat": beat.decode(errors="replace"), "error": "Unreadable heartbeat."}
    age = utcnow() - at
    check = {"ok": age <= HEARTBEAT_MAX_AGE, "last_heartbeat": at.isoformat(), "age_seconds": int(age.total_seconds())}
    if not check["ok"]:
        check["error"] = (f"The last heartbeat is {int(age.total_seconds() // 60)} minutes old: the scheduler or "
                          "the default queue's worker has stopped.")
    return check


@bp.get("/healthz")
def healthz():
    """Report database and Redis reachability and the scheduler's heartbeat (503 unless all are fine)."""
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
        checks["redis"] = {"ok": True}
        checks["scheduler"] = _scheduler_check(client.get(HEARTBEAT_KEY))
    except Exception as error:
        checks["redis"] = {"ok": False, "error": str(error).splitlines()[0][:200]}
    reachable = checks["database"]["ok"] and checks["redis"]["ok"]
    if not reachable:
        status = "unavailable"
    elif not checks["scheduler"]["ok"]:
        status = "degraded"  # pages work, but nothing recurring (sweeper, imports) runs
    else:
        status = "ok"
    return jsonify(status=status, checks=checks), 200 if status == "ok" else 503
