"""Applying a batch of platform orders set-based: one read of what Kontor has, bulk inserts of the new ones.

A batch job (checkout forms fetched 100 a request, a page of shop orders) would otherwise cost
~28 statements per order through the ORM. Here the whole batch costs a handful: one SELECT ... FOR
UPDATE of the orders Kontor already has (by integration and external id), one UPDATE reserving
the new orders' numbers, one INSERT ... ON CONFLICT DO NOTHING of the new orders and one INSERT per
child table (items, addresses, payments, shipments, status history, timeline). Orders Kontor
already has go through apply.apply_order one by one, and only when the platform sent a newer
version; an older or the same version is answered from the SELECT alone.

The new orders' rows are built by apply.fill on plain drafts of the models (attributes and the
item totals, none of the ORM's bookkeeping, which cost more than the database did), so a batch
fills an order exactly as one delivery does. Everything runs in the caller's transaction. If another worker
inserted one of the new orders meanwhile, the batch reports a race (None) and the caller rolls
back and applies its deliveries one by one, which handles that case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select

from app.catalog.matching import SoldItem, match_products
from app.core.bulk import begin_write
from app.core.i18n import english, message_data
from app.core.types import utcnow
from app.core.upsert import insert_many, insert_many_or_nothing
from app.extensions import db
from app.inbound import apply
from app.integrations.base import PlatformOrder
from app.integrations.models import Integration
from app.orders.models import Order, OrderAddress, OrderEvent, OrderItem, OrderPayment, OrderShipment, \
    OrderStatusHistory
from app.orders.services import note_orders_changed
from app.settings.services import next_order_numbers


@dataclass(frozen=True)
class Message:
    """One delivery of the batch: its ledger id, the order it carries, and when the platform sent it."""

    key: int
    order: PlatformOrder
    occurred_at: datetime | None = None


def _version(message: Message) -> list[str]:
    return [apply.stamp(message.order.updated_at), apply.stamp(message.occurred_at)]


class _Draft:
    """A new row of `model` being built: plain attributes, named as the model's."""

    def __init__(self, model: type, **values) -> None:
        self.model = model
        self.__dict__.update(values)


class _DraftOrder(_Draft):
    def __init__(self, **values) -> None:
        super().__init__(Order, items=[], addresses=[], payments=[], shipments=[], **values)


class _DraftItem(_Draft):
    total_gross = OrderItem.total_gross  # what apply_totals sums, computed as the model computes it
    total_net = OrderItem.total_net

    def __init__(self, **values) -> None:
        super().__init__(OrderItem, **values)


DRAFT_ROWS = apply.RowMakers(item=_DraftItem, address=partial(_Draft, OrderAddress),
                             payment=partial(_Draft, OrderPayment), shipment=partial(_Draft, OrderShipment))


def _row(draft: _Draft, **values) -> dict:
    """A draft's column values as an INSERT row; columns it never set get their Python default."""
    given, row = draft.__dict__, {}
    for attr in inspect(draft.model).column_attrs:
        column = attr.columns[0]
        if column.primary_key:
            continue
        if attr.key in given:
            row[column.key] = given[attr.key]
        elif column.default is not None and not column.default.is_sequence:
            default = column.default
            row[column.key] = default.arg(None) if default.is_callable else default.arg
        else:
            row[column.key] = None
    row.update(values)
    return row


def apply_orders(integration: Integration, messages: list[Message]) -> dict[int, apply.Applied] | None:
    """Apply a batch of platform orders; what happened to each message by key, or None on an insert race."""
    begin_write(db.session.connection())
    name = apply.platform_name(integration)
    newest: dict[str, Message] = {}
    outcomes: dict[int, apply.Applied] = {}
    for message in messages:
        held = newest.get(message.order.external_id)
        if held is None or _version(message) >= _version(held):
            if held is not None:
                outcomes[held.key] = _superseded(held, name)
            newest[message.order.external_id] = message
        else:
            outcomes[message.key] = _superseded(message, name)
    stored = {external_id: (order_id, meta) for order_id, external_id, meta in db.session.execute(
        select(Order.id, Order.external_order_id, Order.meta).where(
            Order.integration_id == integration.id, Order.external_order_id.in_(list(newest)))
        .order_by(Order.id).with_for_update())}
    fresh = []
    for external_id, message in newest.items():
        if external_id not in stored:
            fresh.append(message)
            continue
        order_id, meta = stored[external_id]
        have, version = (meta or {}).get("platform_version"), _version(message)
        if have and any(version) and version < have:
            outcomes[message.key] = apply.Applied("older", _l(
                "%(name)s sent an older version of order %(number)s (%(theirs)s) than Kontor has (%(ours)s); not "
                "applied.", name=name, number=message.order.number, theirs=version[0] or version[1],
                ours=have[0] or have[1]), order_id)
        elif have and any(version) and version == have:
            outcomes[message.key] = apply.Applied("unchanged", _l("Order %(number)s is already up to date.",
                                                                  number=message.order.number), order_id)
        else:
            outcomes[message.key] = apply.apply_order(integration, message.order, message.occurred_at)
    if fresh:
        created = _create(integration, fresh)
        if created is None:
            return None
        outcomes.update(created)
    return outcomes


