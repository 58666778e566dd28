"""One URL for page and fragment: HTMX requests get the partial, others the whole page."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template

from app.extensions import htmx


def render_page_or_fragment(page_template: str, fragment_template: str, status_code: int = 200, **context: Any) -> Response:
    """Render the fragment for an HTMX request (not a boosted one) and the whole page otherwise."""
    template = fragment_template if htmx and not htmx.boosted else page_template
    response = make_response(render_template(template, **context), status_code)
    response.vary.add("HX-Request")
    return response


def render_fragment(fragment_template: str, status_code: int = 200, **context: Any) -> Response:
    """Render a partial that only HTMX asks for (a row, a form's result)."""
    response = make_response(render_template(fragment_template, **context), status_code)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str, detail: Any = True) -> Response:
    """Ask the page to fire a client-side event after the swap (HX-Trigger)."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response
