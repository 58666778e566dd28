"""Errors a person can act on, raised by services and shown by views and the API."""

from __future__ import annotations


class KontorError(Exception):
    """Base of the errors services raise with a message meant for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(KontorError):
    code = "not_found"
    http_status = 404


class ValidationFailed(KontorError):
    code = "validation_failed"
    http_status = 422


class TransitionRefused(KontorError):
    code = "transition_refused"
    http_status = 409


class PermissionDenied(KontorError):
    code = "forbidden"
    http_status = 403


class Conflict(KontorError):
    code = "conflict"
    http_status = 409
