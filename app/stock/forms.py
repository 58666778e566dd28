"""The availability settings form of a PrestaShop integration."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional


class IdListField(StringField):
    """Ids typed as "1, 2" or ticked as several boxes of the same name (after "Test database")."""

    def process_formdata(self, valuelist: list) -> None:
        if valuelist:
            self.data = ", ".join(value.strip() for value in valuelist if value.strip())


class AvailabilityForm(FlaskForm):
    enabled = BooleanField(_l("Sync availability every 30 minutes"))
    dsn = PasswordField(_l("Shop database (DSN)"), validators=[Optional(), Length(max=500)],
                        description=_l("mysql://user:password@host:3306/database — leave empty to keep the stored one, "
                                    "or to use the webservice if none is stored."))
    prefix = StringField(_l("Table prefix"), default="ps_", validators=[Length(max=30)])
    shop_ids = IdListField(_l("Shop ids"), default="1", description=_l("Comma-separated, e.g. 1, 2"))
    language_ids = IdListField(_l("Language ids"), default="1", description=_l("Comma-separated, e.g. 1, 2"))
    threshold = IntegerField(_l("Minimum supplier stock"), default=20, validators=[NumberRange(min=0)])
    default_delivery_days = IntegerField(_l("Delivery days when the feed gives none"), default=3,
                                         validators=[NumberRange(min=0, max=365)])
    only_changed = BooleanField(_l("Only write rows whose value differs from what the shop holds"), default=True)
    texts = TextAreaField(_l("Texts per language"), render_kw={"rows": 6},
                          description=_l("One line per language: id | in stock | available later | unavailable. "
                                      "{delivery_days} is replaced by the supplier's delivery days."))
    shop_texts = TextAreaField(_l("Texts for one shop (optional)"), render_kw={"rows": 3},
                               description=_l("Where a shop says it differently: shop id | language id | in stock | "
                                           "available later | unavailable. Other shops use the texts above."))
