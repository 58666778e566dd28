"""WooCommerce's order JSON (REST API v3, webhooks order.*) to Kontor's DTOs. Pure."""

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
    PlatformStateDTO,
    whole_number,
)

# WooCommerce's built-in order statuses (slugs as the REST API gives them).
STATES = (
    PlatformStateDTO("pending", "Pending payment"),
    PlatformStateDTO("processing", "Processing"),
    PlatformStateDTO("on-hold", "On hold"),
    PlatformStateDTO("completed", "Completed"),
    PlatformStateDTO("cancelled", "Cancelled"),
    PlatformStateDTO("refunded", "Refunded"),
    PlatformStateDTO("failed", "Failed"),
    PlatformStateDTO("checkout-draft", "Draft", read_only=True),
)
TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
PAID_STATES = {"processing", "completed"}


def parse_gmt(value: Any) -> datetime | None:
    """WooCommerce's *_gmt times ("2026-12-02T07:15:42", no zone, in UTC) as aware datetimes."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedPayload(_l("“%(value)s” is not a date and time.", value=value)) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _money(value: Any, what: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount.", what=what, value=value)) from error


def modified_at(data: dict[str, Any]) -> datetime | None:
    """When the order was last changed, in UTC."""
    return parse_gmt(data.get("date_modified_gmt")) or parse_gmt(data.get("date_modified"))


def _address(data: dict[str, Any] | None) -> PlatformAddress | None:
    if not data or not any(data.get(k) for k in ("first_name", "last_name", "company", "address_1", "city")):
        return None
    name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    street = ", ".join(p for p in (data.get("address_1"), data.get("address_2")) if p)
    return PlatformAddress(name=name, company=data.get("company") or "", street=street,
                           postcode=data.get("postcode") or "", city=data.get("city") or "",
                           country_code=(data.get("country") or "")[:2], phone=data.get("phone") or "",
                           email=data.get("email") or "")


def _item(line: dict[str, Any]) -> PlatformOrderItem:
    quantity = whole_number(line.get("quantity") or 0, f"Line item {line.get('id')} quantity")
    if quantity < 1:
        raise MalformedPayload(_l("Line item %(id)s has no quantity.", id=line.get("id")))
    before = _money(line.get("subtotal"), "Subtotal") + _money(line.get("subtotal_tax"), "Tax")
    after = _money(line.get("total"), "Total") + _money(line.get("total_tax"), "Tax")
    net = _money(line.get("total"), "Total")
    rate = (_money(line.get("total_tax"), "Tax") / net * 100).quantize(Decimal("1")) if net else Decimal("0")
    return PlatformOrderItem(
        name=line.get("name") or "Item", quantity=quantity,
        unit_price_gross=(before / quantity).quantize(Decimal("0.01")),
        vat_rate=rate, sku=line.get("sku") or "", external_item_id=str(line.get("id") or ""),
        discount_gross=max(Decimal("0"), before - after),
    )


def order_from_woocommerce(data: Any) -> PlatformOrder:
    """A WooCommerce order object as a PlatformOrder; MalformedPayload says what is missing."""
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedPayload(_l("The delivery is not a WooCommerce order (no “id”)."))
    billing, shipping = _address(data.get("billing")), _address(data.get("shipping"))
    email = (data.get("billing") or {}).get("email") or ""
    phone = (data.get("billing") or {}).get("phone") or ""
    name = (billing.name if billing else "") or (shipping.name if shipping else "") or email or "WooCommerce customer"
    addresses = [("customer", PlatformAddress(name=name, email=email, phone=phone))]
    addresses += [(kind, address) for kind, address in (("billing", billing), ("shipping", shipping)) if address]
    status = data.get("status") or "pending"
    shipping_lines = data.get("shipping_lines") or []
    shipping_gross = sum((_money(s.get("total"), "Shipping") + _money(s.get("total_tax"), "Tax")
                          for s in shipping_lines), Decimal("0"))
    paid_at = parse_gmt(data.get("date_paid_gmt"))
    total = _money(data.get("total"), "Total")
    payments = ()
    if paid_at:
        payments = (PlatformPayment(amount=total,
                                    external_payment_id=data.get("transaction_id") or f"order-{data['id']}",
                                    method=data.get("payment_method_title") or data.get("payment_method") or "",
                                    paid_at=paid_at),)
    payment_status = "refunded" if status == "refunded" else "paid" if paid_at or status in PAID_STATES else "pending"
    return PlatformOrder(
        external_id=str(data["id"]), state=status, updated_at=modified_at(data),
        number=str(data.get("number") or data["id"]), currency=(data.get("currency") or "PLN").upper(),
        ordered_at=parse_gmt(data.get("date_created_gmt")), customer_name=name, customer_email=email,
        customer_phone=phone, items=tuple(_item(line) for line in data.get("line_items") or []),
        addresses=tuple(addresses), payments=payments, shipping_gross=shipping_gross,
        total_gross=total if data.get("total") is not None else None, payment_status=payment_status,
        delivery_method=", ".join(s.get("method_title") or "" for s in shipping_lines),
        customer_comment=data.get("customer_note") or "",
    )


def deletion_from_woocommerce(data: Any) -> PlatformDeletion:
    """order.deleted carries only the order's id."""
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedPayload(_l("The deletion names no order (no “id”)."))
    return PlatformDeletion(order_external_id=str(data["id"]))
