"""Every response carries the security headers; production adds HSTS and secure cookies."""

from __future__ import annotations

import pytest
from flask_babel import refresh

from app import create_app
from app.core.web import local_path
from tests.factories import make_order, make_user

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _assert_secured(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_pages_fragments_json_static_and_errors_all_carry_security_headers(client, app, login):
    order = make_order()
    with app.app_context():  # its own context: the signed-in user cached in `g` must not leak into it
        anonymous = [app.test_client().get("/login"), app.test_client().get("/orders")]
    login(make_user("operator"))
    responses = [
        client.get("/orders"), client.get(f"/orders/{order.id}"), client.get("/orders", headers={"HX-Request": "true"}),
        client.get("/static/app.css"), client.get("/no-such-page"), client.get("/healthz"),
        client.get("/api/v1/init"),  # 401 JSON: no token
        *anonymous,  # the login page and the redirect to it
    ]
    assert [r.status_code for r in responses][-3:] == [401, 200, 302]
    for response in responses:
        _assert_secured(response)
    assert "Strict-Transport-Security" not in responses[0].headers


def test_production_adds_strict_transport_security_and_secure_cookies(monkeypatch):
    monkeypatch.setenv("KONTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("KONTOR_ENCRYPTION_KEY", "k" * 40)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    response = app.test_client().get("/login", base_url="https://kontor.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    _assert_secured(response)
    session_cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


@pytest.mark.parametrize("target, expected", [
    ("/orders?status=new&page=2", "/orders?status=new&page=2"), ("/settings/numbering", "/settings/numbering"),
    ("/orders\r\nSet-Cookie: x=1", None), ("//evil.example", None), ("/\\evil.example", None),
    ("https://evil.example/", None), ("orders", None), ("/orders q", None), ("/zamówienia", None), ("", None),
    (None, None),
])
def test_only_plain_local_paths_are_redirect_targets(target, expected):
    assert local_path(target) == expected


def test_a_crash_shows_kontors_error_page_in_the_users_language(client, app, login):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error page, not the traceback

    @app.get("/boom-for-the-test")
    def boom():
        raise RuntimeError("a bug")

    login(make_user("operator"))
    page = client.get("/boom-for-the-test")
    assert page.status_code == 500
    text = page.get_data(as_text=True)
    assert "Something went wrong" in text and "was logged" in text and "RuntimeError" not in text
    polish = client.get("/boom-for-the-test", headers={"Accept-Language": "pl"})
    assert polish.status_code == 500


def test_money_written_as_a_literal_in_a_template_follows_each_readers_language(app):
    # Jinja folds filters on literal input into the compiled template unless they run at render time.
    template = app.jinja_env.from_string("{{ 0 | money('PLN') }}|{{ 1234.5 | number(1) }}")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        refresh()  # the tests' app context is shared; a request chooses its language afresh (as before_request does)
        assert template.render() == "0.00 PLN|1,234.5"
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        refresh()
        assert template.render() == "0,00\xa0zł|1\xa0234,5"
