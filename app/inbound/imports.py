"""One way to import a sales channel's orders now, whatever the platform: "Import now" and `flask orders import`."""

from __future__ import annotations
from flask_babel import lazy_gettext as _l

from datetime import datetime

from app.core.errors import ValidationFailed
from app.core.events import bus
from app.extensions import db
from app.inbound import allegro, polling, prestashop
from app.inbound.runs import RunCounts
from app.integrations.services import get_integration

IMPORT_REQUESTED = "inbound.import_requested"
IMPORTED_KINDS = ("allegro", "prestashop", "shopify", "woocommerce")


def import_orders(integration_id: int, since: datetime | None = None) -> RunCounts:
    """Fetch the orders the platform changed since the last import (or `since`) into the inbound ledger.

    The counts say what was fetched and stored; their run_id names the run whose history shows what applying them did.
    """
    integration = get_integration(integration_id)
    if integration.kind == "allegro":
        return allegro.poll_journal(integration_id, since)
    if integration.kind == "prestashop":
        return prestashop.import_orders(integration_id, since)
    if integration.kind in polling.POLLED_KINDS:
        return polling.poll_orders(integration_id, since)
    raise ValidationFailed(_l("%(name)s sends its orders to Kontor; there is nothing to fetch.", name=integration.name))


def summary(counts: dict[str, int]) -> str:
    """An import's counts in words, for the shell."""
    return ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items())


def request_import(integration_id: int) -> None:
    """Ask the workers to import the integration's orders now (the job runs after the commit)."""
    integration = get_integration(integration_id)
    if integration.kind not in IMPORTED_KINDS:
        raise ValidationFailed(_l("%(name)s sends its orders to Kontor; there is nothing to fetch.", name=integration.name))
    if not integration.enabled:
        raise ValidationFailed(_l("%(name)s is disabled; enable it to import orders.", name=integration.name))
    bus.publish(db.session, IMPORT_REQUESTED, {"integration_id": integration.id})
    db.session.commit()
