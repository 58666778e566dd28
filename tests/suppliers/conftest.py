"""Supplier feed fixtures: a feeds folder per test and a real HTTP feed server on 127.0.0.1."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from tests.fakes.server import FakeServer


@pytest.fixture
def feeds_folder(app, tmp_path) -> Path:
    """The test's KONTOR_FEEDS_DIR: path feeds may read only files inside it."""
    folder = tmp_path / "feeds"
    folder.mkdir()
    app.config["FEEDS_DIR"] = str(folder)
    return folder


class FeedServer(FakeServer):
    """A supplier's web server: files by path, redirects, and a body that never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.gzipped: dict[str, bytes] = {}  # sent with Content-Encoding: gzip

    def handle(self, request: Request) -> Response:
        if request.path in self.redirects:
            return Response("", status=302, headers={"Location": self.redirects[request.path]})
        if request.path == "/endless.csv":
            return Response(_endless(), content_type="text/csv")
        if request.path in self.gzipped:
            return Response(gzip.compress(self.gzipped[request.path]), content_type="text/csv",
                            headers={"Content-Encoding": "gzip"})
        if request.path in self.files:
            return Response(self.files[request.path], content_type="text/csv")
        return Response("not found", status=404, content_type="text/plain")

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def url(self, path: str, host: str = "localhost") -> str:
        """The address of `path` on this server, by host name (allowed) or IP."""
        return f"http://{host}:{self.port}{path}"


def _endless():
    yield b"kod;stan\n"
    while True:
        yield b"A;1\n" * 16384


@pytest.fixture
def feed_server(app):
    """A feed server on 127.0.0.1 that the app may reach by the name localhost (KONTOR_FEED_ALLOWED_HOSTS)."""
    app.config["FEED_ALLOWED_HOSTS"] = frozenset({"localhost"})
    with FeedServer() as server:
        yield server


@pytest.fixture
def other_server():
    """A second local server, not allowed: nothing may reach it."""
    with FeedServer() as server:
        server.files["/secret"] = b"internal answer"
        yield server
