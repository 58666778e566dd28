"""Forms for orders: create/edit, status change, notes, bulk status."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import (
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from app.core.params import FitsMoney, NoNul, text_validators
from app.orders.models import (
    COMMENT_MAX_LENGTH,
    CUSTOMER_COMMENT_MAX_LENGTH,
    FULFILLMENT_STATUSES,
    NOTE_MAX_LENGTH,
    PAYMENT_STATUSES,
    Order,
    OrderAddress,
    OrderItem,
)
from app.orders.links import PlatformLink
from app.orders.services import AddressInput, ItemInput, OrderInput
from app.orders.shipments import ShipmentInput

VAT_CHOICES = [("23", "23%"), ("8", "8%"), ("5", "5%"), ("0", "0%")]


class ItemForm(Form):
    name = StringField(_l("Product"), validators=[Optional(), *text_validators(OrderItem.name)])
    sku = StringField(_l("SKU"), validators=[Optional(), *text_validators(OrderItem.sku)])
    ean = StringField(_l("EAN"), validators=[Optional(), *text_validators(OrderItem.ean)])
    quantity = IntegerField(_l("Qty"), default=1, validators=[Optional(), NumberRange(min=1, max=100000)])
    unit_price_gross = DecimalField(_l("Unit price (gross)"), places=2,
                                    validators=[Optional(), FitsMoney(), NumberRange(min=0)])
    vat_rate = SelectField(_l("VAT"), choices=VAT_CHOICES, default="23")
    discount_gross = DecimalField(_l("Discount"), places=2, default=Decimal("0"),
                                  validators=[Optional(), FitsMoney(), NumberRange(min=0)])


class AddressForm(Form):
    name = StringField(_l("Name"), validators=[Optional(), *text_validators(OrderAddress.name)])
    company = StringField(_l("Company"), validators=[Optional(), *text_validators(OrderAddress.company)])
    vat_id = StringField(_l("VAT ID"), validators=[Optional(), *text_validators(OrderAddress.vat_id)])
    street = StringField(_l("Street"), validators=[Optional(), *text_validators(OrderAddress.street)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), *text_validators(OrderAddress.postcode)])
    city = StringField(_l("City"), validators=[Optional(), *text_validators(OrderAddress.city)])
    country_code = StringField(_l("Country"), default="PL", validators=[Optional(), NoNul(), Length(min=2, max=2)])
    phone = StringField(_l("Phone"), validators=[Optional(), *text_validators(OrderAddress.phone)])


class OrderForm(FlaskForm):
    revision = HiddenField()
    customer_name = StringField(_l("Customer name"), validators=[DataRequired(message=_l("The customer needs a name.")),
                                                             *text_validators(Order.customer_name)])
    customer_email = StringField(_l("E-mail"), validators=[Optional(), *text_validators(Order.customer_email),
                                                       Email(check_deliverability=False)])
    customer_phone = StringField(_l("Phone"), validators=[Optional(), *text_validators(Order.customer_phone)])
    currency = StringField(_l("Currency"), default="PLN", validators=[DataRequired(), NoNul(), Length(min=3, max=3)])
    delivery_method = StringField(_l("Delivery method"), validators=[Optional(), *text_validators(Order.delivery_method)])
    shipping_gross = DecimalField(_l("Shipping cost (gross)"), places=2, default=Decimal("0"),
                                  validators=[Optional(), FitsMoney(), NumberRange(min=0)])
    payment_status = SelectField(_l("Payment"), choices=list(PAYMENT_STATUSES.items()), default="pending")
    fulfillment_status = SelectField(_l("Fulfillment"), choices=list(FULFILLMENT_STATUSES.items()), default="unassigned")
    status = SelectField(_l("Status"), default="draft")
    customer_comment = TextAreaField(_l("Customer's comment"), validators=[
        Optional(), *text_validators(max_length=CUSTOMER_COMMENT_MAX_LENGTH)])
    # The platform order this order is (linked by hand for orders that came in before the import existed).
    integration_id = SelectField(_l("Platform"), coerce=str, default="")
    external_order_id = StringField(_l("Platform order id"), validators=[
        Optional(), *text_validators(Order.external_order_id)])
    shipping = FormField(AddressForm)
    billing = FormField(AddressForm)
    items = FieldList(FormField(ItemForm), min_entries=1)

    def to_input(self) -> OrderInput:
        """The form's data as the service expects it; empty item rows are ignored."""
        items = [
            ItemInput(
                name=row.form.name.data or "", quantity=row.form.quantity.data or 1,
                unit_price_gross=row.form.unit_price_gross.data or Decimal("0"),
                vat_rate=Decimal(row.form.vat_rate.data or "23"), sku=row.form.sku.data or "",
                ean=row.form.ean.data or "", discount_gross=row.form.discount_gross.data or Decimal("0"),
            )
            for row in self.items
            if (row.form.name.data or "").strip()
        ]
        addresses = [AddressInput(kind="customer", name=self.customer_name.data or "",
                                  email=self.customer_email.data or "", phone=self.customer_phone.data or "")]
        removed = []
        for kind in ("shipping", "billing"):
            sub = getattr(self, kind).form
            values = {name: (field.data or "") for name, field in sub._fields.items()}
            if any(v for k, v in values.items() if k != "country_code"):
                addresses.append(AddressInput(kind=kind, **values))
            else:
                removed.append(kind)
        return OrderInput(
            customer_name=self.customer_name.data or "", customer_email=self.customer_email.data or "",
            customer_phone=self.customer_phone.data or "", currency=(self.currency.data or "PLN").upper(),
            delivery_method=self.delivery_method.data or "", shipping_gross=self.shipping_gross.data or Decimal("0"),
            payment_status=self.payment_status.data, fulfillment_status=self.fulfillment_status.data,
            customer_comment=self.customer_comment.data or "", items=items, addresses=addresses,
            removed_addresses=tuple(removed), link=self.platform_link(),
            status=(self._fields["status"].data if "status" in self._fields else None) or "draft",
        )


    def platform_link(self) -> PlatformLink | None:
        """The platform order chosen on the form; None (leave the link alone) when the post has no such fields."""
        if "integration_id" not in self._fields or not (self.integration_id.raw_data or
                                                        self.external_order_id.raw_data):
            return None
        chosen = self.integration_id.data or ""
        return PlatformLink(integration_id=int(chosen) if chosen.isdigit() else None,
                            external_order_id=self.external_order_id.data or "")


class StatusChangeForm(FlaskForm):
    status = SelectField(_l("New status"), validators=[DataRequired(message=_l("Choose the status to move the order to."))])
    comment = StringField(_l("Comment"), validators=[Optional(), *text_validators(max_length=COMMENT_MAX_LENGTH)])


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(message=_l("Write something first.")),
                                             *text_validators(max_length=NOTE_MAX_LENGTH)])


class BulkStatusForm(FlaskForm):
    status = SelectField(_l("Move selected to"), validators=[DataRequired(message=_l("Choose the status to move the orders to."))])


class ShipmentForm(FlaskForm):
    carrier = StringField(_l("Carrier"), validators=[DataRequired(message=_l("Name the carrier, e.g. InPost or DPD.")),
                                                 Length(max=60)])
    tracking_number = StringField(_l("Tracking number"), validators=[
        DataRequired(message=_l("Enter the tracking number from the label.")), Length(max=64)])
    service = StringField(_l("Service"), validators=[Optional(), Length(max=60)])

    def to_input(self) -> ShipmentInput:
        return ShipmentInput(self.carrier.data or "", self.tracking_number.data or "", self.service.data or "")
