"""The front door for platform deliveries: POST /webhooks/<kind>/<id>, answered before Flask's page machinery.

A shop sends many deliveries a second, each needing only its signature checked and one row written.
Through Flask every one also paid for matching the app's hundred-odd URL rules, the session, the
language, the login and CSRF hooks and the response object, which together cost about as much as
the delivery's own work. This WSGI layer answers exactly those requests inside an app context;
everything else, other methods and unknown addresses under /webhooks/ included, goes on to Flask.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable

from flask import Flask

from app.core.web import security_headers
from app.extensions import db
from app.webhooks.views import MAX_BODY, RECEIVERS, Answer, Incoming, error_answer

log = logging.getLogger("kontor.webhooks")

ROUTE = re.compile(r"/webhooks/(shopify|woocommerce|generic)/([0-9]{1,18})", re.ASCII)
STATUS_LINES = {200: "200 OK", 401: "401 UNAUTHORIZED", 404: "404 NOT FOUND", 405: "405 METHOD NOT ALLOWED",
                409: "409 CONFLICT", 413: "413 REQUEST ENTITY TOO LARGE", 500: "500 INTERNAL SERVER ERROR"}

StartResponse = Callable[..., Any]


def read_incoming(environ: dict[str, Any]) -> Incoming:
    """The delivery in `environ`: headers as werkzeug names them, and the body unless it is over MAX_BODY."""
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
               if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = environ[key]
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    if length.isascii() and length.isdigit():
        # PEP 3333: read no more than Content-Length; a larger claim is refused before reading anything.
        body = stream.read(int(length)) if int(length) <= MAX_BODY else None
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream; read one byte past the limit
        body = stream.read(MAX_BODY + 1)
    else:  # no length and no end: nothing may be read (PEP 3333)
        body = b""
    if body is not None and len(body) > MAX_BODY:
        body = None
    return Incoming(body, headers, environ.get("REMOTE_ADDR", ""))


class DeliveryReceiver:
    """WSGI middleware: answers platform deliveries itself and passes every other request to `wsgi_app`."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        route = ROUTE.fullmatch(path) if path.startswith("/webhooks/") else None
        if route is None:
            return self.wsgi_app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            answer = error_answer(405, "method_not_allowed", "Deliveries are sent with POST.")
            return self._send(answer, start_response, [("Allow", "POST")])
        kind, integration_id = route.group(1), int(route.group(2))
        with self.app.app_context():
            answer = self._receive(kind, integration_id, environ)
        return self._send(answer, start_response)

    def _receive(self, kind: str, integration_id: int, environ: dict[str, Any]) -> Answer:
        try:
            return RECEIVERS[kind](integration_id, read_incoming(environ))
        except Exception:  # the platform retries a 5xx; the cause goes to the log, never to the caller
            log.exception("webhook delivery to %s failed", environ.get("PATH_INFO"))
            db.session.rollback()
            return error_answer(500, "internal_error", "The delivery could not be stored; it was logged, "
                                                       "and the platform may send it again.")

    def _send(self, answer: Answer, start_response: StartResponse,
              extra: list[tuple[str, str]] | None = None) -> list[bytes]:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(answer.body))),
                   *security_headers(self.app.config.get("ENV_NAME") == "production"), *(extra or ())]
        start_response(STATUS_LINES[answer.status], headers)
        return [answer.body]


def init_app(app: Flask) -> None:
    """Put the receiver in front of the app (inside any proxy fix, so it sees the caller's address)."""
    app.wsgi_app = DeliveryReceiver(app, app.wsgi_app)
