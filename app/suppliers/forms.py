"""Forms for supplier feeds."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.catalog.supply import DEFAULT_AFTER_IMPORTS, MAX_AFTER_IMPORTS, MISSING_POLICIES
from app.suppliers.services import FORMATS, MAPPING_FIELDS, SOURCE_TYPES


class FeedForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(message="Give the feed a name."), Length(max=120)])
    source_type = SelectField(_l("Source"), choices=list(SOURCE_TYPES.items()))
    location = StringField(_l("Address or path"), validators=[Optional(), Length(max=500)],
                           description=_l("https://supplier.example/feed.csv, or /srv/feeds/supplier.csv"))
    upload = FileField(_l("File"))
    format = SelectField(_l("Format"), choices=list(FORMATS.items()))
    item_path = StringField(_l("XML item element"), validators=[Optional(), Length(max=200)],
                            description=_l("For XML: the element that repeats per product, e.g. product or offers/offer"))
    max_mb = IntegerField(_l("Size limit (MB)"), default=200, validators=[NumberRange(min=1, max=2000)])
    missing_products = SelectField(_l("Products the feed stops listing"), choices=list(MISSING_POLICIES.items()),
                                   default="keep")
    missing_after = IntegerField(_l("Imports without the product before it counts as stock 0"),
                                 default=DEFAULT_AFTER_IMPORTS,
                                 validators=[NumberRange(min=1, max=MAX_AFTER_IMPORTS)])


MAPPING_LABELS = {"sku": "SKU", "ean": "EAN", "stock_quantity": "Stock quantity", "delivery_days": "Delivery days",
                  "purchase_price": "Purchase price"}


class MappingForm(FlaskForm):
    sku = SelectField(MAPPING_LABELS["sku"])
    ean = SelectField(MAPPING_LABELS["ean"])
    stock_quantity = SelectField(MAPPING_LABELS["stock_quantity"])
    delivery_days = SelectField(MAPPING_LABELS["delivery_days"])
    purchase_price = SelectField(MAPPING_LABELS["purchase_price"])

    def set_headers(self, headers: list[str]) -> "MappingForm":
        """Offer the feed's last seen headers in every dropdown."""
        for name in MAPPING_FIELDS:
            getattr(self, name).choices = [("", "— not in this feed —")] + [(h, h) for h in headers]
        return self
