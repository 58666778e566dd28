"""The Deliveries page of an integration: what each platform sent, what Kontor did with it, Reprocess."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from app.core.auth import role_required
from app.core.htmx import render_fragment, render_page_or_fragment
from app.extensions import htmx
from app.core.errors import ValidationFailed
from app.inbound import imports, ledger
from app.inbound.models import STATES
from app.integrations.services import get_integration

bp = Blueprint("inbound", __name__, url_prefix="/integrations")


def webhook_endpoint(kind: str) -> str | None:
    """The webhooks endpoint name for an integration kind, if platforms of that kind call Kontor."""
    return {"shopify": "webhooks.shopify", "woocommerce": "webhooks.woocommerce",
            "generic": "webhooks.generic"}.get(kind)


@bp.get("/<int:integration_id>/deliveries")
def deliveries(integration_id: int):
    """The integration's latest deliveries, newest first, filtered by state (?state=failed)."""
    integration = get_integration(integration_id)
    state = request.args.get("state", "")
    if state not in STATES:
        state = ""
    before = request.args.get("before", type=int)
    events = ledger.page(integration_id, state, before_id=before)
    return render_page_or_fragment(
        "inbound/deliveries.html", "inbound/_deliveries.html", integration=integration, events=events,
        state=state, states=STATES, counts=ledger.counts(integration_id),
        rejections=ledger.rejections(integration_id), endpoint=webhook_endpoint(integration.kind),
    )


@bp.post("/<int:integration_id>/deliveries/<int:event_id>/reprocess")
@role_required("operator")
def reprocess(integration_id: int, event_id: int):
    """Process a delivery again now (its row shows it waiting; the page refreshes when it is done)."""
    event = ledger.reprocess(integration_id, event_id)
    if not htmx:
        return redirect(url_for("inbound.deliveries", integration_id=integration_id))
    return render_fragment("inbound/_delivery_row.html", event=event, integration=get_integration(integration_id))


@bp.post("/<int:integration_id>/orders/import")
@role_required("operator")
def import_now(integration_id: int):
    """Ask the workers to import the integration's changed orders now; the run shows in the integration's runs."""
    try:
        imports.request_import(integration_id)
        flash(_("Import started; new orders appear on the Deliveries page as they arrive."), "success")
    except ValidationFailed as refused:
        flash(refused.message, "error")
    return redirect(url_for("integrations.detail", integration_id=integration_id))
