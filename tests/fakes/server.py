"""A real HTTP server on 127.0.0.1 in a background thread, with fault injection.

Subclasses implement `handle(request)` (and `error_response` for injected HTTP failures). Every
request is logged; handling runs under `lock`, so the test and any number of clients (threads or
other processes) may use the fake at once, and the test reads consistent state under the same lock.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Self

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

DROP = "drop"
DELAY = "delay"


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake received, as sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Fault:
    """A planned failure: an HTTP status, a dropped connection, or a delay before the answer.

    `on` is a regular expression searched in "METHOD /path"; None means any request. With
    `after`, the fake does the work first and then fails, like a server whose answer is lost.
    """

    kind: int | str
    on: str | None = None
    retry_after: float | str | None = None
    seconds: float = 0.0
    after: bool = False

    def matches(self, request_line: str) -> bool:
        return self.on is None or re.search(self.on, request_line) is not None


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the requests_log is the record
        pass


class _ConnectionDropped(ConnectionAbortedError):
    """Raised inside the WSGI app after closing the socket; werkzeug then writes nothing."""


class FakeServer:
    """Base of the fakes: lifecycle, request log, latency and fault injection."""

    def __init__(self, *, seed: int = 0, latency: float = 0.0, fail_rate: float = 0.0,
                 fail_status: int | str = 503, fail_retry_after: float | str | None = None,
                 fail_on: str | None = None) -> None:
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.latency = latency
        # Random failures: each request matching fail_on fails with probability fail_rate,
        # answering fail_status (an HTTP status, or DROP to close the connection).
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self.fail_retry_after = fail_retry_after
        self.fail_on = fail_on
        self._planned: deque[Fault] = deque()
        self.requests_log: list[LoggedRequest] = []
        self.handler_errors: list[str] = []
        self._server = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        if self._server is None:
            self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
            # A short poll interval makes stop() quick; the default waits up to half a second.
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=type(self).__name__, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (requests afterwards fail with connection refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT of the running server."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() or use it as a context manager.")
        return f"http://127.0.0.1:{self._server.port}"

    # --- fault injection ---------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503, *, retry_after: float | str | None = None,
                  on: str | None = None, after: bool = False) -> None:
        """The next `n` requests matching `on` answer HTTP `status` (with Retry-After if given)."""
        self._plan(Fault(status, on, retry_after, after=after) for _ in range(n))

    def drop_next(self, n: int = 1, *, on: str | None = None, after: bool = False) -> None:
        """The next `n` requests matching `on` get their connection closed without an answer."""
        self._plan(Fault(DROP, on, after=after) for _ in range(n))

    def delay_next(self, n: int = 1, seconds: float = 1.0, *, on: str | None = None) -> None:
        """The next `n` requests matching `on` are answered only after `seconds` (for timeouts)."""
        self._plan(Fault(DELAY, on, seconds=seconds) for _ in range(n))

    def clear_faults(self) -> None:
        """Forget planned faults and switch random failures off."""
        with self.lock:
            self._planned.clear()
            self.fail_rate = 0.0

    def _plan(self, faults: Iterable[Fault]) -> None:
        with self.lock:
            self._planned.extend(faults)

    def _take_fault(self, request_line: str) -> Fault | None:
        with self.lock:
            for fault in self._planned:
                if fault.matches(request_line):
                    self._planned.remove(fault)
                    return fault
            random_fault = Fault(self.fail_status, self.fail_on, self.fail_retry_after)
            if self.fail_rate and random_fault.matches(request_line) and self.random.random() < self.fail_rate:
                return random_fault
        return None

    # --- serving -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (called under `lock`)."""
        raise NotImplementedError

    def error_response(self, status: int, retry_after: float | str | None) -> Response:
        """The platform's answer for an injected HTTP failure."""
        response = Response(f"Injected failure (HTTP {status})", status=status, content_type="text/plain")
        return with_retry_after(response, retry_after)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(cache=True)
        logged = LoggedRequest(request.method, request.path, request.args.to_dict(flat=False),
                               dict(request.headers), body, time.time())
        with self.lock:
            self.requests_log.append(logged)
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(logged.line)
        if fault is not None and fault.kind == DELAY:
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and not fault.after:
            return self._fail(fault, environ, start_response)
        response = self._handled(request)
        if fault is not None:
            return self._fail(fault, environ, start_response)
        return response(environ, start_response)

    def _handled(self, request: Request) -> Response:
        with self.lock:
            try:
                return self.handle(request)
            except Exception:  # a bug in the fake must not pass for a platform failure
                self.handler_errors.append(traceback.format_exc())
                return Response("The fake crashed; see handler_errors.", status=599, content_type="text/plain")

    def _fail(self, fault: Fault, environ, start_response):
        if fault.kind == DROP:
            connection = environ["werkzeug.socket"]
            connection.shutdown(socket.SHUT_RDWR)
            raise _ConnectionDropped("connection dropped by fault injection")
        return self.error_response(int(fault.kind), fault.retry_after)(environ, start_response)


def with_retry_after(response: Response, retry_after: float | str | None) -> Response:
    """Set Retry-After (seconds or an HTTP date) when given."""
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
