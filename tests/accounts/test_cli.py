"""`flask accounts token create|revoke`, run through Flask's CLI runner."""

from __future__ import annotations

from app.accounts.models import ApiToken
from app.extensions import db
from tests.factories import make_user


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["accounts", "token", *args])


def _api(app, raw: str) -> int:
    return app.test_client().get("/api/v1/init", headers={"Authorization": f"Bearer {raw}"}).status_code


def test_create_prints_a_token_that_the_api_accepts(app):
    user = make_user("operator")
    result = _run(app, "create", "--user", user.email.upper(), "--name", "Warehouse scanner")
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert raw.startswith("kontor_") and "\n" not in raw
    assert "acts as " + user.email in result.stderr
    token = db.session.scalar(db.select(ApiToken))
    assert token.name == "Warehouse scanner" and token.user_id == user.id and token.token_hash != raw
    assert _api(app, raw) == 200


def test_create_refuses_unknown_and_switched_off_users(app):
    assert "No user with e-mail ghost@example.com" in _run(app, "create", "--user", "ghost@example.com",
                                                           "--name", "x").stderr
    user = make_user()
    user.active = False
    db.session.commit()
    result = _run(app, "create", "--user", user.email, "--name", "x")
    assert result.exit_code == 1 and "switched off" in result.stderr
    assert db.session.scalar(db.select(ApiToken)) is None


def test_revoke_by_id_says_what_it_revoked(app):
    user = make_user()
    raw = _run(app, "create", "--user", user.email, "--name", "Scanner").stdout.strip()
    token = db.session.scalar(db.select(ApiToken))
    result = _run(app, "revoke", str(token.id))
    assert result.exit_code == 0
    assert f"Revoked token {token.id} \u201cScanner\u201d ({token.token_prefix}\u2026) of {user.email}" in result.stdout
    assert _api(app, raw) == 401
    again = _run(app, "revoke", str(token.id))
    assert again.exit_code == 0 and "was already revoked" in again.stdout


def test_revoke_by_user_and_name_revokes_only_that_users_tokens_of_that_name(app):
    anna, bert = make_user(), make_user()
    annas = [_run(app, "create", "--user", anna.email, "--name", "Scanner").stdout.strip() for _ in range(2)]
    kept = _run(app, "create", "--user", anna.email, "--name", "Reports").stdout.strip()
    berts = _run(app, "create", "--user", bert.email, "--name", "Scanner").stdout.strip()
    result = _run(app, "revoke", "--user", anna.email, "--name", "Scanner")
    assert result.exit_code == 0 and result.stdout.count("Revoked token") == 2
    assert [_api(app, raw) for raw in annas] == [401, 401]
    assert _api(app, kept) == 200 and _api(app, berts) == 200


def test_revoke_explains_what_it_needs(app):
    user = make_user()
    assert "No API token with id 99" in _run(app, "revoke", "99").stderr
    assert "has no unrevoked token named" in _run(app, "revoke", "--user", user.email, "--name", "Nope").stderr
    assert _run(app, "revoke").exit_code == 2
    assert _run(app, "revoke", "1", "--user", user.email, "--name", "x").exit_code == 2
