"""Shopify's order JSON (Admin REST API, webhooks orders/* and refunds/create) to Kontor's DTOs. Pure."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from app.integrations.base import parse_iso_time as parse_time
from app.integrations.base import (
    MalformedPayload,
    PlatformAddress,
    PlatformOrder,
    PlatformOrderItem,
    PlatformPayment,
    PlatformRefund,
    PlatformShipment,
    PlatformStateDTO,
    whole_number,
)

# Shopify has no single order status: Kontor derives one from cancelled_at, fulfillment_status and
# financial_status, and offers these as the platform's states for the pull mappings.
STATES = (
    PlatformStateDTO("pending", "Payment pending", read_only=True),
    PlatformStateDTO("authorized", "Payment authorized", read_only=True),
    PlatformStateDTO("partially_paid", "Partially paid", read_only=True),
    PlatformStateDTO("paid", "Paid", read_only=True),
    PlatformStateDTO("partially_fulfilled", "Partially fulfilled", read_only=True),
    PlatformStateDTO("fulfilled", "Fulfilled", read_only=True),
    PlatformStateDTO("partially_refunded", "Partially refunded", read_only=True),
    PlatformStateDTO("refunded", "Refunded", read_only=True),
    PlatformStateDTO("voided", "Voided", read_only=True),
    PlatformStateDTO("cancelled", "Cancelled"),
)
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled")
REFUND_TOPICS = ("refunds/create",)
TOPICS = ORDER_TOPICS + REFUND_TOPICS

PAYMENT_STATUSES = {"paid": "paid", "partially_paid": "partially_paid", "refunded": "refunded",
                    "partially_refunded": "paid"}



def _money(value: Any, what: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount.", what=what, value=value)) from error


def order_state(data: dict[str, Any]) -> str:
    """The one state Kontor sees for a Shopify order."""
    if data.get("cancelled_at"):
        return "cancelled"
    financial = data.get("financial_status") or "pending"
    if financial == "refunded":
        return "refunded"
    fulfillment = data.get("fulfillment_status")
    if fulfillment == "fulfilled":
        return "fulfilled"
    if fulfillment == "partial":
        return "partially_fulfilled"
    return financial


def _address(data: dict[str, Any] | None, email: str = "") -> PlatformAddress | None:
    if not data:
        return None
    name = data.get("name") or " ".join(p for p in (data.get("first_name"), data.get("last_name")) if p)
    street = ", ".join(p for p in (data.get("address1"), data.get("address2")) if p)
    return PlatformAddress(name=name or "", company=data.get("company") or "", street=street,
                           postcode=data.get("zip") or "", city=data.get("city") or "",
                           country_code=(data.get("country_code") or "")[:2], phone=data.get("phone") or "",
                           email=email)


def _item(line: dict[str, Any], taxes_included: bool) -> PlatformOrderItem:
    quantity = whole_number(line.get("quantity") or 0, f"Line item {line.get('id')} quantity")
    if quantity < 1:
        raise MalformedPayload(_l("Line item %(id)s has no quantity.", id=line.get("id")))
    price = _money(line.get("price"), "Price")
    taxes = line.get("tax_lines") or []
    rate = sum((_money(t.get("rate"), "Tax rate") for t in taxes), Decimal("0")) * 100
    if not taxes_included:
        price += sum((_money(t.get("price"), "Tax") for t in taxes), Decimal("0")) / quantity
    return PlatformOrderItem(
        name=line.get("name") or line.get("title") or "Item", quantity=quantity,
        unit_price_gross=price.quantize(Decimal("0.01")), vat_rate=rate.quantize(Decimal("0.01")),
        sku=line.get("sku") or "", external_item_id=str(line.get("id") or ""),
        discount_gross=_money(line.get("total_discount"), "Discount"),
    )


def order_from_shopify(data: Any) -> PlatformOrder:
    """A Shopify order object as a PlatformOrder; MalformedPayload says what is missing."""
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedPayload(_l("The delivery is not a Shopify order (no “id”)."))
    email = data.get("email") or data.get("contact_email") or ""
    customer = data.get("customer") or {}
    shipping, billing = _address(data.get("shipping_address")), _address(data.get("billing_address"), email)
    name = (" ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)
            or (billing.name if billing else "") or (shipping.name if shipping else "") or email or "Shopify customer")
    phone = customer.get("phone") or data.get("phone") or (shipping.phone if shipping else "") or ""
    addresses = [("customer", PlatformAddress(name=name, email=email, phone=phone))]
    addresses += [(kind, address) for kind, address in (("billing", billing), ("shipping", shipping)) if address]
    taxes_included = bool(data.get("taxes_included", True))
    shipping_lines = data.get("shipping_lines") or []
    shipping_gross = sum((_money(line.get("price"), "Shipping") for line in shipping_lines), Decimal("0"))
    financial = data.get("financial_status") or "pending"
    payments = ()
    if financial in ("paid", "partially_refunded", "refunded"):
        payments = (PlatformPayment(amount=_money(data.get("total_price"), "Total"),
                                    external_payment_id=f"order-{data['id']}",
                                    method=", ".join(data.get("payment_gateway_names") or []) or "Shopify",
                                    paid_at=parse_time(data.get("processed_at") or data.get("created_at"))),)
    shipments = tuple(
        PlatformShipment(external_id=str(f.get("id")), carrier=f.get("tracking_company") or "",
                         tracking_number=f.get("tracking_number") or "", status=f.get("status") or "created",
                         shipped_at=parse_time(f.get("created_at")))
        for f in data.get("fulfillments") or [] if f.get("id")
    )
    return PlatformOrder(
        external_id=str(data["id"]), state=order_state(data), updated_at=parse_time(data.get("updated_at")),
        number=str(data.get("name") or data.get("order_number") or data["id"]),
        currency=(data.get("currency") or "PLN").upper(), ordered_at=parse_time(data.get("created_at")),
        customer_name=name, customer_email=email, customer_phone=phone,
        items=tuple(_item(line, taxes_included) for line in data.get("line_items") or []),
        addresses=tuple(addresses), payments=payments, shipments=shipments, shipping_gross=shipping_gross,
        total_gross=_money(data.get("total_price"), "Total") if data.get("total_price") is not None else None,
        payment_status=PAYMENT_STATUSES.get(financial, "pending"),
        delivery_method=", ".join(line.get("title") or "" for line in shipping_lines),
        customer_comment=data.get("note") or "",
    )


def refund_from_shopify(data: Any) -> PlatformRefund:
    """A Shopify refund (refunds/create) as a PlatformRefund."""
    if not isinstance(data, dict) or not data.get("id") or not data.get("order_id"):
        raise MalformedPayload(_l("The delivery is not a Shopify refund (no “id” or “order_id”)."))
    amount = sum((_money(t.get("amount"), "Refund") for t in data.get("transactions") or []
                  if t.get("kind", "refund") == "refund" and t.get("status", "success") == "success"), Decimal("0"))
    return PlatformRefund(order_external_id=str(data["order_id"]), refund_id=str(data["id"]), amount=amount,
                          created_at=parse_time(data.get("created_at")), note=data.get("note") or "")
