"""Forms for products and links."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Optional

from app.catalog.models import Product, ProductLink
from app.core.params import text_validators


class ProductForm(FlaskForm):
    sku = StringField(_l("SKU"), validators=[Optional(), *text_validators(Product.sku)])
    ean = StringField(_l("EAN"), validators=[Optional(), *text_validators(Product.ean)])
    name = StringField(_l("Name"), validators=[Optional(), *text_validators(Product.name)])


class LinkForm(FlaskForm):
    integration_id = SelectField(_l("Shop"), coerce=int)
    external_product_id = StringField(_l("Shop product id"), validators=text_validators(ProductLink.external_product_id))
    external_combination_id = StringField(_l("Combination id (0 = the product)"), default="0",
                                          validators=[Optional(), *text_validators(ProductLink.external_combination_id)])


class AutolinkForm(FlaskForm):
    create_missing = BooleanField(_l("Also create Kontor products for shop items that match none"))
