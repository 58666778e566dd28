"""Checking a mapped platform order before it reaches the database. Pure.

The mappings read what the platforms document; a payload that breaks the documented types (an
address that is a list, a quantity "abc", a price "NaN" or 1e20, a NUL inside a name) must end as a
delivery failed with the reason in words, never as a database error retried for ever or an order
with garbled money. Text keeps every character except NUL, which no column can hold and which
carries no meaning; text longer than its column is cut where fill() would cut it anyway.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l

from app.integrations.base import MalformedPayload, PlatformOrder, PlatformRefund
from app.orders.models import Order, OrderAddress

MAX_MONEY = Decimal("10") ** 10  # Numeric(12, 2)
MAX_RATE = Decimal("1000")  # Numeric(5, 2)
MAX_QUANTITY = 1_000_000
ADDRESS_LENGTHS = {column.name: column.type.length for column in OrderAddress.__table__.columns
                   if getattr(column.type, "length", None)}
EXTERNAL_ID_LENGTH = Order.__table__.c.external_order_id.type.length


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise MalformedPayload(_l("%(where)s should be text, not %(type)s.", where=where, type=type(value).__name__))
    return str(value).replace("\x00", "")


def _amount(value: Any, where: str, limit: Decimal = MAX_MONEY) -> Decimal:
    if not isinstance(value, Decimal):
        raise MalformedPayload(_l("%(where)s should be an amount, not %(type)s.", where=where,
                                  type=type(value).__name__))
    if not value.is_finite() or abs(value) >= limit:
        raise MalformedPayload(_l("%(where)s “%(value)s” is not an amount Kontor can keep.", where=where, value=value))
    return value


@lru_cache(maxsize=None)
def _checked_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """A DTO class's fields to check, with how: ("text" | "money" | "rate"), by their declared types."""
    checked = []
    for field in fields(cls):
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        if kind == "str":
            checked.append((field.name, "text"))
        elif kind.startswith("Decimal"):
            checked.append((field.name, "rate" if field.name == "vat_rate" else "money"))
    return tuple(checked)


def _clean(node: Any, where: str) -> Any:
    """Texts cleaned and amounts checked in a DTO (dataclass), by its declared field types."""
    changes = {}
    for name, kind in _checked_fields(type(node)):
        value = getattr(node, name)
        if kind == "text":
            if type(value) is not str or "\x00" in value:  # text without NUL, the usual case, stays as it is
                changes[name] = _text(value, f"{where} {name.replace('_', ' ')}")
        elif value is not None:
            _amount(value, f"{where} {name.replace('_', ' ')}", MAX_RATE if kind == "rate" else MAX_MONEY)
    return replace(node, **changes) if changes else node


def checked_order(order: PlatformOrder) -> PlatformOrder:
    """The order with its texts cleaned; MalformedPayload says which value Kontor cannot keep."""
    if not is_dataclass(order):
        raise MalformedPayload(_l("The delivery does not carry an order."))
    if "\x00" in str(order.external_id):  # "10\x0001" made "1001" would be another order
        raise MalformedPayload(_l("The order id contains a NUL character."))
    order = _clean(order, "Order")
    if not order.external_id:
        raise MalformedPayload(_l("The order has no id."))
    if len(order.external_id) > EXTERNAL_ID_LENGTH:
        raise MalformedPayload(_l("The order id is longer than %(length)s characters.", length=EXTERNAL_ID_LENGTH))
    items = []
    for number, item in enumerate(order.items, 1):
        item = _clean(item, f"Item {number}")
        if isinstance(item.quantity, bool) or not isinstance(item.quantity, int) \
                or not 1 <= item.quantity <= MAX_QUANTITY:
            raise MalformedPayload(_l("Item %(number)s: quantity “%(quantity)s” is not a number of pieces.",
                                      number=number, quantity=item.quantity))
        items.append(item)
    addresses = []
    for kind, address in order.addresses:
        address = _clean(address, f"The {kind} address's")
        addresses.append((kind, replace(address, **{
            name: getattr(address, name)[:length] for name, length in ADDRESS_LENGTHS.items()
            if isinstance(getattr(address, name, None), str)})))
    total = sum((item.unit_price_gross * item.quantity for item in items), order.shipping_gross)
    _amount(total, "The order's items and delivery together")
    return replace(order, items=tuple(items), addresses=tuple(addresses),
                   payments=tuple(_clean(p, "Payment") for p in order.payments),
                   shipments=tuple(_clean(s, "Shipment") for s in order.shipments))


def checked_refund(refund: PlatformRefund) -> PlatformRefund:
    """The refund with its texts cleaned and its amount checked."""
    return _clean(refund, "Refund")
