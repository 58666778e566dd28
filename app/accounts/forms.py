"""Forms for signing in and managing users and API tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.accounts.models import ROLES
from app.core.i18n import LOCALES

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class LoginForm(FlaskForm):
    # No format check here: the first admin is admin@kontor.local, which strict validators reject.
    email = StringField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")


class UserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(check_deliverability=False)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="operator")
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8)])


class UserEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active")
    password = PasswordField("New password", validators=[Optional(), Length(min=8)])


class ApiTokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(message="Give the token a name you will recognise."),
                                                 Length(max=120)])


class ProfileForm(FlaskForm):
    locale = SelectField("Language", choices=[("", "As my browser asks"), *LOCALES.items()])
