"""An order's link to its platform order, set by hand for orders that came in before the import existed.

A linked order is a platform order: its source follows the integration's platform, and status
changes made in Kontor are pushed to that order (the push reads `integration_id` and
`external_order_id`). Unlinking gives the order back the source it had before it was linked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from flask_babel import lazy_gettext as _l

from app.core import params
from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import KINDS, Integration
from app.orders.models import Order

SOURCE_BEFORE_LINK = "source_before_link"


@dataclass(frozen=True)
class PlatformLink:
    """The platform order an order is: an integration (a sales channel) and the order's id there; None unlinks."""

    integration_id: int | None
    external_order_id: str = ""


def sales_channels() -> list[Integration]:
    """Integrations orders can come from (shops and marketplaces, not supplier feeds), by name."""
    return list(db.session.scalars(select(Integration).where(Integration.kind.in_(KINDS)).order_by(Integration.name)))


def check(link: PlatformLink, order_id: int | None) -> Integration | None:
    """The integration to link to (None to unlink), or ValidationFailed naming the field to fix."""
    external_id = params.text_arg(link.external_order_id, "external_order_id",
                                  max_length=params.column_length(Order.external_order_id),
                                  label="platform order id")
    if link.integration_id is None:
        if external_id:
            raise ValidationFailed(_l("Choose the platform this order id belongs to."), field="integration_id")
        return None
    integration = db.session.get(Integration, link.integration_id) if params.is_id(link.integration_id) else None
    if integration is None:
        raise ValidationFailed(_l("There is no integration %(integration_id)s.", integration_id=link.integration_id), field="integration_id")
    if integration.kind not in KINDS:
        raise ValidationFailed(_l("%(name)s is a supplier feed, not a sales channel; orders can only be "
                                  "linked to a shop or marketplace.", name=integration.name), field="integration_id")
    if not external_id:
        raise ValidationFailed(_l("Give the order's id on %(name)s.", name=integration.name), field="external_order_id")
    taken = db.session.scalar(select(Order.number).where(
        Order.integration_id == integration.id, Order.external_order_id == external_id,
        *([Order.id != order_id] if order_id is not None else [])))
    if taken is not None:
        raise ValidationFailed(_l("%(name)s order %(external_id)s is already linked to order %(taken)s.", name=integration.name, external_id=external_id, taken=taken),
                               field="external_order_id")
    return integration


def apply(order: Order, link: PlatformLink, integration: Integration | None) -> str | None:
    """Set (or clear) the order's platform order; returns what changed in words, or None if nothing did."""
    external_id = link.external_order_id.strip()
    if integration is None:
        if order.integration_id is None and not order.external_order_id:
            return None
        before = f"{order.integration.name if order.integration else 'platform'} order {order.external_order_id}"
        meta = dict(order.meta or {})
        order.source = meta.pop(SOURCE_BEFORE_LINK, None) or "manual"
        order.meta = meta
        order.integration_id, order.external_order_id = None, None
        order.platform_state, order.platform_state_at = None, None
        return f"Unlinked from {before}"
    if order.integration_id == integration.id and order.external_order_id == external_id:
        return None
    if order.integration_id is None:
        order.meta = {**(order.meta or {}), SOURCE_BEFORE_LINK: order.source}
    order.integration_id, order.external_order_id = integration.id, external_id
    order.integration = integration
    order.source = integration.kind
    order.platform_state, order.platform_state_at = None, None
    return f"Linked to {integration.name} order {external_id}"
