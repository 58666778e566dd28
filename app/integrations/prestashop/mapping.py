"""A PrestaShop order (webservice or database, read into one plain shape) to Kontor's DTOs. Pure.

The shape both readers produce, every value a string as PrestaShop stores it:
{"order": {id, reference, current_state, date_add, date_upd, payment, module, total_paid_tax_incl,
total_paid_real, total_shipping_tax_incl, total_discounts_tax_incl, ...}, "rows": [{id, product_id,
product_attribute_id, product_quantity, product_name, product_reference, product_ean13,
unit_price_tax_incl, tax_rate?}], "delivery": {address}, "invoice": {address}, "customer": {firstname,
lastname, email}, "currency": "PLN", "state_name": "..."}.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from app.integrations.base import MalformedPayload, PlatformAddress, PlatformOrder, PlatformOrderItem, PlatformPayment

EMPTY_DATES = ("", "0000-00-00 00:00:00", "0000-00-00")


def parse_time(value: Any) -> datetime | None:
    """PrestaShop's "YYYY-MM-DD HH:MM:SS" (the shop's clock) as an aware datetime, taken as UTC."""
    text = str(value or "").strip()
    if text in EMPTY_DATES:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise MalformedPayload(_l("“%(value)s” is not a PrestaShop date.", value=text)) from error


def _money(value: Any, what: str) -> Decimal:
    text = str(value if value is not None else "").strip()
    if not text:
        return Decimal("0")
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as error:
        raise MalformedPayload(_l("%(what)s “%(value)s” is not an amount.", what=what, value=text)) from error


def _address(data: dict[str, Any] | None, email: str = "") -> PlatformAddress | None:
    if not data:
        return None
    name = " ".join(p for p in (data.get("firstname"), data.get("lastname")) if p)
    street = ", ".join(p for p in (data.get("address1"), data.get("address2")) if p)
    return PlatformAddress(name=name, company=data.get("company") or "", vat_id=data.get("vat_number") or "",
                           street=street, postcode=data.get("postcode") or "", city=data.get("city") or "",
                           country_code=(data.get("country_code") or "")[:2],
                           phone=data.get("phone_mobile") or data.get("phone") or "", email=email)


def _item(row: dict[str, Any]) -> PlatformOrderItem:
    try:
        quantity = int(str(row.get("product_quantity") or "0"))
    except ValueError as error:
        raise MalformedPayload(_l("Order row %(id)s has quantity “%(quantity)s”.", id=row.get("id"),
                                  quantity=row.get("product_quantity"))) from error
    if quantity < 1:
        raise MalformedPayload(_l("Order row %(id)s has no quantity.", id=row.get("id")))
    rate = row.get("tax_rate")
    return PlatformOrderItem(
        name=row.get("product_name") or "Product", quantity=quantity,
        unit_price_gross=_money(row.get("unit_price_tax_incl"), "Unit price"),
        vat_rate=_money(rate, "Tax rate") if rate not in (None, "") else Decimal("23"),
        sku=row.get("product_reference") or "", ean=row.get("product_ean13") or "",
        external_item_id=str(row.get("id") or ""), offer_id=str(row.get("product_id") or ""))


def order_from_prestashop(data: Any) -> PlatformOrder:
    """A PrestaShop order (the shape above) as a PlatformOrder; MalformedPayload says what is missing."""
    if not isinstance(data, dict) or not isinstance(data.get("order"), dict) or not data["order"].get("id"):
        raise MalformedPayload(_l("The delivery is not a PrestaShop order (no order id)."))
    order = data["order"]
    customer = data.get("customer") or {}
    email = customer.get("email") or ""
    name = " ".join(p for p in (customer.get("firstname"), customer.get("lastname")) if p) or email or "Customer"
    delivery, invoice = _address(data.get("delivery"), email), _address(data.get("invoice"), email)
    addresses = [("customer", PlatformAddress(name=name, email=email, company=customer.get("company") or "",
                                              phone=(delivery.phone if delivery else "")))]
    addresses += [(kind, a) for kind, a in (("shipping", delivery), ("billing", invoice)) if a]
    total = _money(order.get("total_paid_tax_incl") or order.get("total_paid"), "Total")
    paid = _money(order.get("total_paid_real"), "Paid")
    payments = ()
    if paid > 0:
        payments = (PlatformPayment(amount=paid, external_payment_id=f"order-{order['id']}",
                                    method=order.get("payment") or order.get("module") or "PrestaShop",
                                    paid_at=parse_time(order.get("date_upd"))),)
    payment_status = "paid" if paid >= total > 0 else "partially_paid" if paid > 0 else "pending"
    return PlatformOrder(
        external_id=str(order["id"]), state=str(order.get("current_state") or ""),
        updated_at=parse_time(order.get("date_upd")), number=order.get("reference") or str(order["id"]),
        currency=(data.get("currency") or "PLN").upper()[:3], ordered_at=parse_time(order.get("date_add")),
        customer_name=name, customer_email=email, customer_phone=delivery.phone if delivery else "",
        items=tuple(_item(row) for row in data.get("rows") or []), addresses=tuple(addresses), payments=payments,
        shipping_gross=_money(order.get("total_shipping_tax_incl"), "Shipping"), total_gross=total,
        payment_status=payment_status, delivery_method=data.get("carrier") or "",
        customer_comment=order.get("note") or "",
    )
