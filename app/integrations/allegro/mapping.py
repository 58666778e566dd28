"""Allegro's checkout form and order events (GET /order/checkout-forms, /order/events) to Kontor's DTOs. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
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
    whole_number,
)

# OrderEventType in the official spec.
EVENT_TYPES = ("BOUGHT", "FILLED_IN", "READY_FOR_PROCESSING", "BUYER_CANCELLED", "BUYER_MODIFIED",
               "FULFILLMENT_STATUS_CHANGED", "AUTO_CANCELLED")
CANCELLED_FORM_STATUSES = ("CANCELLED",)
# An external id of 8, 12, 13 or 14 digits is the EAN/GTIN sellers commonly put there.
EAN = re.compile(r"^(\d{8}|\d{12,14})$")
DEFAULT_VAT = Decimal("23")


@dataclass(frozen=True)
class OrderEvent:
    """One entry of the order event journal: a hint that a checkout form changed."""

    id: str
    type: str
    occurred_at: datetime
    checkout_form_id: str
    revision: str



def event_from_allegro(data: Any) -> OrderEvent:
    """An OrderEvent entry; MalformedPayload when it names no id, time or checkout form."""
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedPayload(_l("The journal entry has no “id”."))
    order = data.get("order")
    form = order.get("checkoutForm") if isinstance(order, dict) else None
    form = form if isinstance(form, dict) else {}
    occurred = parse_time(data.get("occurredAt"))
    if occurred is None or not form.get("id"):
        raise MalformedPayload(_l("Journal entry %(id)s has no occurredAt or checkout form id.", id=data["id"]))
    return OrderEvent(str(data["id"]), str(data.get("type") or ""), occurred, str(form["id"]),
                      str(form.get("revision") or ""))


def _amount(node: Any, what: str) -> Decimal:
    if node is not None and not isinstance(node, dict):  # Allegro sends {amount, currency}; a bare 12 is not it
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount with its currency.", what=what, value=node))
    value = (node or {}).get("amount") if isinstance(node, dict) else None
    if value in (None, ""):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount.", what=what, value=value)) from error


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p)


def _company_vat_id(company: dict[str, Any]) -> str:
    if company.get("taxId"):
        return str(company["taxId"])
    ids = company.get("ids") or []
    return str(ids[0].get("value") or "") if ids and isinstance(ids[0], dict) else ""


def _addresses(data: dict[str, Any], name: str, email: str, phone: str) -> list[tuple[str, PlatformAddress]]:
    buyer = data.get("buyer") or {}
    home = buyer.get("address") or {}
    found = [("customer", PlatformAddress(
        name=name, company=buyer.get("companyName") or "", email=email, phone=phone, street=home.get("street") or "",
        postcode=home.get("postCode") or "", city=home.get("city") or "",
        country_code=(home.get("countryCode") or "PL")[:2]))]
    delivery = data.get("delivery") or {}
    shipping = delivery.get("address")
    if shipping:
        found.append(("shipping", PlatformAddress(
            name=_join(shipping.get("firstName"), shipping.get("lastName")), company=shipping.get("companyName") or "",
            street=shipping.get("street") or "", postcode=shipping.get("zipCode") or "",
            city=shipping.get("city") or "", country_code=(shipping.get("countryCode") or "PL")[:2],
            phone=shipping.get("phoneNumber") or "", email=email)))
    point = delivery.get("pickupPoint")
    if point and point.get("id"):
        where = point.get("address") or {}
        found.append(("pickup", PlatformAddress(
            name=point.get("name") or point["id"], street=where.get("street") or "",
            postcode=where.get("zipCode") or "", city=where.get("city") or "",
            country_code=(where.get("countryCode") or "PL")[:2], point_id=str(point["id"]))))
    invoice = data.get("invoice") or {}
    billing = invoice.get("address") if invoice.get("required", True) else None
    if billing:
        company = billing.get("company") or {}
        person = billing.get("naturalPerson") or {}
        found.append(("billing", PlatformAddress(
            name=_join(person.get("firstName"), person.get("lastName")) or company.get("name") or name,
            company=company.get("name") or "", vat_id=_company_vat_id(company), street=billing.get("street") or "",
            postcode=billing.get("zipCode") or "", city=billing.get("city") or "",
            country_code=(billing.get("countryCode") or "PL")[:2], email=email)))
    return found


def _item(line: dict[str, Any]) -> PlatformOrderItem:
    quantity = whole_number(line.get("quantity") or 0, f"Line item {line.get('id')} quantity")
    if quantity < 1:
        raise MalformedPayload(_l("Line item %(id)s has no quantity.", id=line.get("id")))
    offer = line.get("offer") or {}
    external = str((offer.get("external") or {}).get("id") or "")
    rate = (line.get("tax") or {}).get("rate")
    try:
        vat = Decimal(str(rate)) if rate not in (None, "") else DEFAULT_VAT
    except InvalidOperation as error:
        raise MalformedPayload(_l("Tax rate “%(rate)s” is not a number.", rate=rate)) from error
    price = _amount(line.get("price"), "Price")
    original = _amount(line.get("originalPrice"), "Original price") or price
    return PlatformOrderItem(
        name=offer.get("name") or "Allegro offer", quantity=quantity, unit_price_gross=price, vat_rate=vat,
        sku=external, ean=external if EAN.match(external) else "", external_item_id=str(line.get("id") or ""),
        discount_gross=max(Decimal("0"), (original - price) * quantity) if original > price else Decimal("0"),
        offer_id=str(offer.get("id") or ""),
    )


def _payments(data: dict[str, Any]) -> tuple[PlatformPayment, ...]:
    paid = []
    for payment in [data.get("payment") or {}, *(data.get("surcharges") or [])]:
        finished = parse_time(payment.get("finishedAt"))
        if payment.get("id") and finished is not None:
            method = _join("Allegro", payment.get("provider") or payment.get("type"))
            paid.append(PlatformPayment(amount=_amount(payment.get("paidAmount"), "Paid amount"),
                                        external_payment_id=str(payment["id"]), method=method, paid_at=finished))
    return tuple(paid)


def order_state(data: dict[str, Any]) -> str:
    """The state Kontor sees: the seller's fulfillment status, CANCELLED when the buyer or Allegro cancelled."""
    if data.get("status") in CANCELLED_FORM_STATUSES:
        return "CANCELLED"
    return (data.get("fulfillment") or {}).get("status") or "NEW"