def _superseded(message: Message, name: str) -> apply.Applied:
    return apply.Applied("older", _l("%(name)s sent a newer version of order %(number)s in the same batch; this one "
                                     "was not applied.", name=name, number=message.order.number))


def _create(integration: Integration, fresh: list[Message]) -> dict[int, apply.Applied] | None:
    """Insert the orders Kontor does not have, with their rows; None if another worker inserted one meanwhile."""
    now = utcnow()
    name = apply.platform_name(integration)
    actor = apply.platform_actor(integration)
    numbers = next_order_numbers(len(fresh))
    drafts = []
    statuses: dict[str, str] = {}  # by platform state: the statuses are read once a batch, not once an order
    for message, number in zip(fresh, numbers):
        incoming = message.order
        status = statuses.get(incoming.state)
        if status is None:
            status = statuses[incoming.state] = (apply.pulled_status(integration, incoming.state)
                                                 or apply.initial_status(integration))
        order = _DraftOrder(number=number, source=apply.ORDER_SOURCES.get(integration.kind, "api"),
                            integration_id=integration.id, external_order_id=incoming.external_id, status=status,
                            ordered_at=incoming.ordered_at or now, status_changed_at=now, created_at=now,
                            updated_at=now, platform_state=incoming.state, platform_state_at=now, revision=1)
        apply.fill(order, incoming, DRAFT_ROWS)
        order.meta = apply.platform_meta({}, incoming, _version(message))
        drafts.append((message, order))
    ids = dict(insert_many_or_nothing(db.session, Order.__table__, [_row(order) for _, order in drafts],
                                      ("integration_id", "external_order_id"),
                                      (Order.__table__.c.external_order_id, Order.__table__.c.id)))
    if len(ids) < len(drafts):
        return None
    sold = [(order, item) for _, order in drafts for item in order.items]
    matched = match_products(integration.id, [SoldItem(i.offer_id, i.sku, i.ean) for _, i in sold])
    rows: dict[type, list[dict]] = {OrderItem: [], OrderAddress: [], OrderPayment: [], OrderShipment: [],
                                    OrderStatusHistory: [], OrderEvent: []}
    for (order, item), product_id in zip(sold, matched):
        rows[OrderItem].append(_row(item, order_id=ids[order.external_order_id], product_id=product_id))
    outcomes = {}
    labels: dict[str, str] = {}
    for message, order in drafts:
        order_id, incoming = ids[order.external_order_id], message.order
        rows[OrderAddress] += [_row(address, order_id=order_id) for address in order.addresses]
        rows[OrderPayment] += [_row(payment, order_id=order_id) for payment in order.payments]
        rows[OrderShipment] += [_row(shipment, order_id=order_id) for shipment in order.shipments]
        label = labels.get(incoming.state)
        if label is None:
            label = labels[incoming.state] = apply.state_label(integration, incoming.state)
        rows[OrderStatusHistory].append(_row(_Draft(
            OrderStatusHistory, order_id=order_id, from_status=None, to_status=order.status, changed_by=actor.name,
            change_source="platform", comment=f"{name}: {label}" if incoming.state else "", at=now)))
        received = _l("Order %(number)s received from %(name)s", number=incoming.number, name=name)
        rows[OrderEvent].append(_row(_Draft(  # the entry record_event() would store
            OrderEvent, order_id=order_id, kind="imported", message=english(received), actor=actor.name, source=actor.source,
            level="ok", data={"message": message_data(received)}, at=now)))
        outcomes[message.key] = apply.Applied("created", _l(
            "Created order %(number)s from %(name)s order %(external)s.", number=order.number, name=name,
            external=incoming.number), order_id)
    for model, table_rows in rows.items():
        insert_many(db.session, model.__table__, table_rows)
    note_orders_changed(db.session)
    apply.announce_imported(integration, list(ids.values()))
    return outcomes
