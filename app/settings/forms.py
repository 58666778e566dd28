"""Forms for statuses and numbering."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from app.core.params import NoNul
from app.settings.numbering import RESETS
from app.settings.statuses import GROUPS

GROUP_CHOICES = list(GROUPS.items())
COLOUR = Regexp(r"^#[0-9a-fA-F]{6}$", message="Colour must look like #1a2b3c.")


class StatusForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(message="A status needs a code, e.g. waiting_for_supplier."),
                                           NoNul(), Length(max=40)])
    name = StringField("Name", validators=[DataRequired(message="A status needs a name."), NoNul(), Length(max=80)])
    colour = StringField("Colour", default="#64748b", validators=[DataRequired(), COLOUR])
    group = SelectField("Behaves like", choices=GROUP_CHOICES, default="processing")
    is_final = BooleanField("Final")


class StatusEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="A status needs a name."), NoNul(), Length(max=80)])
    colour = StringField("Colour", validators=[DataRequired(), COLOUR])
    group = SelectField("Behaves like", choices=GROUP_CHOICES)
    is_final = BooleanField("Final")


class NumberingForm(FlaskForm):
    prefix = StringField("Prefix", validators=[NoNul(), Length(max=40)])
    suffix = StringField("Suffix", validators=[NoNul(), Length(max=40)])
    padding = IntegerField("Digits", validators=[NumberRange(min=1, max=12)])
    reset = SelectField("Restart counter", choices=list(RESETS.items()))


class ShippingForm(FlaskForm):
    ship_within_hours = IntegerField("Ship within (hours)", validators=[
        NumberRange(min=1, max=24 * 60, message="Give a number of hours between 1 and 1440.")])
