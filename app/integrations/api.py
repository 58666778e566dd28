"""JSON API v1 for integrations: refresh a shop's platform states."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.accounts.api_auth import protect
from app.core import params
from app.core.errors import NotFound, ValidationFailed, answer_in_json
from app.core.i18n import api_error
from app.integrations import services, state_mappings
from app.integrations.base import PlatformError

bp = Blueprint("integrations_api", __name__, url_prefix="/api/v1")
protect(bp)
answer_in_json(bp)


@bp.post("/sync/prestashop")
def sync_prestashop_states():
    """Refresh the order states of the PrestaShop integration `store_id` now."""
    if not request.args.get("store_id"):
        raise ValidationFailed("Give the integration id as ?store_id=<id>.")
    store_id = params.id_arg(request.args["store_id"], "store_id", what="integration")
    integration = services.get_integration(store_id)
    if integration.kind != "prestashop":
        raise NotFound(f"Integration {store_id} is not a PrestaShop store.")
    try:
        counts = state_mappings.sync_states(store_id)
    except PlatformError as error:
        return jsonify(error=api_error("platform_error", error.message)), 502
    states = [{"id": s.external_id, "name": s.name, "active": s.active} for s in integration.states]
    return jsonify(store_id=store_id, counts=counts, states=states)
