"""The order API in the shape e-commerce managers expect: statuses by stable numeric id, shop states by store."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, tuple_

from app.core import params
from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import PlatformState
from app.orders.models import Order
from app.settings.models import OrderStatus


def status_ids() -> dict[str, int]:
    """Each status's stable numeric id (its row id, which never changes when it is renamed or moved)."""
    return dict(db.session.execute(select(OrderStatus.code, OrderStatus.id)).all())


def status_code(id_order_state: Any) -> str:
    """The status code of a numeric status id (an int or its digits), or ValidationFailed naming the field."""
    id_order_state = params.loose_id(id_order_state)
    if not params.is_id(id_order_state):
        raise ValidationFailed("Give \"id_order_state\" as the numeric id of a status (see /api/v1/init).",
                               field="id_order_state")
    code = db.session.scalar(select(OrderStatus.code).where(OrderStatus.id == id_order_state))
    if code is None:
        raise ValidationFailed(f"There is no status with id_order_state {id_order_state} (see /api/v1/init).",
                               field="id_order_state")
    return code


def ecommerce_order_states() -> list[dict[str, Any]]:
    """Every shop's order states: the platform state's id, the store (integration) it belongs to, its name."""
    rows = db.session.scalars(select(PlatformState).where(PlatformState.active.is_(True))
                              .order_by(PlatformState.integration_id, PlatformState.position, PlatformState.id))
    return [{"id_platform_state": s.id, "id_store": s.integration_id, "name": s.name} for s in rows]


def order_states(orders: Iterable[Order]) -> dict[int, dict[str, Any] | None]:
    """Each order's state on its platform as {id, state_name}, or None (one query for the lot)."""
    orders = list(orders)
    keys = {(o.integration_id, o.platform_state) for o in orders if o.integration_id and o.platform_state}
    found = {}
    if keys:
        rows = db.session.execute(select(PlatformState.integration_id, PlatformState.external_id, PlatformState.id,
                                         PlatformState.name)
                                  .where(tuple_(PlatformState.integration_id, PlatformState.external_id).in_(keys)))
        found = {(r[0], r[1]): {"id": r[2], "state_name": r[3]} for r in rows}
    return {o.id: found.get((o.integration_id, o.platform_state)) for o in orders}
