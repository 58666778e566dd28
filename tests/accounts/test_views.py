"""Signing in and out, users and API tokens."""

from app.accounts.models import ApiToken, User
from app.extensions import db
from tests.conftest import csrf_from
from tests.factories import make_user


def test_sign_in_returns_to_the_page_asked_for_and_sign_out(client, app):
    user = make_user()
    page = client.get("/login?next=/settings/numbering").get_data(as_text=True)
    response = client.post("/login?next=/settings/numbering",
                           data={"email": user.email.upper(), "password": "password123", "csrf_token": csrf_from(page)})
    assert response.location == "/settings/numbering"
    csrf = csrf_from(client.get("/orders").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/orders").status_code == 302


def test_login_never_redirects_off_site(client, app):
    user = make_user()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login?next=https://evil.example/", data={
        "email": user.email, "password": "password123", "csrf_token": csrf_from(page)})
    assert response.location == "/"


def test_switched_off_user_cannot_sign_in(client, app):
    user = make_user()
    user.active = False
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": "password123",
                                           "csrf_token": csrf_from(page)})
    assert response.status_code == 401


def test_admin_adds_a_viewer(client, app, login):
    csrf = login(make_user("admin"))
    response = client.post("/settings/users", data={"csrf_token": csrf, "email": "vera@example.com",
                                                    "name": "Vera", "role": "viewer", "password": "longenough"})
    assert response.status_code == 302
    assert db.session.scalar(db.select(User).where(User.email == "vera@example.com")).role == "viewer"


def test_the_last_admin_cannot_be_demoted(client, app, login):
    admin = make_user("admin")
    csrf = login(admin)
    response = client.post(f"/settings/users/{admin.id}", data={"csrf_token": csrf, "name": admin.name,
                                                                "role": "viewer", "active": "y"})
    assert response.status_code == 200 and "at least one active admin" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "admin"


def test_only_admins_manage_users_and_tokens(client, app, login):
    login(make_user("operator"))
    assert client.get("/settings/users").status_code == 403
    assert client.get("/settings/api-tokens").status_code == 403


def test_token_is_shown_once_stored_hashed_and_revocable(client, app, login):
    csrf = login(make_user("admin"))
    response = client.post("/settings/api-tokens", data={"csrf_token": csrf, "name": "Scanner"})
    body = response.get_data(as_text=True)
    raw = body.split('id="new-token">')[1].split("<")[0]
    token = db.session.scalar(db.select(ApiToken))
    assert raw.startswith("kontor_") and token.token_hash != raw and raw not in client.get(
        "/settings/api-tokens").get_data(as_text=True)
    assert client.get("/api/v1/init", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    revoked = client.post(f"/settings/api-tokens/{token.id}/revoke", headers={"HX-Request": "true",
                                                                              "X-CSRFToken": csrf})
    assert "revoked" in revoked.get_data(as_text=True)
    assert client.get("/api/v1/init", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
