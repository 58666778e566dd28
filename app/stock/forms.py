"""The availability settings form of a PrestaShop integration."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional


class AvailabilityForm(FlaskForm):
    enabled = BooleanField("Sync availability every 30 minutes")
    dsn = PasswordField("Shop database (DSN)", validators=[Optional(), Length(max=500)],
                        description="mysql://user:password@host:3306/database — leave empty to keep the stored one, "
                                    "or to use the webservice if none is stored.")
    prefix = StringField("Table prefix", default="ps_", validators=[Length(max=30)])
    shop_ids = StringField("Shop ids", default="1", description="Comma-separated, e.g. 1, 2")
    language_ids = StringField("Language ids", default="1", description="Comma-separated, e.g. 1, 2")
    threshold = IntegerField("Minimum supplier stock", default=20, validators=[NumberRange(min=0)])
    default_delivery_days = IntegerField("Delivery days when the feed gives none", default=3,
                                         validators=[NumberRange(min=0, max=365)])
    only_changed = BooleanField("Only send products whose availability changed", default=True)
    texts = TextAreaField("Texts per language", render_kw={"rows": 6},
                          description="One line per language: id | in stock | available later | unavailable. "
                                      "{delivery_days} is replaced by the supplier's delivery days.")
