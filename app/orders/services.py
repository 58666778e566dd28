"""Order rules that touch the database: status changes, edits, notes and the timeline (the list: listing.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from flask_babel import gettext, lazy_gettext as _l

from app.core import params
from app.core.errors import Conflict, NotFound, TransitionRefused, ValidationFailed
from app.core.events import bus
from app.core.i18n import english, message_data, render_message
from app.core.transactions import committed
from app.core.types import utcnow
from app.extensions import db
from app.orders import links, workflow
from app.orders.links import PlatformLink
from app.orders.models import (
    ADDRESS_KINDS,
    CHANGE_SOURCES,
    COMMENT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    FULFILLMENT_STATUSES,
    PAYMENT_STATUSES,
    SOURCES,
    Order,
    OrderAddress,
    OrderEvent,
    OrderItem,
    OrderNote,
    OrderStatusHistory,
)
from app.settings.services import next_order_number, status_defs

STATUS_CHANGED = "order.status_changed"
# New orders received from a platform that already took their stock when the buyer bought
# (payload: integration_id, order_ids); the stock side records it in the import's transaction.
PLATFORM_ORDERS_IMPORTED = "order.platform_orders_imported"
# session.info key: the transaction changed orders (cached order lists are dropped after its commit).
ORDERS_CHANGED = "kontor_orders_changed"


@dataclass(frozen=True)
class Actor:
    """Who or what is acting, and through which channel (the change source)."""

    name: str
    source: str = "manual"
    user_id: int | None = None

    def __post_init__(self) -> None:
        if self.source not in CHANGE_SOURCES:
            raise ValueError(f"unknown change source {self.source!r}")

    @classmethod
    def user(cls, user: Any, source: str = "manual") -> "Actor":
        """The actor for a logged-in user (manual) or an API token's user (api)."""
        return cls(name=user.name, source=source, user_id=user.id)


# --- reading -----------------------------------------------------------------


def get_order(order_id: int, *, full: bool = False) -> Order:
    """The order with that id, or NotFound; `full` loads its related rows in a few queries."""
    options = []
    if full:
        options = [
            selectinload(Order.items), selectinload(Order.addresses), selectinload(Order.payments),
            selectinload(Order.shipments), selectinload(Order.history), selectinload(Order.notes),
            selectinload(Order.events),
        ]
    order = db.session.get(Order, order_id, options=options) if params.is_id(order_id) else None
    if order is None:
        raise NotFound(_l("Order %(order_id)s does not exist.", order_id=order_id))
    return order


# --- status changes ----------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    order_id: int
    number: str
    old_status: str
    new_status: str
    history_id: int


def change_status(order_id: int, new_status: str, actor: Actor, comment: str = "") -> StatusChange:
    """Move one order to a new status in one transaction, or raise with the reason and change nothing.

    The order and its history row commit together; `order.status_changed` is published
    inside the transaction (so in-transaction handlers can add rows atomically), and its
    after-commit handlers run only once the change is durable.
    """
    comment = params.text_arg(comment, "comment", max_length=COMMENT_MAX_LENGTH)
    _known_status(new_status)
    with committed():
        order = db.session.get(Order, order_id, with_for_update=True, populate_existing=True) \
            if params.is_id(order_id) else None
        if order is None:
            raise NotFound(_l("Order %(order_id)s does not exist.", order_id=order_id))
        change = move_status(order, new_status, actor, comment)
    return change


def note_orders_changed(session) -> None:
    """Say that this transaction wrote orders without the ORM (bulk inserts): cached lists go on commit."""
    session.info[ORDERS_CHANGED] = True


