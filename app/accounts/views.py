"""Sign in and out; admins manage users and API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.forms import ApiTokenForm, LoginForm, ProfileForm, UserEditForm, UserForm
from app.accounts.models import User
from app.core.auth import role_required
from app.core.errors import NotFound, ValidationFailed
from app.core.htmx import render_fragment
from app.core.transactions import refusal_shown
from app.core.web import local_path
from app.extensions import db, login_manager

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.localize_callback = str  # the session stores flashed messages as text


@login_manager.user_loader
def load_user(reference: str) -> User | None:
    return services.user_for_session(reference)


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", -(-seconds // 60))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        result = services.sign_in(form.email.data, form.password.data, request.remote_addr or "",
                                  request.user_agent.string)
        if result.user:
            login_user(result.user, remember=form.remember.data)
            # Only a plain path of this site: anything else (another host, CR/LF, backslashes) is an attack.
            return redirect(local_path(request.args.get("next")) or url_for("dashboard.index"))
        if result.retry_after:
            error = _("Too many failed sign-ins for this account or from this address. "
                      "Try again in %(wait)s.", wait=_wait_text(result.retry_after))
            page = render_template("accounts/login.html", form=form, error=error)
            return page, 429, {"Retry-After": str(result.retry_after)}
        error = _("Wrong e-mail or password, or the account is switched off.")
    return render_template("accounts/login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
@login_required
def logout():
    """Sign out, ending this user's sessions on the server (a copied cookie stops working too)."""
    services.end_sessions(current_user._get_current_object())
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/settings/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    """List users and add one."""
    form = UserForm()
    if form.validate_on_submit():
        with refusal_shown(form, "email"):
            user = services.create_user(form.email.data, form.name.data, form.password.data, form.role.data)
            flash(_("User %(email)s added as %(role)s.", email=user.email, role=user.role), "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/users.html", form=form, users=services.list_users())


@bp.route("/settings/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id: int):
    """Change a user's name, role, password or switch them off."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        with refusal_shown(form, "role"):
            services.update_user(user, name=form.name.data, role=form.role.data, active=form.active.data,
                                 password=form.password.data or None)
            if user.id == current_user.id and user.active:
                login_user(user)  # a new password ends the other sessions, not the one that set it
            flash(_("Saved %(email)s.", email=user.email), "success")
            return redirect(url_for("accounts.users"))
    return render_template("accounts/user_edit.html", form=form, user=user)


@bp.get("/settings/users/sign-in-attempts")
@role_required("admin")
def login_attempts():
    """Failed sign-ins, newest first: who tried which e-mail from where."""
    return render_template("accounts/login_attempts.html", attempts=services.recent_login_attempts())


@bp.route("/settings/api-tokens", methods=["GET", "POST"])
@role_required("admin")
def api_tokens():
    """List API tokens and create one (shown once)."""
    form = ApiTokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _, new_token = services.create_api_token(current_user, form.name.data)
            form = ApiTokenForm(formdata=None)
        except ValidationFailed as error:
            form.name.errors.append(error.message)
    return render_template("accounts/api_tokens.html", form=form, tokens=services.list_api_tokens(),
                           new_token=new_token)


@bp.post("/settings/api-tokens/<int:token_id>/revoke")
@role_required("admin")
def revoke_api_token(token_id: int):
    """Revoke a token; its row swaps itself to show it revoked."""
    token = services.revoke_api_token(token_id)
    return render_fragment("accounts/_token_row.html", token=token)


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Your own settings: the language Kontor speaks to you."""
    form = ProfileForm(data={"locale": current_user.locale or ""})
    if form.validate_on_submit():
        services.set_locale(current_user, form.locale.data or None)
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form)
