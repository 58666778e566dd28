"""AllegroAuth (device flow and refresh) against Allegro's real OAuth bodies served by `responses`."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from app.integrations.allegro.auth import DEVICE_GRANT, AllegroAuth, AuthorizationPending, DeviceAuthorization
from app.integrations.base import AuthenticationFailed, ReconnectNeeded, TransientPlatformError
from tests.fakes import fixture_path

AUTH = "https://allegro.pl/auth/oauth"
CLIENT_ID, SECRET = "kontor-client-id", "kontor-client-secret"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
OAUTH_JSON = "application/json;charset=UTF-8"


def examples(name: str) -> dict:
    return json.loads(fixture_path("allegro", name).read_text("utf-8"))


def auth_body(name: str) -> dict:
    return examples("auth.examples.json")[name]["body"]


def error_body(name: str) -> dict:
    return examples("errors.examples.json")[name]["body"]


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def auth() -> AllegroAuth:
    return AllegroAuth(CLIENT_ID, SECRET, auth_url=AUTH)


def test_start_device_flow_authenticates_the_application_and_returns_the_codes(mocked):
    mocked.post(f"{AUTH}/device", json=auth_body("device_code_response"), content_type=OAUTH_JSON)

    started = auth().start_device_flow()

    assert started == DeviceAuthorization("6E....", "l...", "https://allegro.pl/skojarz-aplikacje",
                                          "https://allegro.pl/skojarz-aplikacje?code=l....", 5, 3600)
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body) == {"client_id": [CLIENT_ID]}


def test_start_device_flow_with_a_wrong_secret_raises_authentication_failed(mocked):
    mocked.post(f"{AUTH}/device", status=401, content_type=OAUTH_JSON,
                json={"error": "invalid_client", "error_description": "Bad client credentials"})

    with pytest.raises(AuthenticationFailed, match="Bad client credentials"):
        auth().start_device_flow()


def test_polling_before_the_seller_confirms_is_pending(mocked):
    mocked.post(f"{AUTH}/token", status=400, json=error_body("device_flow_pending_400"), content_type=OAUTH_JSON)

    with pytest.raises(AuthorizationPending) as raised:
        auth().poll_device_token("6E....", NOW)

    assert raised.value.slow_down is False
    assert query(mocked.calls[0]) == {"grant_type": [DEVICE_GRANT], "device_code": ["6E...."]}


def test_polling_too_often_asks_to_slow_down(mocked):
    mocked.post(f"{AUTH}/token", status=400, json={"error": "slow_down"}, content_type=OAUTH_JSON)

    with pytest.raises(AuthorizationPending) as raised:
        auth().poll_device_token("6E....", NOW)

    assert raised.value.slow_down is True


def test_a_declined_connection_raises_authentication_failed(mocked):
    mocked.post(f"{AUTH}/token", status=400, json={"error": "access_denied"}, content_type=OAUTH_JSON)

    with pytest.raises(AuthenticationFailed, match="declined"):
        auth().poll_device_token("6E....", NOW)


def test_a_confirmed_device_code_gives_tokens_valid_for_expires_in(mocked):
    mocked.post(f"{AUTH}/token", json=auth_body("token_response"), content_type=OAUTH_JSON)

    pair = auth().poll_device_token("6E....", NOW)

    assert (pair.access_token, pair.refresh_token) == ("eyJ...dUA", "eyJ...SDA")
    assert pair.expires_at == NOW + timedelta(seconds=43199)


def test_refresh_trades_the_refresh_token_for_a_new_pair(mocked):
    mocked.post(f"{AUTH}/token", json=auth_body("token_response"), content_type=OAUTH_JSON)

    pair = auth().refresh("eyJ...old", NOW)

    assert (pair.access_token, pair.refresh_token) == ("eyJ...dUA", "eyJ...SDA")
    assert query(mocked.calls[0]) == {"grant_type": ["refresh_token"], "refresh_token": ["eyJ...old"]}
    assert mocked.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_a_reused_refresh_token_means_reconnect_needed_and_the_message_hides_it(mocked):
    mocked.post(f"{AUTH}/token", status=400, json=error_body("auth_refresh_reused_or_invalid_400"),
                content_type=OAUTH_JSON)

    with pytest.raises(ReconnectNeeded, match="connect the account again") as raised:
        auth().refresh("eyJhb.....", NOW)

    assert isinstance(raised.value, AuthenticationFailed) and raised.value.retryable is False
    assert "eyJ" not in raised.value.message
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("failure", [{"status": 503}, {"body": requests.ConnectionError("refused")}])
def test_refresh_failures_on_allegros_side_are_transient(mocked, failure):
    mocked.post(f"{AUTH}/token", **failure)

    with pytest.raises(TransientPlatformError):
        auth().refresh("eyJ...old", NOW)

    assert len(mocked.calls) == 1  # never retried here: the refresh token may already be spent