def order_from_allegro(data: Any) -> PlatformOrder:
    """A CheckoutForm as a PlatformOrder; MalformedPayload says what is missing."""
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedPayload(_l("The checkout form has no “id”."))
    buyer = data.get("buyer") or {}
    email = buyer.get("email") or ""
    phone = buyer.get("phoneNumber") or ""
    name = _join(buyer.get("firstName"), buyer.get("lastName")) or buyer.get("companyName") or buyer.get("login") \
        or "Allegro buyer"
    lines = data.get("lineItems") or []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        raise MalformedPayload(_l("The checkout form's “lineItems” is not a list of items."))
    bought = [moment for moment in (parse_time(line.get("boughtAt")) for line in lines) if moment]
    payments = _payments(data)
    total = (data.get("summary") or {}).get("totalToPay")
    currency = ((total or {}).get("currency") or ((lines[0].get("price") or {}).get("currency") if lines else "")
                or "PLN")
    paid = sum((p.amount for p in payments), Decimal("0"))
    due = _amount(total, "Total") if total else None
    if data.get("status") == "READY_FOR_PROCESSING" and payments and (due is None or paid >= due):
        payment_status = "paid"
    elif payments:
        payment_status = "partially_paid"
    else:
        payment_status = "pending"
    delivery = data.get("delivery") or {}
    return PlatformOrder(
        external_id=str(data["id"]), state=order_state(data), updated_at=parse_time(data.get("updatedAt")),
        number=str(data["id"]), currency=(currency or "PLN").upper()[:3], ordered_at=min(bought) if bought else None,
        customer_name=name, customer_email=email, customer_phone=phone, items=tuple(_item(line) for line in lines),
        addresses=tuple(_addresses(data, name, email, phone)), payments=payments,
        shipping_gross=_amount(delivery.get("cost"), "Delivery cost"), total_gross=due,
        payment_status=payment_status, delivery_method=(delivery.get("method") or {}).get("name") or "",
        customer_comment=data.get("messageToSeller") or "", revision=str(data.get("revision") or ""),
        marketplace=str((data.get("marketplace") or {}).get("id") or ""),
    )