def move_status(order: Order, new_status: str, actor: Actor, comment: str = "") -> StatusChange:
    """Move an order (locked by the caller) through the workflow in the caller's transaction; the caller commits.

    Raises TransitionRefused with the reason and changes nothing when the workflow refuses.
    """
    decision = workflow.check_transition(order.status, new_status, status_defs())
    if not decision:
        raise TransitionRefused(decision.reason)
    old_status = order.status
    now = utcnow()
    order.status = new_status
    order.status_changed_at = now
    entry = OrderStatusHistory(
        order=order, from_status=old_status, to_status=new_status, changed_by=actor.name,
        user_id=actor.user_id, change_source=actor.source, comment=comment.strip(), at=now,
    )
    db.session.add(entry)
    db.session.flush()
    bus.publish(db.session, STATUS_CHANGED, {
        "order_id": order.id, "number": order.number, "from_status": old_status, "to_status": new_status,
        "change_source": actor.source, "integration_id": order.integration_id, "history_id": entry.id,
        "at": now.isoformat(),
    })
    return StatusChange(order.id, order.number, old_status, new_status, entry.id)


@dataclass(frozen=True)
class BulkOutcome:
    order_id: int
    number: str
    changed: bool
    old_status: str = ""
    new_status: str = ""
    code: str = ""
    reason: str = ""


def _known_status(code: str) -> None:
    if code not in status_defs():
        raise ValidationFailed(_l("There is no status “%(clean_text)s”.", clean_text=params.clean_text(code, 40)), field="status")


def bulk_change_status(order_ids: Iterable[int], new_status: str, actor: Actor) -> list[BulkOutcome]:
    """Change each order on its own; one refused order never stops or undoes the others."""
    _known_status(new_status)
    outcomes = []
    seen: set[int] = set()
    for order_id in order_ids:
        if order_id in seen:
            continue
        seen.add(order_id)
        try:
            change = change_status(order_id, new_status, actor)
            outcomes.append(BulkOutcome(order_id, change.number, True, change.old_status, change.new_status))
        except (NotFound, TransitionRefused, Conflict) as error:
            number = (db.session.scalar(select(Order.number).where(Order.id == order_id)) or "") \
                if params.is_id(order_id) else ""
            outcomes.append(BulkOutcome(order_id, number, False, code=error.code, reason=error.message))
    return outcomes


# --- notes, events, timeline -------------------------------------------------


def add_note(order_id: int, body: str, actor: Actor) -> OrderNote:
    """Attach a note to an order."""
    body = params.text_arg(body, "body", max_length=NOTE_MAX_LENGTH, label="note")
    if not body:
        raise ValidationFailed(_l("A note cannot be empty."), field="body")
    order = get_order(order_id)
    note = OrderNote(order=order, body=body, author=actor.name, user_id=actor.user_id)
    db.session.add(note)
    db.session.commit()
    return note


def record_event(order: Order, kind: str, message, actor: Actor | None = None, *, level: str = "ok",
                 data: dict | None = None) -> OrderEvent:
    """Add a timeline entry in the caller's transaction (the caller commits).

    A lazy message (`_l("…", **args)`) is stored as English text (old rows, the API) plus its key and
    arguments, so the timeline says it in each reader's language.
    """
    data = dict(data or {})
    stored = message_data(message)
    if stored is not None:
        data["message"] = stored
    event = OrderEvent(
        order=order, kind=kind, message=english(message), actor=actor.name if actor else "Kontor",
        source=actor.source if actor else "automation", level=level, data=data,
    )
    db.session.add(event)
    return event


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    actor: str
    source: str
    detail: str = ""
    level: str = "ok"
    status_from: str | None = None
    status_to: str | None = None


def _event_title(event: OrderEvent) -> str:
    """The entry in the reader's language when it was stored with its key, else the text as stored."""
    data = event.data if isinstance(event.data, dict) else {}
    return render_message(data["message"], event.message) if isinstance(data.get("message"), dict) else event.message


