"""JSON API v1 for orders: dictionaries, list, detail, status change, bulk status change, platform link."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from app.accounts.api_auth import api_user, protect
from app.core import params
from app.core.errors import BadParameter, ValidationFailed, answer_in_json
from app.core.types import utcnow
from app.orders import listing, platform_states, services, shipments
from app.orders.links import PlatformLink
from app.orders.models import Order, OrderShipment

bp = Blueprint("orders_api", __name__, url_prefix="/api/v1")
protect(bp)
answer_in_json(bp)

MAX_BULK = 1000


def _actor() -> services.Actor:
    return services.Actor.user(api_user(), "api")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _money(value) -> str:
    return f"{value:.2f}" if value is not None else "0.00"


def order_summary(order: Order, ecommerce_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """An order as one row of the list (with its platform state as {id, state_name}, or null)."""
    return {
        "id": order.id, "number": order.number, "source": order.source, "integration_id": order.integration_id,
        "external_order_id": order.external_order_id, "status": order.status,
        "payment_status": order.payment_status, "fulfillment_status": order.fulfillment_status,
        "currency": order.currency, "total_gross": _money(order.total_gross), "total_net": _money(order.total_net),
        "customer": {"name": order.customer_name, "email": order.customer_email, "phone": order.customer_phone},
        "delivery_method": order.delivery_method, "ordered_at": _iso(order.ordered_at),
        "updated_at": _iso(order.updated_at), "status_changed_at": _iso(order.status_changed_at),
        "ecommerce_order_state": ecommerce_state,
    }


def order_detail(order: Order) -> dict[str, Any]:
    """An order with its items, addresses, payments, shipments and history."""
    data = order_summary(order, platform_states.order_states([order])[order.id])
    data.update(
        subtotal_gross=_money(order.subtotal_gross), shipping_gross=_money(order.shipping_gross),
        discount_gross=_money(order.discount_gross), total_paid=_money(order.total_paid),
        customer_comment=order.customer_comment, metadata=order.meta or {}, created_at=_iso(order.created_at),
        items=[{"id": i.id, "name": i.name, "sku": i.sku, "ean": i.ean, "quantity": i.quantity,
                "unit_price_net": _money(i.unit_price_net), "unit_price_gross": _money(i.unit_price_gross),
                "vat_rate": f"{i.vat_rate:g}", "discount_gross": _money(i.discount_gross),
                "total_gross": _money(i.total_gross)} for i in order.items],
        addresses={a.kind: {"name": a.name, "company": a.company, "vat_id": a.vat_id, "street": a.street,
                            "postcode": a.postcode, "city": a.city, "country_code": a.country_code,
                            "phone": a.phone, "email": a.email, "point_id": a.point_id} for a in order.addresses},
        payments=[{"id": p.id, "method": p.method, "amount": _money(p.amount), "currency": p.currency,
                   "status": p.status, "paid_at": _iso(p.paid_at)} for p in order.payments],
        shipments=[shipment_detail(s) for s in order.shipments],
        status_history=[{"from": h.from_status, "to": h.to_status, "changed_by": h.changed_by,
                         "change_source": h.change_source, "comment": h.comment, "at": _iso(h.at)}
                        for h in order.history],
        notes=[{"body": n.body, "author": n.author, "at": _iso(n.created_at)} for n in order.notes],
    )
    return data


def shipment_detail(shipment: OrderShipment) -> dict[str, Any]:
    """One parcel of an order."""
    return {"id": shipment.id, "carrier": shipment.carrier, "service": shipment.service,
            "tracking_number": shipment.tracking_number, "status": shipment.status,
            "shipped_at": _iso(shipment.shipped_at), "created_at": _iso(shipment.created_at)}


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object with Content-Type: application/json.")
    return body


def _status_code(body: dict[str, Any]) -> str:
    if body.get("id_order_state") is not None and not body.get("status"):
        return platform_states.status_code(body["id_order_state"])
    status = body.get("status") or body.get("new_state")
    if not isinstance(status, str) or not status:
        raise ValidationFailed("Give the new status code as \"status\" (or its numeric id as \"id_order_state\").")
    return status


@bp.get("/init")
def init():
    """Statuses and the other dictionaries a client needs to show orders."""
    lists = services.order_choices()
    ids = platform_states.status_ids()
    return jsonify(
        statuses=[{"id": ids.get(s.code), "code": s.code, "name": s.name, "group": s.group, "colour": s.colour,
                   "position": s.position, "final": s.final} for s in lists["statuses"]],
        ecommerce_order_states=platform_states.ecommerce_order_states(),
        payment_statuses=[{"code": k, "name": v} for k, v in lists["payment_statuses"].items()],
        fulfillment_statuses=[{"code": k, "name": v} for k, v in lists["fulfillment_statuses"].items()],
        sources=[{"code": k, "name": v} for k, v in lists["sources"].items()],
        change_sources=[{"code": k, "name": v} for k, v in lists["change_sources"].items()],
        server_time=utcnow().isoformat(),
    )


@bp.get("/orders")
def list_orders():
    """A page of orders, filtered like the order list page."""
    filters = listing.OrderFilters.from_args(request.args)
    if filters.errors:
        raise BadParameter(" ".join(filters.errors))
    page = listing.list_orders(filters)
    states = platform_states.order_states(page.items)
    return jsonify(
        orders=[order_summary(o, states[o.id]) for o in page.items],
        pagination={"page": page.page, "limit": page.per_page, "total": page.total, "pages": page.pages},
    )


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    """One order with everything attached to it."""
    return jsonify(order_detail(services.get_order(order_id, full=True)))


@bp.put("/orders/<int:order_id>/status")
def change_status(order_id: int):
    """Change one order's status: {"status": "paid", "comment": "..."}."""
    body = _json_body()
    status = _status_code(body)
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ValidationFailed("Give the comment as text.")
    change = services.change_status(order_id, status, _actor(), comment or "")
    return jsonify(id_order=change.order_id, old_state=change.old_status, new_state=change.new_status)


