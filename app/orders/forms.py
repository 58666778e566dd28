"""Forms for orders: create/edit, status change, notes, bulk status."""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
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
    name = StringField("Product", validators=[Optional(), *text_validators(OrderItem.name)])
    sku = StringField("SKU", validators=[Optional(), *text_validators(OrderItem.sku)])
    ean = StringField("EAN", validators=[Optional(), *text_validators(OrderItem.ean)])
    quantity = IntegerField("Qty", default=1, validators=[Optional(), NumberRange(min=1, max=100000)])
    unit_price_gross = DecimalField("Unit price (gross)", places=2,
                                    validators=[Optional(), FitsMoney(), NumberRange(min=0)])
    vat_rate = SelectField("VAT", choices=VAT_CHOICES, default="23")
    discount_gross = DecimalField("Discount", places=2, default=Decimal("0"),
                                  validators=[Optional(), FitsMoney(), NumberRange(min=0)])


class AddressForm(Form):
    name = StringField("Name", validators=[Optional(), *text_validators(OrderAddress.name)])
    company = StringField("Company", validators=[Optional(), *text_validators(OrderAddress.company)])
    vat_id = StringField("VAT ID", validators=[Optional(), *text_validators(OrderAddress.vat_id)])
    street = StringField("Street", validators=[Optional(), *text_validators(OrderAddress.street)])
    postcode = StringField("Postcode", validators=[Optional(), *text_validators(OrderAddress.postcode)])
    city = StringField("City", validators=[Optional(), *text_validators(OrderAddress.city)])
    country_code = StringField("Country", default="PL", validators=[Optional(), NoNul(), Length(min=2, max=2)])
    phone = StringField("Phone", validators=[Optional(), *text_validators(OrderAddress.phone)])


class OrderForm(FlaskForm):
    revision = HiddenField()
    customer_name = StringField("Customer name", validators=[DataRequired(message="The customer needs a name."),
                                                             *text_validators(Order.customer_name)])
    customer_email = StringField("E-mail", validators=[Optional(), *text_validators(Order.customer_email),
                                                       Email(check_deliverability=False)])
    customer_phone = StringField("Phone", validators=[Optional(), *text_validators(Order.customer_phone)])
    currency = StringField("Currency", default="PLN", validators=[DataRequired(), NoNul(), Length(min=3, max=3)])
    delivery_method = StringField("Delivery method", validators=[Optional(), *text_validators(Order.delivery_method)])
    shipping_gross = DecimalField("Shipping cost (gross)", places=2, default=Decimal("0"),
                                  validators=[Optional(), FitsMoney(), NumberRange(min=0)])
    payment_status = SelectField("Payment", choices=list(PAYMENT_STATUSES.items()), default="pending")
    fulfillment_status = SelectField("Fulfillment", choices=list(FULFILLMENT_STATUSES.items()), default="unassigned")
    status = SelectField("Status", default="draft")
    customer_comment = TextAreaField("Customer's comment", validators=[
        Optional(), *text_validators(max_length=CUSTOMER_COMMENT_MAX_LENGTH)])
    # The platform order this order is (linked by hand for orders that came in before the import existed).
    integration_id = SelectField("Platform", coerce=str, default="")
    external_order_id = StringField("Platform order id", validators=[
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
    status = SelectField("New status", validators=[DataRequired(message="Choose the status to move the order to.")])
    comment = StringField("Comment", validators=[Optional(), *text_validators(max_length=COMMENT_MAX_LENGTH)])


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(message="Write something first."),
                                             *text_validators(max_length=NOTE_MAX_LENGTH)])


class BulkStatusForm(FlaskForm):
    status = SelectField("Move selected to", validators=[DataRequired(message="Choose the status to move the orders to.")])


class ShipmentForm(FlaskForm):
    carrier = StringField("Carrier", validators=[DataRequired(message="Name the carrier, e.g. InPost or DPD."),
                                                 Length(max=60)])
    tracking_number = StringField("Tracking number", validators=[
        DataRequired(message="Enter the tracking number from the label."), Length(max=64)])
    service = StringField("Service", validators=[Optional(), Length(max=60)])

    def to_input(self) -> ShipmentInput:
        return ShipmentInput(self.carrier.data or "", self.tracking_number.data or "", self.service.data or "")
