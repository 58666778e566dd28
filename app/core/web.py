"""Web plumbing shared by every page: error pages, template filters, security headers, safe redirects."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from app.core.errors import KontorError
from app.extensions import htmx

NARROW_SPACE = "\u202f"

# A path of this site: one leading slash (two, or a backslash, would name another host to browsers) and only
# characters a URL may carry as they are, so no CR/LF, spaces or control characters reach a Location header.
LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#]*", re.ASCII)

# Self only: scripts and styles come from static/ (no inline code, no eval), nothing may frame a page.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def local_path(target: str | None) -> str | None:
    """`target` if it is a plain path on this site (safe to redirect to), otherwise None."""
    if target and LOCAL_PATH.fullmatch(target):
        return target
    return None


def format_money(value: Any, currency: str = "") -> str:
    """1234.5 -> '1 234.50 PLN' (narrow no-break space between thousands)."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"))
    whole, _, cents = f"{amount:,.2f}".partition(".")
    text = f"{whole.replace(',', NARROW_SPACE)}.{cents}"
    return f"{text} {currency}".strip()


def format_datetime(value: datetime | None, with_seconds: bool = False) -> str:
    """A UTC datetime as 'YYYY-MM-DD HH:MM' (UTC), or a dash."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def init_app(app: Flask) -> None:
    """Register filters and the error pages."""
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("ENV_NAME") == "production":
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response

    @app.errorhandler(KontorError)
    def _kontor_error(error: KontorError):
        if _wants_json():
            return jsonify(error={"code": error.code, "message": error.message}), error.http_status
        if htmx:
            return render_template("_error.html", message=error.message), error.http_status
        return render_template("error.html", title="Cannot do that", message=error.message), error.http_status

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        message = "The form expired or was sent from elsewhere (missing CSRF token). Reload the page and try again."
        if _wants_json():
            return jsonify(error={"code": "csrf", "message": message}), 400
        return render_template("error.html", title="Form expired", message=message), 400

    for status, title, message in (
        (403, "Not allowed", "Your role does not allow this. Ask an admin if you need it."),
        (404, "Not found", "There is nothing at this address."),
        (405, "Not allowed", "This address does not accept that kind of request."),
    ):
        app.register_error_handler(status, _http_error(status, title, message))


def _http_error(status: int, title: str, message: str):
    def handler(_error: Exception):
        if _wants_json():
            code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}[status]
            return jsonify(error={"code": code, "message": message}), status
        if htmx:
            return render_template("_error.html", message=message), status
        return render_template("error.html", title=title, message=message), status

    return handler
