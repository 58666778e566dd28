"""Bearer-token authentication for the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from app.accounts.services import user_for_token
from app.core.auth import has_role
from app.core.i18n import api_error


def _error(status: int, code: str, message: str):
    response = jsonify(error=api_error(code, message))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="kontor"'
    return response


def protect(bp: Blueprint) -> None:
    """Require a valid Bearer token on every request to `bp`; viewers may only read; bodies are capped."""

    @bp.before_request
    def _authenticate() -> Any:
        # Reading a JSON body past the cap answers 413 instead of holding any size in memory.
        request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            return _error(401, "unauthorized", "Send an API token as 'Authorization: Bearer <token>'.")
        user = user_for_token(raw.strip())
        if user is None:
            return _error(401, "unauthorized", "The API token is unknown or has been revoked.")
        if request.method not in ("GET", "HEAD", "OPTIONS") and not has_role(user, "operator"):
            return _error(403, "forbidden", "This token belongs to a viewer and can only read.")
        g.api_user = user
        return None


def api_user() -> Any:
    """The user the current API request acts for."""
    return g.api_user
