"""The availability settings form of a PrestaShop integration."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional


class AvailabilityForm(FlaskForm):
    enabled = BooleanField(_l("Sync availability every 30 minutes"))
    dsn = PasswordField(_l("Shop database (DSN)"), validators=[Optional(), Length(max=500)],
                        description=_l("mysql://user:password@host:3306/database — leave empty to keep the stored one, "
                                    "or to use the webservice if none is stored."))
    prefix = StringField(_l("Table prefix"), default="ps_", validators=[Length(max=30)])
    shop_ids = StringField(_l("Shop ids"), default="1", description=_l("Comma-separated, e.g. 1, 2"))
    language_ids = StringField(_l("Language ids"), default="1", description=_l("Comma-separated, e.g. 1, 2"))
    threshold = IntegerField(_l("Minimum supplier stock"), default=20, validators=[NumberRange(min=0)])
    default_delivery_days = IntegerField(_l("Delivery days when the feed gives none"), default=3,
                                         validators=[NumberRange(min=0, max=365)])
    only_changed = BooleanField(_l("Only send products whose availability changed"), default=True)
    texts = TextAreaField(_l("Texts per language"), render_kw={"rows": 6},
                          description=_l("One line per language: id | in stock | available later | unavailable. "
                                      "{delivery_days} is replaced by the supplier's delivery days."))
