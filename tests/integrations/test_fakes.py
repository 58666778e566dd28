"""The test doubles behave: the fakes through the real clients, fault injection, the spec checker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from app.core.types import utcnow
from app.integrations.allegro.auth import AllegroAuth, AuthorizationPending
from app.integrations.allegro.client import MEDIA_TYPE, AllegroClient
from app.integrations.base import AuthenticationFailed, PlatformError, RevisionConflict, TransientPlatformError
from app.integrations.prestashop.webservice import PrestaShopWebservice
from tests.fakes import allegro_spec
from tests.fakes.allegro import FakeAllegro
from tests.fakes.prestashop import FakePrestaShop

ROOT = Path(__file__).resolve().parents[2]


def shop(fake: FakePrestaShop, **options) -> PrestaShopWebservice:
    return PrestaShopWebservice(fake.url, fake.api_key, **options)


def allegro(fake: FakeAllegro, token: str | None = None) -> AllegroClient:
    return AllegroClient(token or fake.issue_tokens()[0], api_url=fake.api_url)


def allegro_auth(fake: FakeAllegro) -> AllegroAuth:
    return AllegroAuth(fake.client_id, fake.client_secret, auth_url=fake.auth_url)


# --- FakePrestaShop --------------------------------------------------------------------------

def test_fake_prestashop_serves_the_13_default_states_in_each_language(fake_prestashop):
    english = shop(fake_prestashop, language_id=1).fetch_states()
    polish = shop(fake_prestashop, language_id=2).fetch_states()

    assert [state.external_id for state in english] == [str(i) for i in range(1, 14)]
    assert (english[3].name, english[3].colour) == ("Shipped", "#01B887")
    assert (polish[3].name, polish[3].colour) == ("Wysłane", "#01B887")


def test_fake_prestashop_leaves_deleted_states_to_the_client(fake_prestashop):
    fake_prestashop.add_state(14, {"1": "Old", "2": "Stary"}, deleted=True)

    assert "14" not in [state.external_id for state in shop(fake_prestashop).fetch_states()]


def test_fake_prestashop_sets_current_state_after_an_order_history_post(fake_prestashop):
    order = fake_prestashop.add_order(5, state=10)
    client = shop(fake_prestashop)

    client.set_order_state(order, "4")

    assert client.fetch_order_state(order).state_id == "4"
    assert fake_prestashop.orders[order] == "4"
    posts = [(post["order_id"], post["state_id"], post["sendemail"]) for post in fake_prestashop.history_posts]
    assert posts == [("5", "4", False)]
    assert fake_prestashop.emails == []


def test_fake_prestashop_mails_the_customer_only_when_asked(fake_prestashop):
    order = fake_prestashop.add_order(state=10)

    shop(fake_prestashop, send_email=True).set_order_state(order, "4")

    assert fake_prestashop.history_posts[0]["sendemail"] is True
    assert fake_prestashop.emails == [{"order_id": order, "state_id": "4", "template": "shipped"}]


def test_fake_prestashop_check_connection_reports_its_version(fake_prestashop):
    assert "PrestaShop 8.1.7" in shop(fake_prestashop).check_connection()
    assert fake_prestashop.requests_log[-1].query == {"display": ["[id]"], "limit": ["1"]}


@pytest.mark.parametrize(("call", "expected"), [
    (lambda client: client.fetch_order_state("404"), r"HTTP 404: Id\(s\) not exists: 404 \(code 87\)"),
    (lambda client: client.set_order_state("404", "4"), r"HTTP 404: Id\(s\) not exists: 404 \(code 87\)"),
    (lambda client: client.set_order_state("1", "99"), r"HTTP 400: Validation error: .*id_order_state is not valid"),
])
def test_fake_prestashop_refuses_unknown_orders_and_states_in_words(fake_prestashop, call, expected):
    fake_prestashop.add_order(1)

    with pytest.raises(PlatformError, match=expected):
        call(shop(fake_prestashop))

    assert fake_prestashop.history_posts == []


@pytest.mark.parametrize("key", ["KONTORWRONGKEY0123456789ABCDEFGH", "short", ""])
def test_fake_prestashop_refuses_a_wrong_key(fake_prestashop, key):
    with pytest.raises(AuthenticationFailed):
        PrestaShopWebservice(fake_prestashop.url, key).check_connection()

    response = requests.get(f"{fake_prestashop.url}/api/order_states", auth=(key, ""), timeout=5)
    assert "WWW-Authenticate" in response.headers
    assert "PSWS-Version" not in response.headers
    assert "<errors>" in response.text


# --- FakeAllegro -----------------------------------------------------------------------------

def test_fake_allegro_refuses_a_reused_refresh_token(fake_allegro):
    _, refresh = fake_allegro.issue_tokens()
    auth = allegro_auth(fake_allegro)

    fresh = auth.refresh(refresh, utcnow())
    with pytest.raises(AuthenticationFailed, match="invalid_grant"):
        auth.refresh(refresh, utcnow())

    assert fake_allegro.refresh_count == 1
    assert auth.refresh(fresh.refresh_token, utcnow()).refresh_token not in (refresh, fresh.refresh_token)
    assert fake_allegro.refresh_count == 2


def test_fake_allegro_takes_a_just_used_refresh_token_again_within_its_grace(fake_allegro):
    fake_allegro.refresh_grace = 30
    _, refresh = fake_allegro.issue_tokens()
    auth = allegro_auth(fake_allegro)

    first = auth.refresh(refresh, utcnow())  # as if its answer had been lost
    second = auth.refresh(refresh, utcnow())

    assert second.access_token != first.access_token and fake_allegro.refresh_count == 2
    with pytest.raises(AuthenticationFailed, match="refused the access token"):
        allegro(fake_allegro, first.access_token).check_connection()  # only the newest pair works
    assert "Kontor_Test_Seller" in allegro(fake_allegro, second.access_token).check_connection()


def test_fake_allegro_device_flow_gives_working_tokens_once_confirmed(fake_allegro):
    auth = allegro_auth(fake_allegro)
    started = auth.start_device_flow()

    with pytest.raises(AuthorizationPending):
        auth.poll_device_token(started.device_code, utcnow())
    fake_allegro.confirm_device(started.user_code)
    pair = auth.poll_device_token(started.device_code, utcnow())

    assert allegro(fake_allegro, pair.access_token).check_connection() == "Connected to Allegro as Kontor_Test_Seller."
    with pytest.raises(AuthenticationFailed):  # a device code is good for one token pair
        auth.poll_device_token(started.device_code, utcnow())


def test_fake_allegro_device_flow_can_be_declined(fake_allegro):
    auth = allegro_auth(fake_allegro)
    started = auth.start_device_flow()

    fake_allegro.deny_device(started.user_code)

    with pytest.raises(AuthenticationFailed, match="declined"):
        auth.poll_device_token(started.device_code, utcnow())


def test_fake_allegro_refuses_a_wrong_client_secret(fake_allegro):
    with pytest.raises(AuthenticationFailed, match="Bad client credentials"):
        AllegroAuth(fake_allegro.client_id, "wrong", auth_url=fake_allegro.auth_url).start_device_flow()


def test_fake_allegro_refuses_expired_access_tokens_until_refreshed(fake_allegro):
    access, refresh = fake_allegro.issue_tokens()
    fake_allegro.expire_access_tokens()

    with pytest.raises(AuthenticationFailed, match="Access token expired"):
        allegro(fake_allegro, access).check_connection()
    pair = allegro_auth(fake_allegro).refresh(refresh, utcnow())

    assert "Kontor_Test_Seller" in allegro(fake_allegro, pair.access_token).check_connection()


def test_fake_allegro_sets_the_status_and_bumps_the_revision(fake_allegro):
    order = fake_allegro.add_order(status="NEW", revision="819b5836")
    client = allegro(fake_allegro)

    client.set_order_state(order, "PROCESSING", "819b5836")
    after = client.fetch_order_state(order)

    assert after.state_id == "PROCESSING"
    assert after.revision != "819b5836"
    assert fake_allegro.fulfillment_puts[0] | {"at": None} == {
        "order_id": order, "status": "PROCESSING", "revision": "819b5836", "new_revision": after.revision,
        "at": None}
    with pytest.raises(RevisionConflict):
        client.set_order_state(order, "SENT", "819b5836")


def test_fake_allegro_refuses_returned_with_a_user_message(fake_allegro):
    order = fake_allegro.add_order(status="SENT")

    with pytest.raises(PlatformError, match="HTTP 422: The RETURNED status is set by Allegro only.") as raised:
        allegro(fake_allegro).set_order_state(order, "RETURNED")

    assert not raised.value.retryable
    assert fake_allegro.orders[order]["status"] == "SENT"
    assert fake_allegro.spec_violations == []


def test_fake_allegro_answers_requests_the_spec_forbids_with_422_and_records_them(fake_allegro):
    order = fake_allegro.add_order()

    with pytest.raises(PlatformError, match="HTTP 422"):
        allegro(fake_allegro).set_order_state(order, "sent")

    assert fake_allegro.spec_violations[0]["violations"] == [
        "status: 'sent' is not one of ['NEW', 'PROCESSING', 'READY_FOR_SHIPMENT', 'READY_FOR_PICKUP', 'SENT', "
        "'PICKED_UP', 'CANCELLED', 'SUSPENDED', 'RETURNED']"]
    assert fake_allegro.orders[order]["status"] == "NEW"


@pytest.mark.parametrize(("headers", "status"), [
    ({"Content-Type": "application/json", "Accept": MEDIA_TYPE}, 415),
    ({"Content-Type": MEDIA_TYPE, "Accept": "application/json"}, 406),
])
def test_fake_allegro_insists_on_its_media_type(fake_allegro, headers, status):
    order = fake_allegro.add_order()
    access, _ = fake_allegro.issue_tokens()

    response = requests.put(f"{fake_allegro.api_url}/order/checkout-forms/{order}/fulfillment",
                            data=json.dumps({"status": "SENT"}), timeout=5,
                            headers={"Authorization": f"Bearer {access}", **headers})

    assert response.status_code == status
    assert response.json()["errors"][0]["userMessage"]
    assert len(fake_allegro.spec_violations) == 1


def test_fake_allegro_requires_a_token(fake_allegro):
    response = requests.get(f"{fake_allegro.api_url}/me", headers={"Accept": MEDIA_TYPE}, timeout=5)

    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")


def test_fake_allegro_answers_in_the_shapes_the_spec_documents(fake_allegro):
    order = fake_allegro.add_order()
    access, _ = fake_allegro.issue_tokens()
    headers = {"Authorization": f"Bearer {access}", "Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
    base = fake_allegro.api_url

    me = requests.get(f"{base}/me", headers=headers, timeout=5)
    form = requests.get(f"{base}/order/checkout-forms/{order}", headers=headers, timeout=5)
    conflict = requests.put(f"{base}/order/checkout-forms/{order}/fulfillment?checkoutForm.revision=0",
                            json={"status": "SENT"}, headers=headers, timeout=5)

    assert allegro_spec.response_violations("GET", "/me", 200, me.json()) == []
    assert allegro_spec.response_violations("GET", "/order/checkout-forms/{id}", 200, form.json()) == []
    assert allegro_spec.response_violations("PUT", "/order/checkout-forms/{id}/fulfillment", 409,
                                            conflict.json()) == []
    assert form.headers["Content-Type"] == MEDIA_TYPE


# --- fault injection -------------------------------------------------------------------------

def test_injected_503s_are_retried_by_the_client(fake_prestashop, retry_sleeps):
    order = fake_prestashop.add_order(state=10)
    fake_prestashop.fail_next(2, status=503, on="GET /api/orders/")

    assert shop(fake_prestashop).fetch_order_state(order).state_id == "10"
    assert retry_sleeps == [1.0, 2.0]
    assert [request.line for request in fake_prestashop.requests_log] == [f"GET /api/orders/{order}"] * 3


def test_injected_429_carries_retry_after(fake_allegro, retry_sleeps):
    fake_allegro.fail_next(1, status=429, retry_after=0, on="GET /me")

    allegro(fake_allegro).check_connection()

    assert retry_sleeps == [0.0]


def test_a_dropped_connection_is_a_transient_failure(fake_allegro, retry_sleeps):
    fake_allegro.drop_next(3, on="/fulfillment")
    order = fake_allegro.add_order()

    with pytest.raises(TransientPlatformError, match="Could not connect"):
        allegro(fake_allegro).set_order_state(order, "SENT")

    assert fake_allegro.fulfillment_puts == []


def test_a_lost_answer_after_the_change_is_applied_and_resending_it_is_a_conflict(fake_allegro, retry_sleeps):
    # The fake applies the PUT, then drops the connection; the client does not resend it itself,
    # and a resend with the old revision would be refused.
    order = fake_allegro.add_order(status="NEW")
    client = allegro(fake_allegro)
    revision = client.fetch_order_state(order).revision
    fake_allegro.drop_next(1, on="PUT", after=True)

    with pytest.raises(TransientPlatformError):
        client.set_order_state(order, "SENT", revision)
    assert fake_allegro.orders[order]["status"] == "SENT"
    with pytest.raises(RevisionConflict):
        client.set_order_state(order, "SENT", revision)


def test_a_delayed_answer_runs_into_the_read_timeout(fake_prestashop, retry_sleeps, monkeypatch):
    monkeypatch.setattr("app.integrations.base.TIMEOUTS", (2, 0.2))
    fake_prestashop.delay_next(3, seconds=0.5)

    with pytest.raises(TransientPlatformError, match="did not answer in time"):
        shop(fake_prestashop).check_connection()


def test_random_failures_are_seeded_and_limited_to_the_chosen_endpoints():
    outcomes = []
    for _ in range(2):
        with FakePrestaShop(seed=7, fail_rate=0.5, fail_on="order_states") as fake:
            auth = (fake.api_key, "")
            outcomes.append([requests.get(f"{fake.url}/api/order_states", auth=auth, timeout=5).status_code
                             for _ in range(12)])
            assert requests.get(f"{fake.url}/api/orders", auth=auth, timeout=5).status_code == 200

    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {200, 503}


def test_latency_slows_every_answer():
    with FakeAllegro(latency=0.05) as fake:
        started = time.monotonic()
        requests.post(f"{fake.auth_url}/device", auth=(fake.client_id, fake.client_secret), timeout=5)

        assert time.monotonic() - started >= 0.05


def test_the_fake_serves_concurrent_clients_consistently(fake_prestashop):
    orders = [fake_prestashop.add_order(state=10) for _ in range(20)]

    threads = [threading.Thread(target=shop(fake_prestashop).set_order_state, args=(order, "2")) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with fake_prestashop.lock:
        assert sorted(post["id"] for post in fake_prestashop.history_posts) == list(range(1, 21))
        assert set(fake_prestashop.orders.values()) == {"2"}


def test_another_process_and_the_test_share_the_fake(fake_prestashop):
    order = fake_prestashop.add_order(state=10)
    script = ("import sys; from app.integrations.prestashop.webservice import PrestaShopWebservice as W; "
              "W(sys.argv[1], sys.argv[2]).set_order_state(sys.argv[3], '2')")

    subprocess.run([sys.executable, "-c", script, fake_prestashop.url, fake_prestashop.api_key, order],
                   check=True, timeout=60, cwd=ROOT)

    assert fake_prestashop.orders[order] == "2"


def test_a_stopped_fake_refuses_connections(retry_sleeps):
    fake = FakePrestaShop().start()
    url, key = fake.url, fake.api_key
    fake.stop()

    with pytest.raises(TransientPlatformError, match="Could not connect"):
        PrestaShopWebservice(url, key).check_connection()


# --- the spec checker ------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "expected"), [
    (dict(method="PUT", path_template="/order/checkout-forms/{id}/fulfillment", body={"status": "SHIPPED"}),
     "status: 'SHIPPED' is not one of"),
    (dict(method="PUT", path_template="/order/checkout-forms/{id}/fulfillment", body={"status": "SENT"},
          query={"revision": "1"}), "query parameter 'revision' is not declared"),
    (dict(method="PUT", path_template="/order/checkout-forms/{id}/fulfillment", body={"status": "SENT"},
          content_type="application/json"), "Content-Type 'application/json' is not one of"),
    (dict(method="PUT", path_template="/order/checkout-forms/{id}/fulfillment"), "the request body is required"),
    (dict(method="POST", path_template="/order/checkout-forms/{id}/fulfillment", body={}), "no POST on this path"),
    (dict(method="GET", path_template="/order/checkout-forms/{id}/status"), "no such path"),
    (dict(method="GET", path_template="/me", headers={"Accept-Language": "de-DE"}), "'de-DE' is not one of"),
    (dict(method="GET", path_template="/order/checkout-forms", query={"limit": "many"}), "is not of type 'integer'"),
])
def test_the_spec_checker_catches_what_allegro_would_refuse(call, expected):
    with pytest.raises(allegro_spec.SpecViolation, match=expected):
        allegro_spec.validate_request(**call)


def test_the_spec_checker_allows_what_the_client_sends():
    allegro_spec.validate_request("PUT", "/order/checkout-forms/{id}/fulfillment", {"status": "SENT"},
                                  query={"checkoutForm.revision": "819b5836"},
                                  headers={"Accept": MEDIA_TYPE, "Accept-Language": "en-US"})
    assert allegro_spec.find_template("GET", "/order/checkout-forms/29738e61-7f6a-11e8-ac45-09db60ede9d6") == \
        "/order/checkout-forms/{id}"
