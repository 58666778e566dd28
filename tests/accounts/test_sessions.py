"""A copied session cookie stops working once its user signs out, gets a new password or is switched off."""

from __future__ import annotations

from app.accounts.services import create_api_token
from app.extensions import db
from tests.conftest import csrf_from
from tests.factories import make_user


class Browser:
    """A test client whose requests each get their own app context, as in production.

    The `app` fixture keeps one app context open for the whole test, and Flask reuses it for requests, so
    Flask-Login's cached user in `g` would otherwise pass from one client to the next.
    """

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def get(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.post(*args, **kwargs)

    def get_cookie(self, name: str):
        return self.client.get_cookie(name)

    def set_cookie(self, name: str, value: str) -> None:
        self.client.set_cookie(name, value)

    def session_transaction(self):
        return self.client.session_transaction()


def _sign_in(client, user, remember: bool = False) -> str:
    page = client.get("/login").get_data(as_text=True)
    data = {"email": user.email, "password": "password123", "csrf_token": csrf_from(page)}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return csrf_from(client.get("/orders").get_data(as_text=True))


def _replay(app, name: str, value: str):
    """A request from another browser that holds only a copy of the cookie."""
    thief = Browser(app)
    thief.set_cookie(name, value)
    return thief.get("/orders")


def _assert_refused(response) -> None:
    assert response.status_code == 302 and response.location.startswith("/login")


def test_a_copied_cookie_works_until_logout_and_not_after(app):
    user = make_user()
    client = Browser(app)
    csrf = _sign_in(client, user)
    copied = client.get_cookie("session").value
    assert _replay(app, "session", copied).status_code == 200
    client.post("/logout", data={"csrf_token": csrf})
    _assert_refused(_replay(app, "session", copied))


def test_a_copied_remember_me_cookie_stops_working_after_logout(app):
    user = make_user()
    client = Browser(app)
    csrf = _sign_in(client, user, remember=True)
    remembered = client.get_cookie("remember_token")
    assert remembered is not None and _replay(app, "remember_token", remembered.value).status_code == 200
    client.post("/logout", data={"csrf_token": csrf})
    _assert_refused(_replay(app, "remember_token", remembered.value))


def test_the_remember_me_cookie_is_http_only_and_same_site_lax(app):
    user = make_user()
    client = Browser(app)
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": "password123", "remember": "y",
                                           "csrf_token": csrf_from(page)})
    remember = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember


def test_a_password_change_ends_the_users_sessions(app):
    user = make_user()
    other = Browser(app)
    _sign_in(other, user)
    copied = other.get_cookie("session").value
    client = Browser(app)
    csrf = _sign_in(client, make_user("admin"))
    response = client.post(f"/settings/users/{user.id}", data={"csrf_token": csrf, "name": user.name,
                                                               "role": user.role, "active": "y",
                                                               "password": "a-new-password"})
    assert response.status_code == 302
    _assert_refused(other.get("/orders"))
    _assert_refused(_replay(app, "session", copied))


def test_an_admin_who_changes_their_own_password_stays_signed_in(app):
    admin = make_user("admin")
    client = Browser(app)
    csrf = _sign_in(client, admin)
    elsewhere = Browser(app)
    _sign_in(elsewhere, admin)
    client.post(f"/settings/users/{admin.id}", data={"csrf_token": csrf, "name": admin.name, "role": "admin",
                                                     "active": "y", "password": "a-new-password"})
    assert client.get("/orders").status_code == 200
    _assert_refused(elsewhere.get("/orders"))


def test_switching_a_user_off_ends_their_sessions_and_api_tokens(app):
    user = make_user()
    client = Browser(app)
    _, raw = create_api_token(user, "Scanner")
    assert client.get("/api/v1/init", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    other = Browser(app)
    _sign_in(other, user)
    copied = other.get_cookie("session").value
    csrf = _sign_in(client, make_user("admin"))
    response = client.post(f"/settings/users/{user.id}", data={"csrf_token": csrf, "name": user.name,
                                                               "role": user.role})  # "active" left unticked
    assert response.status_code == 302
    _assert_refused(other.get("/orders"))
    _assert_refused(_replay(app, "session", copied))
    assert client.get("/api/v1/init", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    # Switched back on, the old cookie still does not return: they sign in afresh.
    db.session.expire_all()
    client.post(f"/settings/users/{user.id}", data={"csrf_token": csrf, "name": user.name, "role": user.role,
                                                    "active": "y"})
    _assert_refused(_replay(app, "session", copied))


def test_a_forged_or_old_style_session_reference_is_signed_out(app):
    user = make_user()
    client = Browser(app)
    _sign_in(client, user)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)  # the format before session versions
    _assert_refused(client.get("/orders"))
    with client.session_transaction() as session:
        session["_user_id"] = "2147483648:1"
    _assert_refused(client.get("/orders"))
