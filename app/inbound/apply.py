"""Applying a platform's order to Kontor: one Kontor order per platform order, never older over newer.

Everything here runs in the caller's transaction; the caller commits (together with the ledger
row that says the event was processed), so an event is applied exactly once or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timezone
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.catalog.matching import SoldItem, match_products
from app.core.bulk import begin_write
from app.core.errors import TransitionRefused
from app.core.i18n import english
from app.core.types import utcnow
from app.core.upsert import insert_or_nothing
from app.extensions import db
from app.integrations.allegro.client import FULFILLMENT_STATES as ALLEGRO_STATES
from app.integrations.base import PlatformDeletion, PlatformOrder, PlatformRefund
from app.integrations.models import Integration
from app.integrations.state_mappings import pull_status_for, state_name
from app.integrations.shopify.mapping import STATES as SHOPIFY_STATES
from app.integrations.woocommerce.mapping import STATES as WOOCOMMERCE_STATES
from app.orders.models import Order, OrderAddress, OrderItem, OrderPayment, OrderShipment, OrderStatusHistory
from app.core.events import bus
from app.orders.services import PLATFORM_ORDERS_IMPORTED, Actor, apply_totals, move_status, record_event
from app.settings.services import next_order_number, status_defs

# Names of the states Kontor knows without asking the shop (used before "Sync states" ran).
BUILT_IN_STATES = {"shopify": {s.external_id: s.name for s in SHOPIFY_STATES},
                   "woocommerce": {s.external_id: s.name for s in WOOCOMMERCE_STATES},
                   "allegro": {s.external_id: s.name for s in ALLEGRO_STATES}}
ORDER_SOURCES = {"shopify": "shopify", "woocommerce": "woocommerce", "allegro": "allegro",
                 "prestashop": "prestashop", "generic": "webhook"}
# Platforms that lower their own stock when the buyer orders (a generic webhook shop says nothing of it).
TAKES_STOCK_ON_ORDER = ("allegro", "prestashop", "shopify", "woocommerce")


@dataclass(frozen=True)
class Applied:
    """What applying one platform message did: created, updated, refused, unchanged, older or skipped.

    "refused": the order was updated but the workflow refused the status the platform's state maps to.
    """

    outcome: str
    message: Any  # text or a lazy message, stored with its key (ledger.close) so pages say it in the reader's language
    order_id: int | None = None

    @property
    def ledger_state(self) -> str:
        """How the ledger files it: an older version or a skipped message is "ignored"."""
        return "ignored" if self.outcome in ("older", "skipped") else "processed"


def stamp(moment: datetime | None) -> str:
    """A moment as text that sorts like time (UTC, microseconds), or "" when unknown."""
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def platform_name(integration: Integration) -> str:
    """How the timeline names the platform: "Shopify", "WooCommerce", or the integration's name."""
    return integration.name if integration.kind == "generic" else integration.kind_name


def platform_actor(integration: Integration) -> Actor:
    """Changes that come from the platform: change_source=platform, so they are never pushed back."""
    return Actor(platform_name(integration), "platform")


def state_label(integration: Integration, state_id: str) -> str:
    """The platform state's name: the synced one, else the built-in one, else the id."""
    if not state_id:
        return "—"
    name = state_name(integration, state_id)
    return BUILT_IN_STATES.get(integration.kind, {}).get(state_id, name) if name == state_id else name


def pulled_status(integration: Integration, state_id: str) -> str | None:
    """The Kontor status a platform state is pulled into (mappings "pull" or "both"), if any.

    A generic shop sends Kontor's own status codes, which need no mapping.
    """
    status = pull_status_for(integration, state_id)
    if status is None and integration.kind == "generic" and state_id in status_defs():
        return state_id
    return status


def initial_status(integration: Integration) -> str:
    """The status of a new order the mappings say nothing about: the integration's choice, else the first new one."""
    statuses = status_defs()
    chosen = (integration.settings or {}).get("initial_status")
    if chosen in statuses:
        return chosen
    if "awaiting_payment" in statuses:
        return "awaiting_payment"
    return next(iter(statuses))


