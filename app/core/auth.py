"""Who may do what: every page needs a login, and viewers only look."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

# Reachable without a session: the login page, health checks and static files. The API,
# /metrics and webhooks authenticate every request themselves (Bearer token, signature).
PUBLIC_ENDPOINTS = {"accounts.login", "health.healthz", "static", "monitoring.prometheus_metrics"}
SELF_AUTHENTICATED_PATHS = ("/api/", "/webhooks/")

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}


def has_role(user: Any, role: str) -> bool:
    """True if the user's role is `role` or above (viewer < operator < admin)."""
    return bool(getattr(user, "is_authenticated", False)) and ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def require_role(role: str) -> None:
    """Abort with 403 unless the current user has at least `role`."""
    if not has_role(current_user, role):
        abort(403)


def role_required(role: str) -> Callable:
    """Refuse the view with 403 unless the user has at least `role`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            require_role(role)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_login_everywhere(app: Flask) -> None:
    """Send anonymous visitors of any non-public page to the login form."""

    @app.before_request
    def _require_login() -> Any:
        if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if request.path.startswith(SELF_AUTHENTICATED_PATHS):
            return None
        if current_user.is_authenticated:
            return None
        if request.headers.get("HX-Request"):
            # A full redirect inside a swapped fragment would nest the login page.
            response = app.make_response(("", 401))
            response.headers["HX-Redirect"] = url_for("accounts.login", next=request.full_path)
            return response
        return redirect(url_for("accounts.login", next=request.full_path))

    @app.context_processor
    def _roles() -> dict:
        return {"can_edit": has_role(current_user, "operator"), "is_admin": has_role(current_user, "admin")}
