"""Forms for statuses and numbering."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from app.core.params import NoNul
from app.settings.numbering import RESETS
from app.settings.statuses import GROUPS

GROUP_CHOICES = list(GROUPS.items())
COLOUR = Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("Colour must look like #1a2b3c."))


class StatusForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(message=_l("A status needs a code, e.g. waiting_for_supplier.")),
                                           NoNul(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("A status needs a name.")), NoNul(), Length(max=80)])
    colour = StringField(_l("Colour"), default="#64748b", validators=[DataRequired(), COLOUR])
    group = SelectField(_l("Behaves like"), choices=GROUP_CHOICES, default="processing")
    is_final = BooleanField(_l("Final"))


class StatusEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("A status needs a name.")), NoNul(), Length(max=80)])
    colour = StringField(_l("Colour"), validators=[DataRequired(), COLOUR])
    group = SelectField(_l("Behaves like"), choices=GROUP_CHOICES)
    is_final = BooleanField(_l("Final"))


class NumberingForm(FlaskForm):
    prefix = StringField(_l("Prefix"), validators=[NoNul(), Length(max=40)])
    suffix = StringField(_l("Suffix"), validators=[NoNul(), Length(max=40)])
    padding = IntegerField(_l("Digits"), validators=[NumberRange(min=1, max=12)])
    reset = SelectField(_l("Restart counter"), choices=list(RESETS.items()))


class ShippingForm(FlaskForm):
    ship_within_hours = IntegerField(_l("Ship within (hours)"), validators=[
        NumberRange(min=1, max=24 * 60, message=_l("Give a number of hours between 1 and 1440."))])
