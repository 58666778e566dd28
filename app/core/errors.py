"""Errors a person can act on, raised by services and shown by views and the API."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.i18n import api_error

log = logging.getLogger("kontor.errors")


class KontorError(Exception):
    """Base of the errors services raise with a message meant for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        # Services raise lazy (translatable) messages; `message` is the text in the request's language,
        # `lazy_message` the original, which the API renders in English and in Polish.
        super().__init__(str(message))
        self.message = str(message)
        self.lazy_message = message
        self.field = field


class NotFound(KontorError):
    code = "not_found"
    http_status = 404


class ValidationFailed(KontorError):
    code = "validation_failed"
    http_status = 422


class BadParameter(ValidationFailed):
    """A query-string, form or JSON value that cannot be read as what it should be (app.core.params).

    A ValidationFailed, so code that shows validation errors next to a field shows these too.
    """

    code = "bad_parameter"
    http_status = 400


class TransitionRefused(KontorError):
    code = "transition_refused"
    http_status = 409


class Conflict(KontorError):
    code = "conflict"
    http_status = 409


def answer_in_json(bp: Blueprint) -> None:
    """Make every error of an API blueprint a JSON `{error: {code, message}}`, a crash included."""

    @bp.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return jsonify(error=api_error(code, error.description or error.name)), error.code or 500

    @bp.errorhandler(InternalServerError)
    def _crash(error: InternalServerError):
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("API request failed", exc_info=original)
        return jsonify(error=api_error("internal_error", _l(
            "The request failed on Kontor's side and was logged; tell the admin if it keeps happening."))), 500
