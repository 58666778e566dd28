"""Forms for signing in and managing users and API tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.accounts.models import ROLES
from app.core.i18n import LOCALES

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class LoginForm(FlaskForm):
    # No format check here: the first admin is admin@kontor.local, which strict validators reject.
    email = StringField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me signed in"))


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="operator")
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8)])


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Active"))
    password = PasswordField(_l("New password"), validators=[Optional(), Length(min=8)])


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(message=_l("Give the token a name you will recognise.")),
                                                 Length(max=120)])


class ProfileForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=[("", _l("As my browser asks")), *LOCALES.items()])
