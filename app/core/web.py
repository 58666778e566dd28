"""Web plumbing shared by every page: error pages, template filters, security headers, safe redirects."""

from __future__ import annotations

import re
from functools import lru_cache
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from babel import Locale
from babel.numbers import format_currency, format_decimal
from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from jinja2 import pass_context

from app.core.errors import KontorError
from app.core.i18n import DEFAULT_LOCALE, api_error, current_locale
from app.extensions import db, htmx

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


def security_headers(production: bool) -> list[tuple[str, str]]:
    """The headers every response carries (and Strict-Transport-Security in production)."""
    headers = list(SECURITY_HEADERS.items())
    return headers + [("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)] if production else headers


def local_path(target: str | None) -> str | None:
    """`target` if it is a plain path on this site (safe to redirect to), otherwise None."""
    if target and LOCAL_PATH.fullmatch(target):
        return target
    return None


# How each language writes a date and time (UTC); English keeps the ISO order the API also uses.
DATETIME_FORMATS = {"en": ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"), "pl": ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S")}


@lru_cache(maxsize=16)
def _babel_locale(code: str) -> Locale:
    # Babel parses a locale given by name on every call (a tenth of a millisecond per amount in a list).
    return Locale.parse(code)


def format_money(value: Any, currency: str = "", locale: str | None = None) -> str:
    """1234.5 -> '1 234.50 PLN' in English, '1 234,50 zł' in Polish (no-break spaces between thousands)."""
    if value is None:
        return "—"
    locale = locale or current_locale()
    amount = Decimal(value).quantize(Decimal("0.01"))
    if locale != DEFAULT_LOCALE:
        if currency:
            return format_currency(amount, currency, locale=_babel_locale(locale))
        return format_decimal(amount, format="#,##0.00", locale=_babel_locale(locale))
    whole, _, cents = f"{amount:,.2f}".partition(".")
    text = f"{whole.replace(',', NARROW_SPACE)}.{cents}"
    return f"{text} {currency}".strip()


def format_number(value: Any, digits: int | None = None, locale: str | None = None) -> str:
    """A number in the language's way: 12345.5 -> '12,345.5' / '12 345,5'; `digits` fixes the decimals."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=_babel_locale(locale or current_locale()))


def format_datetime(value: datetime | None, with_seconds: bool = False, locale: str | None = None) -> str:
    """A UTC datetime as 'YYYY-MM-DD HH:MM' (English) or 'DD.MM.YYYY HH:MM' (Polish), or a dash."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    formats = DATETIME_FORMATS.get(locale or current_locale(), DATETIME_FORMATS[DEFAULT_LOCALE])
    return value.astimezone(timezone.utc).strftime(formats[1] if with_seconds else formats[0])


def _per_request(format_value: Callable[..., str]) -> Callable[..., str]:
    """A formatting filter Jinja calls at render time: a plain one on literal input (`0 | money('PLN')`) would be
    folded into the compiled template, in whatever language the first render had."""

    @pass_context
    def render_time(_context, value, *args, **kwargs):
        return format_value(value, *args, **kwargs)

    return render_time


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def init_app(app: Flask) -> None:
    """Register filters and the error pages."""
    for name, format_value in (("money", format_money), ("datetime", format_datetime), ("number", format_number)):
        app.jinja_env.filters[name] = _per_request(format_value)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    everywhere = {name.lower(): (name, value) for name, value in security_headers(production=False)}
    in_production = {name.lower(): (name, value) for name, value in security_headers(production=True)}

    @app.after_request
    def _security_headers(response):
        # One pass over what the view set (a view may set its own): Headers.setdefault raises and catches an
        # exception for each absent name, and every response, each webhook delivery's too, lacks all of them.
        missing = dict(in_production if app.config.get("ENV_NAME") == "production" else everywhere)
        for name, _value in response.headers:
            missing.pop(name.lower(), None)
        for name, value in missing.values():
            response.headers.add(name, value)
        return response

    @app.errorhandler(KontorError)
    def _kontor_error(error: KontorError):
        if _wants_json():
            return jsonify(error=api_error(error.code, error.lazy_message)), error.http_status
        if htmx:
            return render_template("_error.html", message=error.message), error.http_status
        return render_template("error.html", title=_l("Cannot do that"), message=error.message), error.http_status

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        message = _l("The form expired or was sent from elsewhere (missing CSRF token). "
                     "Reload the page and try again.")
        if _wants_json():
            return jsonify(error=api_error("csrf", message)), 400
        return render_template("error.html", title=_l("Form expired"), message=message), 400

    for status, title, message in (
        (403, _l("Not allowed"), _l("Your role does not allow this. Ask an admin if you need it.")),
        (404, _l("Not found"), _l("There is nothing at this address.")),
        (405, _l("Not allowed"), _l("This address does not accept that kind of request.")),
        (413, _l("Too large"), _l("What you sent is larger than Kontor accepts. Send less at a time.")),
        (500, _l("Something went wrong"), _l(
            "The request failed on Kontor's side and was logged; tell the admin if it keeps happening.")),
    ):
        app.register_error_handler(status, _http_error(status, title, message))


def _http_error(status: int, title: str, message: str):
    def handler(_error: Exception):
        if _wants_json():
            code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "request_entity_too_large",
                    500: "internal_error"}[status]
            return jsonify(error=api_error(code, message)), status
        if status == 500:
            db.session.rollback()  # the failed request may have left the session unusable for the page
        if htmx:
            return render_template("_error.html", message=message), status
        return render_template("error.html", title=title, message=message), status

    return handler
