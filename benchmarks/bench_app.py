"""The Kontor app plus one trivial page, served by the order-list benchmark.

The trivial page is the yardstick: it passes through everything every page passes through
(the login check with its user lookup, the session, CSRF set-up) but renders no template
and runs no query of its own, so "list req/s / trivial req/s" isolates what the list costs.
"""

from __future__ import annotations

from flask import Flask

from app import create_app

TRIVIAL_PATH = "/bench/trivial"


def create_bench_app() -> Flask:
    """`app.create_app()` (configured from the environment) with the trivial page added."""
    app = create_app()

    @app.get(TRIVIAL_PATH)
    def bench_trivial() -> str:
        return "ok"

    return app