def timeline(order: Order) -> list[TimelineEntry]:
    """Everything that happened to the order, newest first."""
    statuses = status_defs()
    name = lambda code: gettext(statuses[code].name) if code in statuses else (code or "—")  # noqa: E731
    entries = [
        TimelineEntry(
            at=h.at, kind="status", title=gettext("Status: %(old)s → %(new)s", old=name(h.from_status), new=name(h.to_status))
            if h.from_status else gettext("Created as %(status)s", status=name(h.to_status)), actor=h.changed_by,
            source=h.change_source, detail=h.comment, status_from=h.from_status, status_to=h.to_status,
        )
        for h in order.history
    ]
    entries += [TimelineEntry(at=n.created_at, kind="note", title=gettext("Note"), actor=n.author, source="manual",
                              detail=n.body) for n in order.notes]
    entries += [TimelineEntry(at=e.at, kind=e.kind, title=_event_title(e), actor=e.actor, source=e.source, level=e.level,
                              detail=e.data.get("detail", "") if isinstance(e.data, dict) else "")
                for e in order.events]
    entries += [TimelineEntry(at=p.paid_at, kind="payment", title=gettext("Payment %(amount)s %(currency)s (%(method)s)", amount=p.amount,
                                                                         currency=p.currency, method=p.method),
                              actor=p.method or "Payment", source="platform" if order.source != "manual" else "manual")
                for p in order.payments if p.paid_at]
    entries += [TimelineEntry(at=s.shipped_at, kind="shipment", title=gettext("Shipped with %(carrier)s %(service)s", carrier=s.carrier,
                                                                          service=s.service).strip(),
                              actor=s.carrier, source="manual", detail=gettext("Tracking %(number)s", number=s.tracking_number)
                              if s.tracking_number else "") for s in order.shipments if s.shipped_at]
    return sorted(entries, key=lambda e: e.at, reverse=True)


# --- create and edit ---------------------------------------------------------


@dataclass
class ItemInput:
    name: str
    quantity: int
    unit_price_gross: Decimal
    vat_rate: Decimal = Decimal("23")
    sku: str = ""
    ean: str = ""
    discount_gross: Decimal = Decimal("0")


@dataclass
class AddressInput:
    """An address to set; fields left as None keep what the order already has."""

    kind: str
    name: str | None = None
    company: str | None = None
    vat_id: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country_code: str | None = None
    phone: str | None = None
    email: str | None = None
    point_id: str | None = None


@dataclass
class OrderInput:
    """What a person (or the API) gives to create or edit an order."""

    customer_name: str
    customer_email: str = ""
    customer_phone: str = ""
    currency: str = "PLN"
    delivery_method: str = ""
    shipping_gross: Decimal = Decimal("0")
    payment_status: str = "pending"
    fulfillment_status: str = "unassigned"
    customer_comment: str = ""
    items: list[ItemInput] = field(default_factory=list)
    addresses: list[AddressInput] = field(default_factory=list)
    # Address kinds the person emptied: those addresses are removed.
    removed_addresses: tuple[str, ...] = ()
    status: str = "draft"
    # None leaves the order's platform link as it is.
    link: PlatformLink | None = None


_ORDER_TEXT = {"customer_name": (Order.customer_name, "customer name"),
               "customer_email": (Order.customer_email, "e-mail"), "customer_phone": (Order.customer_phone, "phone"),
               "delivery_method": (Order.delivery_method, "delivery method"),
               "customer_comment": (Order.customer_comment, "customer's comment")}
_ITEM_TEXT = {"name": OrderItem.name, "sku": OrderItem.sku, "ean": OrderItem.ean}
_ADDRESS_TEXT = {name: getattr(OrderAddress, name) for name in (
    "name", "company", "vat_id", "street", "postcode", "city", "country_code", "phone", "email", "point_id")}


def _validate_text(data: OrderInput) -> None:
    # Each value must fit its column as stored (stripped), with no NUL byte.
    for name, (column, label) in _ORDER_TEXT.items():
        params.text_arg(getattr(data, name), name, max_length=params.column_length(column), label=label)
    for number, item in enumerate(data.items, start=1):
        for name, column in _ITEM_TEXT.items():
            params.text_arg(getattr(item, name), "items", max_length=params.column_length(column),
                            label=f"item {number} {name}")
    for address in data.addresses:
        for name, column in _ADDRESS_TEXT.items():
            params.text_arg(getattr(address, name), address.kind, max_length=params.column_length(column),
                            label=f"{address.kind} address {name.replace('_', ' ')}")


