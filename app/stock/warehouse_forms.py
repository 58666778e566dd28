"""Forms of the warehouse pages: warehouses, Settings > Orders, receipts and corrections."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, NumberRange, Optional

from app.core.params import text_validators
from app.stock.models import Warehouse
from app.stock.warehouses import ISSUE_WZ_ON, MAX_QUANTITY, STOCK_FILTERS


class WarehouseForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), *text_validators(Warehouse.code)])
    name = StringField(_l("Name"), validators=[DataRequired(), *text_validators(Warehouse.name)])


class OrderSettingsForm(FlaskForm):
    default_warehouse_id = SelectField(_l("Default warehouse"), coerce=int)
    reserve = BooleanField(_l("Reserve stock when an order enters “Awaiting fulfillment”"))
    reservation_hours = IntegerField(_l("Reservations expire after (hours, 0 = never)"),
                                     validators=[NumberRange(0, 24 * 365)])
    issue_wz_on = SelectField(_l("Issue the WZ automatically on"), choices=list(ISSUE_WZ_ON.items()))
    release_on_cancel = BooleanField(_l("Release reservations when an order is cancelled"))
    seller_details = TextAreaField(_l("Seller's details printed on documents"),
                                   validators=[Optional(), *text_validators(max_length=2000)])


class MovementForm(FlaskForm):
    """A goods receipt (PZ) or a stock count correction of one product."""

    warehouse_id = SelectField(_l("Warehouse"), coerce=int)
    sku = StringField(_l("SKU"), validators=[DataRequired(), *text_validators(max_length=64)])
    quantity = IntegerField(_l("Quantity"), validators=[NumberRange(0, MAX_QUANTITY)])
    note = StringField(_l("Note"), validators=[Optional(), *text_validators(max_length=500)])


FILTER_CHOICES = list(STOCK_FILTERS.items())
