"""PrestaShopWebservice against recorded PrestaShop bodies served by `responses` (no network)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from defusedxml import ElementTree
from responses import matchers

from app.integrations.base import AuthenticationFailed, PlatformError, PlatformStateDTO, TransientPlatformError
from app.integrations.prestashop.webservice import PrestaShopWebservice
from tests.fakes import fixture_path
from tests.fakes.prestashop import error_xml

SHOP = "https://shop.example"
API = f"{SHOP}/api"
KEY = "KONTORTESTKEY0123456789ABCDEFGHI"
XML = "text/xml;charset=utf-8"

# Two states in PrestaShop's display=full list shape (multilingual names as in the recorded
# GET /api/order_states/2), listed out of order, plus a deleted one.
STATES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
<order_states>
<order_state>
	<id><![CDATA[4]]></id>
	<color><![CDATA[#01B887]]></color>
	<deleted><![CDATA[0]]></deleted>
	<name><language id="1" xlink:href="https://shop.example/api/languages/1"><![CDATA[Shipped]]></language><language id="2" xlink:href="https://shop.example/api/languages/2"><![CDATA[Wysłane]]></language></name>
</order_state>
<order_state>
	<id><![CDATA[2]]></id>
	<color><![CDATA[#3498D8]]></color>
	<deleted><![CDATA[0]]></deleted>
	<name><language id="1" xlink:href="https://shop.example/api/languages/1"><![CDATA[Payment accepted]]></language><language id="2" xlink:href="https://shop.example/api/languages/2"><![CDATA[Płatność zaakceptowana]]></language></name>
</order_state>
<order_state>
	<id><![CDATA[14]]></id>
	<color><![CDATA[#E74C3C]]></color>
	<deleted><![CDATA[1]]></deleted>
	<name><language id="1" xlink:href="https://shop.example/api/languages/1"><![CDATA[Old state]]></language><language id="2" xlink:href="https://shop.example/api/languages/2"><![CDATA[Stary status]]></language></name>
</order_state>
</order_states>
</prestashop>
"""


def recorded(name: str) -> str:
    return fixture_path("prestashop", "webservice", name).read_text("utf-8")


def shop(**options) -> PrestaShopWebservice:
    return PrestaShopWebservice(SHOP, KEY, **options)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def sent_history(call) -> dict[str, str]:
    entity = ElementTree.fromstring(call.request.body).find("order_history")
    return {child.tag: (child.text or "") for child in entity}


# --- success ---------------------------------------------------------------------------------

