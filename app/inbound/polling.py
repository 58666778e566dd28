"""Polling shops for changed orders, because webhooks can be late, missing, or switched off by the shop.

Shopify says deliveries may be late or never come; WooCommerce disables a webhook after 5 failed
deliveries and does not retry. Every 15 minutes each Shopify and WooCommerce integration is asked for
the orders changed since the last poll (minus an overlap, so a change committed while the last poll
ran is not missed). Each order is stored raw in the inbound ledger, exactly like a webhook, and
applied by the same job: what a webhook already brought is recognised as unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.inbound import ledger, runs
from app.integrations import progress, services as integrations
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.services import list_integrations

POLLED_KINDS = ("shopify", "woocommerce")
CURSOR = "orders_polled_until"
OVERLAP = timedelta(minutes=5)
FIRST_POLL_BACK = timedelta(days=7)
POLL_TOPIC = "poll"


def _since(integration: Integration) -> datetime:
    value = progress.cursors(integration.id).get(CURSOR)
    if value:
        return datetime.fromisoformat(value) - OVERLAP
    days = int((integration.settings or {}).get("import_days", FIRST_POLL_BACK.days))
    return utcnow() - timedelta(days=days)


def _key(integration: Integration, order: dict) -> tuple[str, str]:
    if integration.kind == "shopify":
        return str(order.get("id") or ""), str(order.get("updated_at") or "")
    return str(order.get("id") or ""), str(order.get("date_modified_gmt") or order.get("date_modified") or "")


def poll_orders(integration_id: int, since: datetime | None = None) -> dict[str, int]:
    """Store every order the shop changed since the last poll (or `since`) in the ledger; returns the counts."""
    integration = integrations.get_integration(integration_id)
    if integration.kind not in POLLED_KINDS:
        raise ValidationFailed(_l("Kontor does not poll %(kind)s integrations for orders.", kind=integration.kind_name))
    started = utcnow()
    since = since or _since(integration)
    run = runs.start(integration.id, "order_poll", started)
    counts = {"orders": 0, "new": 0, "known": 0}
    unreadable = []

    def store(page: list[dict]) -> None:
        for order in page:
            if not isinstance(order, dict):  # not an order object: noted, and the rest of the page goes on
                unreadable.append(type(order).__name__)
                continue
            order_id, updated = _key(integration, order)
            if not order_id:
                continue
            recorded = ledger.record(integration.id, integration.kind, f"poll:{order_id}:{updated}",
                                     json.dumps(order).encode(), {"X-Kontor-Poll": started.isoformat()},
                                     topic=POLL_TOPIC, resource_id=order_id, run_id=run.id)
            counts["orders"] += 1
            counts["new" if not recorded.duplicate else "known"] += 1

    try:
        integrations.call_platform(integration, lambda client: client.changed_orders(since, store))
    except PlatformError as error:
        db.session.rollback()
        run.ok, run.finished_at, run.counts = False, utcnow(), counts
        run.say(error.message)
        db.session.commit()
        raise
    # Only once every page is stored: a poll that dies half-way starts from the same moment again.
    progress.move_cursor(integration.id, CURSOR, started.isoformat())
    run.counts, run.finished_at = counts, utcnow()
    skipped = (_l("; %(count)s entries of the answer were not orders and were skipped", count=len(unreadable))
               if unreadable else "")
    run.say(_l("%(orders)s orders changed since %(since)s UTC, %(new)s new to Kontor%(skipped)s",
               orders=counts["orders"], since=since.strftime("%Y-%m-%d %H:%M"), new=counts["new"], skipped=skipped))
    db.session.commit()
    return runs.RunCounts(run.id, counts)


def poll_all() -> dict[str, str]:
    """Poll every enabled Shopify and WooCommerce integration; one shop's failure does not stop the rest."""
    outcomes = {}
    for integration in list_integrations():
        if integration.kind not in POLLED_KINDS or not integration.enabled:
            continue
        try:
            counts = poll_orders(integration.id)
            outcomes[integration.name] = f"{counts['orders']} changed, {counts['new']} new"
        except PlatformError as error:
            outcomes[integration.name] = f"failed: {error.message}"
    return outcomes