def _validate_amounts(data: OrderInput) -> None:
    # Every amount stored is numeric(12,2); an item's line and the order's total must fit too.
    top = params.MONEY_MAX
    if not params.fits_money(data.shipping_gross):
        raise ValidationFailed(_l("The shipping cost is too large (at most %(top)s).", top=top), field="shipping_gross")
    total = data.shipping_gross
    for number, item in enumerate(data.items, start=1):
        line = item.unit_price_gross * item.quantity - item.discount_gross \
            if params.fits_money(item.unit_price_gross) and params.fits_money(item.discount_gross) else None
        if line is None or not params.fits_money(line):
            raise ValidationFailed(_l("Item %(number)s: %(quantity)s × %(unit_price_gross)s is more than an order "
                                      "line can hold (at most %(top)s).", number=number, quantity=item.quantity,
                                      unit_price_gross=item.unit_price_gross, top=top), field="items")
        total += line
    if not params.fits_money(total):
        raise ValidationFailed(_l("The order's total %(total)s is more than an order can hold (at most %(top)s).", total=total, top=top),
                               field="items")


def _validate(data: OrderInput) -> None:
    _validate_text(data)
    if not data.customer_name.strip():
        raise ValidationFailed(_l("The customer needs a name."), field="customer_name")
    if data.payment_status not in PAYMENT_STATUSES:
        raise ValidationFailed(_l("Unknown payment status."), field="payment_status")
    if data.fulfillment_status not in FULFILLMENT_STATUSES:
        raise ValidationFailed(_l("Unknown fulfillment status."), field="fulfillment_status")
    if len(data.currency) != 3 or not data.currency.isalpha():
        raise ValidationFailed(_l("Currency must be a three-letter code such as PLN or EUR."), field="currency")
    if not data.items:
        raise ValidationFailed(_l("An order needs at least one item."), field="items")
    _validate_amounts(data)
    for number, item in enumerate(data.items, start=1):
        if not item.name.strip():
            raise ValidationFailed(_l("Item %(number)s needs a name.", number=number), field="items")
        if item.quantity < 1:
            raise ValidationFailed(_l("Item %(number)s: quantity must be at least 1.", number=number), field="items")
        if item.unit_price_gross < 0 or item.discount_gross < 0:
            raise ValidationFailed(_l("Item %(number)s: prices cannot be negative.", number=number), field="items")
    for address in data.addresses:
        if address.kind not in ADDRESS_KINDS:
            raise ValidationFailed(_l("Unknown address kind %(kind)s.", kind=address.kind), field="addresses")


def apply_totals(order: Order) -> None:
    """Recompute the order's totals from its items and shipping cost."""
    subtotal = sum((item.total_gross for item in order.items), Decimal("0"))
    net = sum((item.total_net for item in order.items), Decimal("0"))
    discount = sum((item.discount_gross for item in order.items), Decimal("0"))
    order.subtotal_gross = subtotal
    order.discount_gross = discount
    shipping = order.shipping_gross or Decimal("0")
    order.total_gross = subtotal + shipping
    order.total_net = net + (shipping / Decimal("1.23")).quantize(Decimal("0.01"))


def _fill(order: Order, data: OrderInput) -> None:
    order.customer_name = data.customer_name.strip()
    order.customer_email = data.customer_email.strip().lower()
    order.customer_phone = data.customer_phone.strip()
    order.currency = data.currency.upper()
    order.delivery_method = data.delivery_method.strip()
    order.shipping_gross = data.shipping_gross
    order.payment_status = data.payment_status
    order.fulfillment_status = data.fulfillment_status
    order.customer_comment = data.customer_comment.strip()
    _fill_items(order, data.items)
    addresses = list(data.addresses)
    if not any(a.kind == "customer" for a in addresses):
        addresses.append(AddressInput(kind="customer", name=order.customer_name, email=order.customer_email,
                                      phone=order.customer_phone))
    _fill_addresses(order, addresses, data.removed_addresses)
    apply_totals(order)


