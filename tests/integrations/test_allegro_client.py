"""AllegroClient against Allegro's documented bodies served by `responses` (no network).

Every request the client sends is checked against the official OpenAPI spec as it arrives
(allegro_spec), so a request the spec does not allow fails the test where it is made.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from app.integrations.allegro.client import FULFILLMENT_STATES, MEDIA_TYPE, AllegroClient
from app.integrations.base import (
    AuthenticationFailed,
    PlatformError,
    RevisionConflict,
    TransientPlatformError,
)
from tests.fakes import allegro_spec, fixture_path

API = "https://api.allegro.pl"
TOKEN = "eyJ.test-access-token"
ORDER = "29738e61-7f6a-11e8-ac45-09db60ede9d6"
FULFILLMENT = f"/order/checkout-forms/{ORDER}/fulfillment"


def example(name: str) -> dict:
    return json.loads(fixture_path("allegro", name).read_text("utf-8"))


def real_error(name: str) -> dict:
    return example("errors.examples.json")[name]["body"]


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def reply(mock: responses.RequestsMock, method: str, path: str, *, status: int = 200, body: dict | None = None,
          headers: dict | None = None, error: Exception | None = None) -> None:
    """Register one answer; the request that gets it must satisfy the Allegro spec."""

    def answer(request):
        allegro_spec.validate_http_request(request.method, request.url, request.body, request.headers)
        if error is not None:
            raise error
        return status, {"Content-Type": MEDIA_TYPE, **(headers or {})}, "" if body is None else json.dumps(body)

    mock.add_callback(method, f"{API}{path}", callback=answer)


def client() -> AllegroClient:
    return AllegroClient(TOKEN, api_url=API)


# --- success ---------------------------------------------------------------------------------

def test_check_connection_names_the_account_and_sends_the_token(mocked):
    reply(mocked, "GET", "/me", body={"id": "46968690", "login": "Client:46968690"})

    assert client().check_connection() == "Connected to Allegro as Client:46968690."
    headers = mocked.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == MEDIA_TYPE
    assert mocked.calls[0].request.req_kwargs["timeout"] == (10, 30)


def test_fetch_order_state_reads_fulfillment_status_and_revision(mocked):
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", body=example("checkout-form.example.json"))

    state = client().fetch_order_state(ORDER)

    assert (state.state_id, state.revision) == ("SENT", "819b5836")


def test_a_checkout_form_without_fulfillment_counts_as_new(mocked):
    body = {key: value for key, value in example("checkout-form.example.json").items() if key != "fulfillment"}
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", body=body)

    assert client().fetch_order_state(ORDER).state_id == "NEW"


def test_fetch_states_are_the_specs_fulfillment_statuses_with_returned_read_only():
    spec_enum = allegro_spec.load_spec()["components"]["schemas"]["CheckoutFormFulfillmentStatus"]["enum"]

    states = client().fetch_states()

    assert [state.external_id for state in states] == spec_enum
    assert [state.external_id for state in states if state.read_only] == ["RETURNED"]
    assert states == list(FULFILLMENT_STATES)


def test_set_order_state_puts_the_status_with_the_revision(mocked):
    reply(mocked, "PUT", FULFILLMENT, status=204)

    client().set_order_state(ORDER, "READY_FOR_SHIPMENT", "819b5836")

    request = mocked.calls[0].request
    assert request.url == f"{API}{FULFILLMENT}?checkoutForm.revision=819b5836"
    assert request.headers["Content-Type"] == MEDIA_TYPE
    assert json.loads(request.body) == {"status": "READY_FOR_SHIPMENT"}


def test_set_order_state_without_a_revision_sends_no_revision(mocked):
    reply(mocked, "PUT", FULFILLMENT, status=204)

    client().set_order_state(ORDER, "SENT")

    assert "revision" not in mocked.calls[0].request.url


@pytest.mark.parametrize("state", [state.external_id for state in FULFILLMENT_STATES if not state.read_only])
def test_every_settable_state_makes_a_request_the_spec_allows(mocked, state):
    reply(mocked, "PUT", FULFILLMENT, status=204)

    client().set_order_state(ORDER, state, "819b5836")


# --- refusals --------------------------------------------------------------------------------

def test_401_raises_authentication_failed_with_allegros_description(mocked):
    reply(mocked, "GET", "/me", status=401, body=real_error("auth_invalid_token_401"))

    with pytest.raises(AuthenticationFailed, match="Cannot convert access token to JSON") as raised:
        client().check_connection()

    assert (raised.value.status, raised.value.retryable, len(mocked.calls)) == (401, False, 1)


def test_409_raises_a_retryable_revision_conflict_without_resending_the_same_revision(mocked):
    body = {"errors": [{"code": "ConflictException", "message": "Provided revision is outdated", "details": None,
                        "path": None, "userMessage": "The order has changed in the meantime."}]}
    reply(mocked, "PUT", FULFILLMENT, status=409, body=body)

    with pytest.raises(RevisionConflict, match="The order has changed in the meantime.") as raised:
        client().set_order_state(ORDER, "SENT", "00000000")

    # Retryable (the push re-reads the revision and tries again), but never resent as it was.
    assert (raised.value.status, raised.value.retryable, len(mocked.calls)) == (409, True, 1)


def test_422_carries_allegros_user_message_and_is_not_retried(mocked):
    body = {"errors": [{"code": "SellerOrdersStoreUnprocessableEntityException", "message": "Invalid status",
                        "details": None, "path": FULFILLMENT,
                        "userMessage": "The RETURNED status cannot be set by the seller."}]}
    reply(mocked, "PUT", FULFILLMENT, status=422, body=body)

    with pytest.raises(PlatformError) as raised:
        client().set_order_state(ORDER, "RETURNED")

    error = raised.value
    assert error.message == "Allegro answered HTTP 422: The RETURNED status cannot be set by the seller."
    assert (type(error), error.status, error.retryable, len(mocked.calls)) == (PlatformError, 422, False, 1)


@pytest.mark.parametrize(("name", "status", "expected"), [
    ("fulfillment_order_operation_limit", 422, "SellerOrdersStoreUnprocessableEntityException"),
    ("fulfillment_put_generic_error", 400, "An error has occurred"),
    ("rest_404_not_found", 404, "Function not available. Contact the application author."),
])
def test_real_error_bodies_give_the_best_message_there_is(mocked, name, status, expected):
    reply(mocked, "PUT", FULFILLMENT, status=status, body=real_error(name))

    with pytest.raises(PlatformError) as raised:
        client().set_order_state(ORDER, "SENT")

    assert raised.value.message == f"Allegro answered HTTP {status}: {expected}"


# --- transient failures and retries ----------------------------------------------------------

def test_429_waits_as_long_as_retry_after_asks_then_succeeds(mocked, retry_sleeps):
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", status=429, headers={"Retry-After": "3"})
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", body=example("checkout-form.example.json"))

    client().fetch_order_state(ORDER)

    assert retry_sleeps == [3.0]
    assert len(mocked.calls) == 2


def test_429_without_retry_after_backs_off_one_then_two_seconds(mocked, retry_sleeps):
    for _ in range(3):
        reply(mocked, "GET", "/me", status=429)

    with pytest.raises(TransientPlatformError) as raised:
        client().check_connection()

    assert (raised.value.status, raised.value.retry_after) == (429, None)
    assert retry_sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_tried_three_times_in_all_then_transient(mocked, retry_sleeps, status):
    for _ in range(3):
        reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", status=status)

    with pytest.raises(TransientPlatformError) as raised:
        client().fetch_order_state(ORDER)

    assert (raised.value.status, raised.value.retryable) == (status, True)
    assert len(mocked.calls) == 3
    assert retry_sleeps == [1.0, 2.0]


def test_a_5xx_then_success_returns_the_result(mocked, retry_sleeps):
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", status=503)
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", body=example("checkout-form.example.json"))

    assert client().fetch_order_state(ORDER).state_id == "SENT"
    assert retry_sleeps == [1.0]


@pytest.mark.parametrize("failure", [requests.ConnectionError("connection refused"),
                                     requests.ConnectTimeout("connect timed out"),
                                     requests.ReadTimeout("read timed out")])
def test_connection_errors_and_timeouts_become_transient_after_three_tries(mocked, retry_sleeps, failure):
    for _ in range(3):
        reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", error=failure)

    with pytest.raises(TransientPlatformError) as raised:
        client().fetch_order_state(ORDER)

    assert raised.value.retryable
    assert len(mocked.calls) == 3
    assert retry_sleeps == [1.0, 2.0]


@pytest.mark.parametrize("failure", [requests.ConnectionError("connection refused"),
                                     requests.ReadTimeout("read timed out")])
def test_a_status_write_is_sent_once_the_push_retries_after_reading_again(mocked, retry_sleeps, failure):
    reply(mocked, "PUT", FULFILLMENT, error=failure)

    with pytest.raises(TransientPlatformError) as raised:
        client().set_order_state(ORDER, "SENT", "819b5836")

    assert raised.value.retryable and len(mocked.calls) == 1 and retry_sleeps == []
