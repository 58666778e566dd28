"""Orders sent to the generic webhook, in the JSON shape of API v1's order detail. Pure.

The body is either the order itself or a Standard Webhooks envelope {"type", "timestamp", "data"}.
The sender's own order id is `external_order_id` (or `id`); its `status` is the sender's state,
pulled through the integration's mappings (or taken as is when it is a Kontor status code).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from app.integrations.base import (
    MalformedPayload,
    PlatformAddress,
    PlatformDeletion,
    PlatformOrder,
    PlatformOrderItem,
    PlatformPayment,
    PlatformShipment,
    whole_number,
)
from app.orders.models import ADDRESS_KINDS, PAYMENT_STATUSES

ADDRESS_FIELDS = ("name", "company", "vat_id", "street", "postcode", "city", "country_code", "phone", "email",
                  "point_id")


def unwrap(data: Any) -> tuple[str, Any]:
    """(type, order) from an envelope or a bare order."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "type" in data:
        return str(data["type"]), data["data"]
    return "order.updated", data


def _time(value: Any, what: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an ISO 8601 date and time.", what=what, value=value)) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _money(value: Any, what: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount.", what=what, value=value)) from error


def external_id(data: Any) -> str:
    """The sender's id of the order."""
    if not isinstance(data, dict):
        raise MalformedPayload(_l("The body is not a JSON object."))
    value = data.get("external_order_id") or data.get("id")
    if value in (None, ""):
        raise MalformedPayload(_l("The order has no “external_order_id” (or “id”)."))
    return str(value)


def deletion(data: Any) -> PlatformDeletion:
    """An order.deleted message."""
    return PlatformDeletion(order_external_id=external_id(data))


def order_from_api_shape(data: Any) -> PlatformOrder:
    """An order in API v1's detail shape as a PlatformOrder."""
    order_id = external_id(data)
    customer = data.get("customer") or {}
    if not isinstance(customer, dict):
        raise MalformedPayload(_l("“customer” must be an object with name, email and phone."))
    items = []
    for number, item in enumerate(data.get("items") or [], start=1):
        if not isinstance(item, dict) or not item.get("name"):
            raise MalformedPayload(_l("Item %(number)s needs a “name”.", number=number))
        try:
            quantity = whole_number(item.get("quantity") or 0, f"Item {number} quantity")
        except (TypeError, ValueError) as error:
            raise MalformedPayload(_l("Item %(number)s: quantity must be a whole number.", number=number)) from error
        if quantity < 1:
            raise MalformedPayload(_l("Item %(number)s: quantity must be at least 1.", number=number))
        items.append(PlatformOrderItem(
            name=str(item["name"]), quantity=quantity, unit_price_gross=_money(item.get("unit_price_gross"), "Price"),
            vat_rate=_money(item.get("vat_rate", "23"), "VAT rate"), sku=str(item.get("sku") or ""),
            ean=str(item.get("ean") or ""), external_item_id=str(item.get("id") or ""),
            discount_gross=_money(item.get("discount_gross"), "Discount"),
        ))
    addresses = []
    for kind, address in (data.get("addresses") or {}).items():
        if kind not in ADDRESS_KINDS or not isinstance(address, dict):
            raise MalformedPayload(_l("Unknown address kind “%(kind)s” (use %(known)s).", kind=kind,
                                      known=", ".join(ADDRESS_KINDS)))
        addresses.append((kind, PlatformAddress(**{f: str(address.get(f) or "") for f in ADDRESS_FIELDS})))
    payments = tuple(PlatformPayment(amount=_money(p.get("amount"), "Payment"), method=str(p.get("method") or ""),
                                     external_payment_id=str(p.get("id") or ""),
                                     status=str(p.get("status") or "completed"),
                                     paid_at=_time(p.get("paid_at"), "paid_at"))
                     for p in data.get("payments") or [] if isinstance(p, dict))
    shipments = tuple(PlatformShipment(external_id=str(s.get("id") or s.get("tracking_number") or n),
                                       carrier=str(s.get("carrier") or ""), service=str(s.get("service") or ""),
                                       tracking_number=str(s.get("tracking_number") or ""),
                                       status=str(s.get("status") or "created"),
                                       shipped_at=_time(s.get("shipped_at"), "shipped_at"))
                      for n, s in enumerate(data.get("shipments") or []) if isinstance(s, dict))
    payment_status = data.get("payment_status") or "pending"
    if payment_status not in PAYMENT_STATUSES:
        raise MalformedPayload(_l("Unknown payment_status “%(status)s” (use %(known)s).", status=payment_status,
                                  known=", ".join(PAYMENT_STATUSES)))
    currency = str(data.get("currency") or "PLN").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise MalformedPayload(_l("currency must be a three-letter code such as PLN or EUR."))
    return PlatformOrder(
        external_id=order_id, state=str(data.get("status") or ""),
        updated_at=_time(data.get("updated_at"), "updated_at"),
        number=str(data.get("number") or order_id), currency=currency,
        ordered_at=_time(data.get("ordered_at"), "ordered_at"),
        customer_name=str(customer.get("name") or customer.get("email") or "Customer"),
        customer_email=str(customer.get("email") or ""), customer_phone=str(customer.get("phone") or ""),
        items=tuple(items), addresses=tuple(addresses), payments=payments, shipments=shipments,
        shipping_gross=_money(data.get("shipping_gross"), "shipping_gross"),
        total_gross=_money(data["total_gross"], "total_gross") if data.get("total_gross") is not None else None,
        payment_status=payment_status, delivery_method=str(data.get("delivery_method") or ""),
        customer_comment=str(data.get("customer_comment") or ""),
    )