def _fill_items(order: Order, items: list[ItemInput]) -> None:
    # Rows are updated in place by position, so an item keeps its id (and whatever links to it).
    rows = list(order.items)
    for index, given in enumerate(items):
        if index >= len(rows):
            rows.append(OrderItem())
        row = rows[index]
        row.name, row.sku, row.ean = given.name.strip(), given.sku.strip(), given.ean.strip()
        row.quantity, row.vat_rate, row.discount_gross = given.quantity, given.vat_rate, given.discount_gross
        row.unit_price_gross = given.unit_price_gross
        row.unit_price_net = (given.unit_price_gross / (1 + given.vat_rate / 100)).quantize(Decimal("0.01"))
    order.items = rows[: len(items)]


def _fill_addresses(order: Order, addresses: list[AddressInput], removed: tuple[str, ...]) -> None:
    existing = {a.kind: a for a in order.addresses if a.kind not in removed}
    for given in addresses:
        address = existing.setdefault(given.kind, OrderAddress(kind=given.kind))
        for key, value in vars(given).items():
            if key != "kind" and value is not None:
                setattr(address, key, value.strip())
    order.addresses = list(existing.values())


def create_order(data: OrderInput, actor: Actor) -> Order:
    """Create a manual order with the next order number, its items and addresses."""
    _validate(data)
    if data.status not in status_defs():
        raise ValidationFailed(_l("There is no status “%(status)s”.", status=data.status), field="status")
    integration = links.check(data.link, None) if data.link else None
    with committed(duplicate=LINK_RACE):
        order = Order(number=next_order_number(), source="api" if actor.source == "api" else "manual",
                      status=data.status, meta={})
        _fill(order, data)
        db.session.add(order)
        db.session.add(OrderStatusHistory(order=order, from_status=None, to_status=data.status,
                                          changed_by=actor.name, user_id=actor.user_id,
                                          change_source=actor.source))
        record_event(order, "created", _l("Order %(number)s created", number=order.number), actor)
        _link(order, data.link, integration, actor)
    return order


def update_order(order_id: int, data: OrderInput, actor: Actor, expected_revision: int | None = None) -> Order:
    """Save an edit of customer, items, addresses and payment/fulfillment status (not the status)."""
    _validate(data)
    integration = links.check(data.link, order_id) if data.link else None
    with committed(stale=EDITED_MEANWHILE, duplicate=LINK_RACE):
        order = get_order(order_id)
        if expected_revision is not None and order.revision != expected_revision:
            raise Conflict(EDITED_MEANWHILE)
        before = {"total": str(order.total_gross), "payment": order.payment_status,
                  "fulfillment": order.fulfillment_status, "items": len(order.items)}
        _fill(order, data)
        after = {"total": str(order.total_gross), "payment": order.payment_status,
                 "fulfillment": order.fulfillment_status, "items": len(order.items)}
        changed = [key for key in before if before[key] != after[key]]
        detail = ", ".join(f"{key} {before[key]} → {after[key]}" for key in changed)
        record_event(order, "edited", _l("Order edited"), actor, data={"detail": detail})
        _link(order, data.link, integration, actor)
    return order


LINK_RACE = _l("That platform order was linked to another order at the same moment; reload and check.")
EDITED_MEANWHILE = _l("Someone changed this order while you were editing it; reload to see their change.")


def _link(order: Order, link: PlatformLink | None, integration, actor: Actor) -> None:
    change = links.apply(order, link, integration) if link else None
    if change:
        record_event(order, "linked", change, actor)


def set_platform_link(order_id: int, link: PlatformLink, actor: Actor) -> Order:
    """Link the order to its platform order (or unlink it with `integration_id=None`), on its own."""
    integration = links.check(link, order_id)
    with committed(duplicate=LINK_RACE):
        order = get_order(order_id)
        _link(order, link, integration, actor)
    return order


def order_choices() -> dict[str, Any]:
    """The choices an order's fields take (statuses, payment and fulfilment states, sources ...) for API clients."""
    return {
        "statuses": list(status_defs().values()),
        # The API speaks English whatever the caller's language (names are lazy, translatable strings).
        **{key: {code: english(name) for code, name in names.items()} for key, names in (
            ("payment_statuses", PAYMENT_STATUSES), ("fulfillment_statuses", FULFILLMENT_STATUSES),
            ("sources", SOURCES), ("change_sources", CHANGE_SOURCES), ("address_kinds", ADDRESS_KINDS))},
    }