def test_check_connection_uses_the_key_as_basic_user_and_reports_the_version(mocked):
    mocked.get(f"{API}/order_states", body=recorded("order_state_get_2_response.ps16123-recorded.xml"),
               content_type=XML, headers={"PSWS-Version": "1.6.1.23"},
               match=[matchers.query_param_matcher({"display": "[id]", "limit": "1"})])

    message = shop().check_connection()

    assert "1.6.1.23" in message
    header = mocked.calls[0].request.headers["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"{KEY}:"


def test_every_call_carries_kontor_timeouts(mocked):
    mocked.get(f"{API}/order_states", body=STATES_XML, content_type=XML)

    shop().fetch_states()

    assert mocked.calls[0].request.req_kwargs["timeout"] == (10, 30)


@pytest.mark.parametrize(("language_id", "names"), [
    (1, ["Payment accepted", "Shipped"]),
    (2, ["Płatność zaakceptowana", "Wysłane"]),
    ("2", ["Płatność zaakceptowana", "Wysłane"]),
])
def test_fetch_states_names_states_in_the_configured_language(mocked, language_id, names):
    mocked.get(f"{API}/order_states", body=STATES_XML, content_type=XML,
               match=[matchers.query_param_matcher({"display": "full"})])

    states = shop(language_id=language_id).fetch_states()

    assert [state.name for state in states] == names


def test_fetch_states_sorts_by_id_keeps_colours_and_leaves_deleted_states_out(mocked):
    mocked.get(f"{API}/order_states", body=STATES_XML, content_type=XML)

    states = shop().fetch_states()

    assert states == [PlatformStateDTO("2", "Payment accepted", "#3498D8"), PlatformStateDTO("4", "Shipped", "#01B887")]


def test_fetch_states_falls_back_to_the_first_language_the_shop_sends(mocked):
    mocked.get(f"{API}/order_states", body=STATES_XML, content_type=XML)

    assert shop(language_id=7).fetch_states()[0].name == "Payment accepted"


def test_fetch_states_reads_a_recorded_prestashop_body(mocked):
    mocked.get(f"{API}/order_states", body=recorded("order_state_get_2_response.ps16123-recorded.xml"),
               content_type=XML)

    assert shop().fetch_states() == [PlatformStateDTO("2", "Payment accepted", "#32CD32")]


def test_fetch_order_state_reads_current_state_of_a_recorded_order(mocked):
    mocked.get(f"{API}/orders/5", body=recorded("order_get_5_response.ps16123-recorded.xml"), content_type=XML)

    state = shop().fetch_order_state("5")

    assert (state.state_id, state.revision) == ("10", None)


def test_set_order_state_posts_an_order_history_without_email_by_default(mocked):
    mocked.post(f"{API}/order_histories", status=201, body="<prestashop/>", content_type=XML)

    shop().set_order_state("5", "4")

    request = mocked.calls[0].request
    assert sent_history(mocked.calls[0]) == {"id_order": "5", "id_order_state": "4"}
    assert parse_qs(urlsplit(request.url).query) == {}
    assert request.headers["Content-Type"] == "application/xml"


def test_set_order_state_sends_only_fields_of_prestashops_order_history_schema(mocked):
    mocked.post(f"{API}/order_histories", status=201, body="<prestashop/>", content_type=XML)
    blank = ElementTree.fromstring(recorded("order_histories_post_blank_schema.docs8x.xml")).find("order_history")

    shop().set_order_state("5", "4")

    assert set(sent_history(mocked.calls[0])) <= {child.tag for child in blank}


def test_set_order_state_asks_for_the_customer_email_when_switched_on(mocked):
    mocked.post(f"{API}/order_histories", status=201, body="<prestashop/>", content_type=XML,
                match=[matchers.query_param_matcher({"sendemail": "1"})])

    shop(send_email=True).set_order_state("5", "4")

    assert sent_history(mocked.calls[0]) == {"id_order": "5", "id_order_state": "4"}


# --- refusals --------------------------------------------------------------------------------

def test_errors_xml_becomes_the_error_message(mocked):
    mocked.get(f"{API}/order_states", status=400, body=recorded("error_response.docs8x.xml"), content_type=XML)

    with pytest.raises(PlatformError) as raised:
        shop().fetch_states()

    error = raised.value
    assert "You have to set both the 'language' and 'query' parameters to get a result (code 100)" in error.message
    assert (error.status, error.retryable, len(mocked.calls)) == (400, False, 1)


def test_several_errors_are_all_reported(mocked):
    body = error_xml([(87, "Id(s) not exists: 99"), (131, "This Order (99) does not exists on this shop")])
    mocked.get(f"{API}/orders/99", status=404, body=body, content_type=XML)

    with pytest.raises(PlatformError, match=r"Id\(s\) not exists: 99 \(code 87\); This Order"):
        shop().fetch_order_state("99")


def test_a_refused_key_raises_authentication_failed(mocked):
    body = error_xml([(20, "Authentification key is not active"), (21, "No permission for this authentication key")])
    mocked.get(f"{API}/order_states", status=401, body=body, content_type=XML)

    with pytest.raises(AuthenticationFailed) as raised:
        shop().check_connection()

    assert (raised.value.status, raised.value.retryable, len(mocked.calls)) == (401, False, 1)


def test_an_error_page_that_is_not_xml_falls_back_to_the_reason(mocked):
    mocked.get(f"{API}/orders/5", status=403, body="<html><body>Forbidden</body></html>", content_type="text/html")

    with pytest.raises(PlatformError, match="HTTP 403: Forbidden"):
        shop().fetch_order_state("5")


def test_a_success_that_is_not_webservice_xml_is_an_error(mocked):
    mocked.get(f"{API}/orders/5", body="<!doctype html><p>Maintenance", content_type="text/html")

    with pytest.raises(PlatformError, match="not webservice XML"):
        shop().fetch_order_state("5")


# --- transient failures and retries ----------------------------------------------------------

def test_429_waits_as_long_as_retry_after_asks_then_succeeds(mocked, retry_sleeps):
    mocked.get(f"{API}/orders/5", status=429, headers={"Retry-After": "7"})
    mocked.get(f"{API}/orders/5", body=recorded("order_get_5_response.ps16123-recorded.xml"), content_type=XML)

    assert shop().fetch_order_state("5").state_id == "10"
    assert retry_sleeps == [7.0]


def test_retry_after_is_capped_at_a_minute(mocked, retry_sleeps):
    mocked.get(f"{API}/orders/5", status=503, headers={"Retry-After": "3600"})
    mocked.get(f"{API}/orders/5", body=recorded("order_get_5_response.ps16123-recorded.xml"), content_type=XML)

    shop().fetch_order_state("5")

    assert retry_sleeps == [60.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_tried_three_times_in_all_then_transient(mocked, retry_sleeps, status):
    mocked.get(f"{API}/order_states", status=status, body="<html>down</html>", content_type="text/html")

    with pytest.raises(TransientPlatformError) as raised:
        shop().fetch_states()

    assert (raised.value.status, raised.value.retryable) == (status, True)
    assert len(mocked.calls) == 3
    assert retry_sleeps == [1.0, 2.0]


@pytest.mark.parametrize("failure", [requests.ConnectionError("connection refused"),
                                     requests.ConnectTimeout("connect timed out"),
                                     requests.ReadTimeout("read timed out")])
def test_connection_errors_and_timeouts_become_transient_after_three_tries(mocked, retry_sleeps, failure):
    mocked.get(f"{API}/order_states", body=failure)

    with pytest.raises(TransientPlatformError) as raised:
        shop().check_connection()

    assert raised.value.retryable
    assert len(mocked.calls) == 3
    assert retry_sleeps == [1.0, 2.0]


# --- a write is never repeated blindly ---------------------------------------------------------

@pytest.mark.parametrize("lost_answer", [requests.ReadTimeout("read timed out"), 500])
def test_set_order_state_posts_once_when_the_answer_is_lost(mocked, retry_sleeps, lost_answer):
    if isinstance(lost_answer, Exception):
        mocked.post(f"{API}/order_histories", body=lost_answer)
    else:
        mocked.post(f"{API}/order_histories", status=lost_answer, body=error_xml([(2, "[PHP Warning #2] mail()")]),
                    content_type=XML)

    with pytest.raises(TransientPlatformError):
        shop(send_email=True).set_order_state("5", "4")

    assert len(mocked.calls) == 1


def test_set_order_state_does_not_pass_a_redirect_for_success(mocked):
    # e.g. the shop URL is saved without www. and the shop redirects there
    moved = "https://www.shop.example/api/order_histories"
    mocked.post(f"{API}/order_histories", status=301, headers={"Location": moved})
    mocked.get(moved, content_type=XML,
               body='<?xml version="1.0" encoding="UTF-8"?>\n<prestashop><order_histories/></prestashop>')
    mocked.assert_all_requests_are_fired = False

    with pytest.raises(PlatformError):
        shop().set_order_state("5", "4")

    assert [call.request.method for call in mocked.calls] == ["POST"]
