"""AllegroClient's tracking-number calls against spec-shaped bodies served by `responses`.

Every request is checked against the official OpenAPI spec as it arrives, and the bodies served
here are checked against the spec's response schemas, so both sides speak what Allegro speaks.
"""

from __future__ import annotations

import json

import pytest
import responses

from app.integrations.base import CarrierDTO, PlatformError, RemoteShipment, TransientPlatformError
from tests.fakes import allegro_spec
from tests.integrations.test_allegro_client import ORDER, client, example, mocked, reply  # noqa: F401

SHIPMENTS = f"/order/checkout-forms/{ORDER}/shipments"
SHIPMENTS_TEMPLATE = "/order/checkout-forms/{id}/shipments"
LISTED = {"shipments": [{"id": "REhMOjEyMzQ1Njc4OTEwUEw=", "waybill": "AD-1239134", "carrierId": "DHL",
                         "lineItems": [{"id": "62ae358b-8f65-4fc4-9c77-bedf604a2e2b"}],
                         "createdAt": "2019-02-18T11:46:48.264Z"},
                        {"id": "T1RIRVI6S1VSSUVSMQ==", "waybill": "KJ-77", "carrierId": "OTHER",
                         "carrierName": "Kurier Jan", "lineItems": [], "createdAt": "2019-02-19T08:00:00.000Z"}]}
CARRIERS = {"carriers": [{"id": "POCZTA_POLSKA", "name": "Poczta Polska"}, {"id": "DHL", "name": "DHL"},
                         {"id": "YUN_EXPRESS", "name": "Yun Express"}, {"id": "OTHER"}]}


def sent_json(mock: responses.RequestsMock, index: int = -1) -> dict:
    return json.loads(mock.calls[index].request.body)


def test_served_bodies_match_the_spec():
    assert allegro_spec.response_violations("GET", SHIPMENTS_TEMPLATE, 200, LISTED) == []
    assert allegro_spec.response_violations("GET", "/order/carriers", 200, CARRIERS) == []


def test_fetch_carriers_lists_allegros_carrier_ids(mocked):
    reply(mocked, "GET", "/order/carriers", body=CARRIERS)

    carriers = client().fetch_carriers()

    assert carriers[:2] == [CarrierDTO("POCZTA_POLSKA", "Poczta Polska"), CarrierDTO("DHL", "DHL")]
    assert carriers[-1] == CarrierDTO("OTHER", "OTHER")


def test_fetch_shipments_reads_every_listed_waybill(mocked):
    reply(mocked, "GET", SHIPMENTS, body=LISTED)

    assert client().fetch_shipments(ORDER) == [RemoteShipment("AD-1239134", "DHL", ""),
                                                RemoteShipment("KJ-77", "OTHER", "Kurier Jan")]


def test_fetch_line_item_ids_reads_the_checkout_form(mocked):
    reply(mocked, "GET", f"/order/checkout-forms/{ORDER}", body=example("checkout-form.example.json"))

    assert client().fetch_line_item_ids(ORDER) == ["62ae358b-8f65-4fc4-9c77-bedf604a2e2b"]


def test_add_shipment_sends_carrier_waybill_and_line_items(mocked):
    created = {**LISTED["shipments"][0], "waybill": "6000123", "carrierId": "DHL"}
    reply(mocked, "POST", SHIPMENTS, status=201, body=created)

    client().add_shipment(ORDER, "DHL", "6000123", carrier_name="DHL Parcel", line_item_ids=["a1", "b2"])

    # carrierName goes only with OTHER: Allegro ignores it otherwise.
    assert sent_json(mocked) == {"carrierId": "DHL", "waybill": "6000123", "lineItems": [{"id": "a1"}, {"id": "b2"}]}
    assert mocked.calls[0].request.headers["Content-Type"] == allegro_spec.MEDIA_TYPE


def test_add_shipment_with_an_unknown_carrier_sends_other_and_a_name_allegro_takes(mocked):
    reply(mocked, "POST", SHIPMENTS, status=201, body=LISTED["shipments"][1])

    client().add_shipment(ORDER, "OTHER", "KJ-77", carrier_name="Kurier Jan z Wólki Kosowskiej i okolic")

    body = sent_json(mocked)
    assert body["carrierId"] == "OTHER" and body["carrierName"] == "Kurier Jan z Wólki Kosowskiej"
    assert len(body["carrierName"]) <= 30 and "lineItems" not in body  # no list: the whole order
    assert allegro_spec.request_violations("POST", SHIPMENTS_TEMPLATE, body) == []


def test_an_unanswered_add_is_not_resent_by_the_client(mocked):
    reply(mocked, "POST", SHIPMENTS, status=503, body={"errors": []})

    with pytest.raises(TransientPlatformError):
        client().add_shipment(ORDER, "DHL", "6000123")

    assert len(mocked.calls) == 1  # the push re-reads the shipments before trying again


def test_a_refused_number_says_why_in_allegros_words(mocked):
    reply(mocked, "POST", SHIPMENTS, status=400, body={"errors": [{
        "code": "IllegalArgumentException", "message": "Unknown carrier id: NOPE", "path": "carrierId",
        "userMessage": "The carrier is not supported.", "details": None}]})

    with pytest.raises(PlatformError) as refused:
        client().add_shipment(ORDER, "NOPE", "6000123")

    assert not refused.value.retryable
    assert refused.value.message == "Allegro answered HTTP 400: The carrier is not supported."


def test_a_409_on_shipments_means_the_number_is_overused_not_a_stale_order(mocked):
    reply(mocked, "POST", SHIPMENTS, status=409, body={"errors": [{"code": "ConflictException",
                                                                   "message": "Waybill usage exceeded"}]})

    with pytest.raises(PlatformError) as refused:
        client().add_shipment(ORDER, "DHL", "6000123")

    assert not refused.value.retryable and refused.value.status == 409
    assert "already used in too many orders" in refused.value.message