@bp.post("/orders/bulk-status")
def bulk_status():
    """Change many orders' status: {"order_ids": [1, 2], "status": "shipped"}, or a target per order:
    {"orders": [{"id_order": 32, "id_order_state": 3}, ...]}; each order on its own."""
    body = _json_body()
    if "orders" in body:
        return _bulk_answer(_bulk_targets(body["orders"]))
    ids = body.get("order_ids") or body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed("Give \"order_ids\" as a non-empty list of order ids (integers).")
    if len(ids) > MAX_BULK:
        raise ValidationFailed(f"At most {MAX_BULK} orders per request.")
    status = _status_code(body)
    return _bulk_answer(services.bulk_change_status(ids, status, _actor()))


def _bulk_targets(entries: Any) -> list[services.BulkOutcome]:
    if not isinstance(entries, list) or not entries:
        raise ValidationFailed("Give \"orders\" as a non-empty list of {\"id_order\": …, \"id_order_state\": …}.")
    if len(entries) > MAX_BULK:
        raise ValidationFailed(f"At most {MAX_BULK} orders per request.")
    targets: dict[str, list[int]] = {}
    refusals: list[services.BulkOutcome] = []
    for position, entry in enumerate(entries):
        order_id = params.loose_id(entry.get("id_order")) if isinstance(entry, dict) else None
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            raise ValidationFailed(f"orders[{position}] needs \"id_order\" as an order id (an integer).")
        try:
            targets.setdefault(_status_code(entry), []).append(order_id)
        except ValidationFailed as refused:  # this order's target is wrong; the others still change
            refusals.append(services.BulkOutcome(order_id, "", False, code=refused.code, reason=refused.message))
    outcomes = refusals
    for status, order_ids in targets.items():
        outcomes += services.bulk_change_status(order_ids, status, _actor())
    return outcomes


def _bulk_answer(outcomes: list[services.BulkOutcome]):
    successful = [{"id_order": o.order_id, "old_state": o.old_status, "new_state": o.new_status}
                  for o in outcomes if o.changed]
    failed = [{"id_order": o.order_id, "error": {"code": o.code, "message": o.reason}}
              for o in outcomes if not o.changed]
    return jsonify(successful=successful, failed=failed,
                   summary={"total": len(outcomes), "successful_count": len(successful),
                            "failed_count": len(failed)})


@bp.put("/orders/<int:order_id>/link")
def link_order(order_id: int):
    """Link an order to its platform order: {"integration_id": 3, "external_order_id": "1024"}."""
    body = _json_body()
    integration_id, external_id = body.get("integration_id"), body.get("external_order_id")
    if isinstance(integration_id, bool) or not isinstance(integration_id, int):
        raise ValidationFailed("Give \"integration_id\" as the id (an integer) of a shop or marketplace integration.")
    if not isinstance(external_id, (str, int)) or isinstance(external_id, bool):
        raise ValidationFailed("Give \"external_order_id\" as the order's id on the platform (text).")
    order = services.set_platform_link(order_id, PlatformLink(integration_id, str(external_id)), _actor())
    return jsonify(order_summary(order))


@bp.delete("/orders/<int:order_id>/link")
def unlink_order(order_id: int):
    """Undo an order's link to a platform order; the order keeps everything else."""
    order = services.set_platform_link(order_id, PlatformLink(None), _actor())
    return jsonify(order_summary(order))


@bp.post("/orders/<int:order_id>/shipments")
def add_shipment(order_id: int):
    """Add a parcel: {"carrier": "DPD", "tracking_number": "...", "service": "..."}; a platform order gets it too."""
    body = _json_body()
    values = {}
    for name in ("carrier", "tracking_number", "service"):
        value = body.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValidationFailed(f"Give \"{name}\" as a string.", field=name)
        values[name] = value
    shipment = shipments.add_shipment(order_id, shipments.ShipmentInput(**values), _actor())
    return jsonify(shipment_detail(shipment)), 201