def _find(integration_id: int, external_id: str) -> int | None:
    return db.session.scalar(select(Order.id).where(Order.integration_id == integration_id,
                                                    Order.external_order_id == external_id))


def _lock(order_id: int) -> Order:
    return db.session.get(Order, order_id, with_for_update=True, populate_existing=True, options=[
        selectinload(Order.items), selectinload(Order.addresses), selectinload(Order.payments),
        selectinload(Order.shipments)])


def _insert(integration: Integration, incoming: PlatformOrder, status: str) -> int | None:
    """Insert the order's row unless another worker just did; the new id, or None."""
    savepoint = db.session.begin_nested()
    now = utcnow()
    order_id = insert_or_nothing(db.session, Order.__table__, {
        "number": next_order_number(), "source": ORDER_SOURCES.get(integration.kind, "api"),
        "integration_id": integration.id, "external_order_id": incoming.external_id, "status": status,
        "currency": incoming.currency, "customer_name": incoming.customer_name[:200],
        "ordered_at": incoming.ordered_at or now, "status_changed_at": now, "created_at": now, "updated_at": now,
    }, ("integration_id", "external_order_id"), Order.__table__.c.id)
    if order_id is None:
        savepoint.rollback()  # gives the order number back
        return None
    savepoint.commit()
    return order_id


def apply_order(integration: Integration, incoming: PlatformOrder, occurred_at: datetime | None = None) -> Applied:
    """Create or update the Kontor order for a platform order, unless Kontor already has a newer version."""
    begin_write(db.session.connection())
    version = [stamp(incoming.updated_at), stamp(occurred_at)]
    target = pulled_status(integration, incoming.state)
    order_id = _find(integration.id, incoming.external_id)
    created = False
    if order_id is None:
        order_id = _insert(integration, incoming, target or initial_status(integration))
        created = order_id is not None
        order_id = order_id or _find(integration.id, incoming.external_id)
    order = _lock(order_id)
    name = platform_name(integration)
    stored = (order.meta or {}).get("platform_version")
    if not created and stored and any(version):
        if version < stored:
            return Applied("older", _l("%(name)s sent an older version of order %(number)s (%(theirs)s) than Kontor "
                                       "has (%(ours)s); not applied.", name=name, number=incoming.number,
                                       theirs=version[0] or version[1], ours=stored[0] or stored[1]), order.id)
        if version == stored:
            return Applied("unchanged", _l("Order %(number)s is already up to date.", number=incoming.number), order.id)
    previous_state = order.platform_state
    fill(order, incoming)
    _link_products(integration, order, incoming)
    order.meta = platform_meta(order.meta, incoming, version)
    order.platform_state, order.platform_state_at = incoming.state, utcnow()
    actor = platform_actor(integration)
    label = state_label(integration, incoming.state)
    if created:
        db.session.add(OrderStatusHistory(order=order, from_status=None, to_status=order.status, changed_by=actor.name,
                                          change_source="platform",
                                          comment=f"{name}: {label}" if incoming.state else ""))
        record_event(order, "imported", _l("Order %(number)s received from %(name)s", number=incoming.number, name=name),
                     actor)
        db.session.flush()
        announce_imported(integration, [order.id])
        return Applied("created", _l("Created order %(number)s from %(name)s order %(external)s.", number=order.number,
                                     name=name, external=incoming.number), order.id)
    followed, refused = "", False
    if incoming.state != previous_state and integration.sync_direction in ("pull", "both"):
        followed, refused = _follow_state(order, integration, incoming.state, label, target, actor)
    db.session.flush()
    if followed:
        return Applied("refused" if refused else "updated", _l(
            "Updated order %(number)s from %(name)s. %(status)s", number=order.number, name=name, status=followed),
            order.id)
    return Applied("updated", _l("Updated order %(number)s from %(name)s.", number=order.number, name=name), order.id)


