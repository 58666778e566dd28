"""JSON API v1: the sync health snapshot."""

from __future__ import annotations

from flask import Blueprint, jsonify

from app.accounts.api_auth import protect
from app.core.errors import answer_in_json
from app.monitoring import health

bp = Blueprint("monitoring_api", __name__, url_prefix="/api/v1")
protect(bp)
answer_in_json(bp)


@bp.get("/health/sync")
def sync_health():
    """Per integration and kind of work: counts, failure rate, verdict and reasons; integrations needing attention."""
    return jsonify(health.as_json(health.snapshot()))
