"""Built-in subscribers to order events (more are added by the sync and stock domains)."""

from __future__ import annotations

import logging

from app.core.events import bus
from app.orders.services import STATUS_CHANGED

log = logging.getLogger("kontor.orders")


@bus.subscribe(STATUS_CHANGED, "orders.log_status_change", moment="after_commit")
def log_status_change(payload: dict) -> None:
    """Write each committed status change to the log, one line an operator can grep."""
    log.info(
        "order %s (%s) status %s -> %s by %s",
        payload["order_id"], payload["number"], payload["from_status"], payload["to_status"],
        payload["change_source"],
    )