def announce_imported(integration: Integration, order_ids: list[int]) -> None:
    """Tell the stock side (in this transaction) that new orders came whose platform already took the stock."""
    if order_ids and integration.kind in TAKES_STOCK_ON_ORDER:
        bus.publish(db.session, PLATFORM_ORDERS_IMPORTED, {"integration_id": integration.id,
                                                           "order_ids": sorted(order_ids)})


def _follow_state(order: Order, integration: Integration, state: str, label: str, target: str | None,
                  actor: Actor) -> tuple[str, bool]:
    """Move the order to the status the platform's state maps to; (what happened in words, whether refused)."""
    name = platform_name(integration)
    if target is None:
        return f"{name} says {label}; no pull mapping for it, the status stays.", False
    if target == order.status:
        return "", False
    try:
        move_status(order, target, actor, comment=f"{name}: {label}")
    except TransitionRefused as refused:
        message = _l("%(name)s says %(state)s; not applied: %(why)s", name=name, state=label, why=refused.message)
        record_event(order, "platform_status_refused", message, actor, level="warning",
                     data={"platform_state": state, "integration_id": integration.id})
        return english(message), True
    return f"Status → {target} ({name} says {label}).", False


def platform_meta(meta: dict | None, incoming: PlatformOrder, version: list[str]) -> dict:
    """The order's metadata with what the platform's version says (the version compared next time, revision)."""
    extra = {key: value for key, value in (("platform_revision", incoming.revision),
                                           ("marketplace", incoming.marketplace)) if value}
    return {**(meta or {}), "platform_version": version, "platform_number": incoming.number, **extra}


@dataclass(frozen=True)
class RowMakers:
    """What fill() makes an order's new child rows with: the models, or a batch's plain drafts of them."""

    item: Callable[..., Any] = OrderItem
    address: Callable[..., Any] = OrderAddress
    payment: Callable[..., Any] = OrderPayment
    shipment: Callable[..., Any] = OrderShipment


MODEL_ROWS = RowMakers()


def fill(order: Order, incoming: PlatformOrder, make: RowMakers = MODEL_ROWS) -> None:
    """Copy the platform order onto Kontor's order: customer, items, addresses, payments, shipments, totals."""
    order.customer_name = incoming.customer_name[:200]
    order.customer_email = incoming.customer_email.strip().lower()[:255]
    order.customer_phone = incoming.customer_phone[:40]
    order.currency = incoming.currency
    order.delivery_method = incoming.delivery_method[:120]
    order.customer_comment = incoming.customer_comment
    order.shipping_gross = incoming.shipping_gross
    order.payment_status = incoming.payment_status
    if incoming.ordered_at:
        order.ordered_at = incoming.ordered_at
    rows = list(order.items)
    by_external = {row.external_item_id: row for row in rows if row.external_item_id}
    kept = []
    for index, given in enumerate(incoming.items):
        row = by_external.get(given.external_item_id) if given.external_item_id else None
        if row is None:
            row = rows[index] if index < len(rows) and rows[index] not in kept else make.item()
        row.name, row.sku, row.ean = given.name[:255], given.sku[:64], given.ean[:32]
        row.external_item_id = given.external_item_id or None
        row.offer_id = given.offer_id[:64]
        row.quantity, row.vat_rate, row.discount_gross = given.quantity, given.vat_rate, given.discount_gross
        row.unit_price_gross = given.unit_price_gross
        row.unit_price_net = (given.unit_price_gross / (1 + given.vat_rate / 100)).quantize(Decimal("0.01"))
        kept.append(row)
    order.items = kept
    addresses = {a.kind: a for a in order.addresses}
    for kind, given in incoming.addresses:
        address = addresses.get(kind) or addresses.setdefault(kind, make.address(kind=kind))
        for key, value in vars(given).items():
            setattr(address, key, value)
    order.addresses = list(addresses.values())
    payments = {p.external_payment_id: p for p in order.payments if p.external_payment_id}
    for given in incoming.payments:
        payment = payments.get(given.external_payment_id)
        if payment is None:
            payment = make.payment(external_payment_id=given.external_payment_id or None)
            order.payments.append(payment)
        payment.amount, payment.method, payment.status = given.amount, given.method[:60], given.status
        payment.currency, payment.paid_at = incoming.currency, given.paid_at
    tracked = {(s.carrier, s.tracking_number) for s in order.shipments}
    for given in incoming.shipments:
        if (given.carrier, given.tracking_number) not in tracked:
            order.shipments.append(make.shipment(carrier=given.carrier[:60], service=given.service[:60],
                                                 tracking_number=given.tracking_number[:100], status=given.status[:20],
                                                 shipped_at=given.shipped_at))
    apply_totals(order)
    if incoming.total_gross is not None:
        order.total_gross = incoming.total_gross
    order.total_paid = sum((p.amount for p in order.payments if p.status in ("completed", "refunded")), Decimal("0"))


