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

from app.orders.models import FULFILLMENT_STATUSES, PAYMENT_STATUSES
from app.orders.services import AddressInput, ItemInput, OrderInput
from app.orders.shipments import ShipmentInput

VAT_CHOICES = [("23", "23%"), ("8", "8%"), ("5", "5%"), ("0", "0%")]


class ItemForm(Form):
    name = StringField("Product", validators=[Optional(), Length(max=255)])
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    ean = StringField("EAN", validators=[Optional(), Length(max=32)])
    quantity = IntegerField("Qty", default=1, validators=[Optional(), NumberRange(min=1, max=100000)])
    unit_price_gross = DecimalField("Unit price (gross)", places=2, validators=[Optional(), NumberRange(min=0)])
    vat_rate = SelectField("VAT", choices=VAT_CHOICES, default="23")
    discount_gross = DecimalField("Discount", places=2, default=Decimal("0"), validators=[Optional(), NumberRange(min=0)])


class AddressForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    company = StringField("Company", validators=[Optional(), Length(max=200)])
    vat_id = StringField("VAT ID", validators=[Optional(), Length(max=32)])
    street = StringField("Street", validators=[Optional(), Length(max=255)])
    postcode = StringField("Postcode", validators=[Optional(), Length(max=20)])
    city = StringField("City", validators=[Optional(), Length(max=120)])
    country_code = StringField("Country", default="PL", validators=[Optional(), Length(min=2, max=2)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])


class OrderForm(FlaskForm):
    revision = HiddenField()
    customer_name = StringField("Customer name", validators=[DataRequired(message="The customer needs a name."),
                                                             Length(max=200)])
    customer_email = StringField("E-mail", validators=[Optional(), Email(check_deliverability=False)])
    customer_phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    currency = StringField("Currency", default="PLN", validators=[DataRequired(), Length(min=3, max=3)])
    delivery_method = StringField("Delivery method", validators=[Optional(), Length(max=120)])
    shipping_gross = DecimalField("Shipping cost (gross)", places=2, default=Decimal("0"),
                                  validators=[Optional(), NumberRange(min=0)])
    payment_status = SelectField("Payment", choices=list(PAYMENT_STATUSES.items()), default="pending")
    fulfillment_status = SelectField("Fulfillment", choices=list(FULFILLMENT_STATUSES.items()), default="unassigned")
    status = SelectField("Status", default="draft")
    customer_comment = TextAreaField("Customer's comment", validators=[Optional(), Length(max=2000)])
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
            removed_addresses=tuple(removed),
            status=(self._fields["status"].data if "status" in self._fields else None) or "draft",
        )


class StatusChangeForm(FlaskForm):
    status = SelectField("New status", validators=[DataRequired(message="Choose the status to move the order to.")])
    comment = StringField("Comment", validators=[Optional(), Length(max=500)])


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(message="Write something first."), Length(max=5000)])


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
