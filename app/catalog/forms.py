"""Forms for products and links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional


class ProductForm(FlaskForm):
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    ean = StringField("EAN", validators=[Optional(), Length(max=32)])
    name = StringField("Name", validators=[Optional(), Length(max=255)])


class LinkForm(FlaskForm):
    integration_id = SelectField("Shop", coerce=int)
    external_product_id = StringField("Shop product id", validators=[Length(max=64)])
    external_combination_id = StringField("Combination id (0 = the product)", default="0",
                                          validators=[Optional(), Length(max=64)])


class AutolinkForm(FlaskForm):
    create_missing = BooleanField("Also create Kontor products for shop items that match none")