def _link_products(integration: Integration, order: Order, incoming: PlatformOrder) -> None:
    """Each line item's catalogue product: the listing's link, then the SKU, then the EAN."""
    matched = match_products(integration.id, [SoldItem(i.offer_id, i.sku, i.ean) for i in incoming.items])
    for row, product_id in zip(order.items, matched):
        row.product_id = product_id


def apply_refund(integration: Integration, refund: PlatformRefund) -> Applied:
    """Note money given back on a platform order (once per refund id)."""
    begin_write(db.session.connection())
    order_id = _find(integration.id, refund.order_external_id)
    name = platform_name(integration)
    if order_id is None:
        return Applied("skipped", _l("Refund %(refund)s is for %(name)s order %(external)s, which Kontor does not have "
                                     "yet; the order's next update carries it.", refund=refund.refund_id, name=name,
                                     external=refund.order_external_id))
    order = _lock(order_id)
    key = f"refund-{refund.refund_id}"
    if any(p.external_payment_id == key for p in order.payments):
        return Applied("unchanged", _l("Refund %(refund)s is already on order %(number)s.", refund=refund.refund_id,
                                       number=order.number), order.id)
    order.payments.append(OrderPayment(external_payment_id=key, amount=-refund.amount, currency=order.currency,
                                       method=f"{name} refund", status="refunded",
                                       paid_at=refund.created_at or utcnow()))
    order.total_paid = (order.total_paid or Decimal("0")) - refund.amount
    if order.total_paid <= 0:
        order.payment_status = "refunded"
    record_event(order, "refunded", _l("%(name)s refunded %(amount)s %(currency)s", name=name, amount=refund.amount,
                                       currency=order.currency), platform_actor(integration),
                 data={"detail": refund.note} if refund.note else None)
    db.session.flush()
    return Applied("updated", _l("Refund of %(amount)s %(currency)s noted on order %(number)s.", amount=refund.amount,
                                 currency=order.currency, number=order.number), order.id)


def apply_deletion(integration: Integration, deletion: PlatformDeletion) -> Applied:
    """The platform deleted the order: Kontor keeps it (nothing is lost) and says so on the timeline."""
    begin_write(db.session.connection())
    order_id = _find(integration.id, deletion.order_external_id)
    name = platform_name(integration)
    if order_id is None:
        return Applied("skipped", _l("%(name)s deleted order %(external)s, which Kontor never had.", name=name,
                                     external=deletion.order_external_id))
    order = _lock(order_id)
    if (order.meta or {}).get("platform_deleted"):
        return Applied("unchanged", _l("Order %(number)s was already noted as deleted in %(name)s.", number=order.number,
                                       name=name), order.id)
    order.meta = {**(order.meta or {}), "platform_deleted": utcnow().isoformat()}
    record_event(order, "platform_deleted", _l("Deleted in %(name)s; Kontor keeps the order.", name=name), platform_actor(integration),
                 level="warning")
    db.session.flush()
    return Applied("updated", _l("Order %(number)s was deleted in %(name)s; kept in Kontor.", number=order.number,
                                 name=name), order.id)
