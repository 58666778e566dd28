"""PrestaShopWebservice's order_carriers calls (the tracking number) against bodies served by `responses`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from defusedxml import ElementTree

from app.integrations.base import TransientPlatformError
from app.integrations.prestashop.webservice import PrestaShopWebservice
from tests.fakes.prestashop import XML_HEAD, XML_TAIL

SHOP = "https://shop.example"
API = f"{SHOP}/api"
KEY = "KONTORTESTKEY0123456789ABCDEFGHI"
XML = "text/xml;charset=utf-8"


def carrier_xml(row_id: str, order_id: str, tracking: str = "") -> str:
    """One order_carrier in the shape PrestaShop lists it (OrderCarrier's webservice fields)."""
    return (f'<order_carrier>\n\t<id><![CDATA[{row_id}]]></id>\n'
            f'\t<id_order xlink:href="{API}/orders/{order_id}"><![CDATA[{order_id}]]></id_order>\n'
            f'\t<id_carrier xlink:href="{API}/carriers/2"><![CDATA[2]]></id_carrier>\n'
            "\t<id_order_invoice><![CDATA[3]]></id_order_invoice>\n\t<weight><![CDATA[1.250000]]></weight>\n"
            "\t<shipping_cost_tax_excl><![CDATA[7.000000]]></shipping_cost_tax_excl>\n"
            "\t<shipping_cost_tax_incl><![CDATA[8.610000]]></shipping_cost_tax_incl>\n"
            f"\t<tracking_number><![CDATA[{tracking}]]></tracking_number>\n"
            "\t<date_add><![CDATA[2026-11-30 10:00:00]]></date_add>\n</order_carrier>\n")


@pytest.fixture
def mocked():
    with responses.RequestsMock() as mock:
        yield mock


def shop() -> PrestaShopWebservice:
    return PrestaShopWebservice(SHOP, KEY)


def test_order_carriers_filters_by_order_and_reads_every_field(mocked):
    body = XML_HEAD + "<order_carriers>\n" + carrier_xml("12", "5", "OLD-1") + carrier_xml("9", "5") \
        + "</order_carriers>\n" + XML_TAIL
    mocked.get(f"{API}/order_carriers", body=body, content_type=XML)

    rows = shop().order_carriers("5")

    query = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert query == {"filter[id_order]": ["[5]"], "display": ["full"]}
    assert [row["id"] for row in rows] == ["9", "12"]  # oldest first: the last one is the order's carrier
    assert rows[1] == {"id": "12", "id_order": "5", "id_carrier": "2", "id_order_invoice": "3", "weight": "1.250000",
                       "shipping_cost_tax_excl": "7.000000", "shipping_cost_tax_incl": "8.610000",
                       "tracking_number": "OLD-1", "date_add": "2026-11-30 10:00:00"}


@pytest.mark.parametrize("send_email", [False, True])
def test_put_order_carrier_writes_the_whole_row_and_asks_for_the_mail_only_when_told(mocked, send_email):
    mocked.put(f"{API}/order_carriers/12", body=XML_HEAD + carrier_xml("12", "5", "6000123") + XML_TAIL,
               content_type=XML)
    row = {"id": "12", "id_order": "5", "id_carrier": "2", "id_order_invoice": "3", "weight": "1.250000",
           "shipping_cost_tax_excl": "7.000000", "shipping_cost_tax_incl": "8.610000",
           "tracking_number": "6000123 & co", "date_add": "2026-11-30 10:00:00"}

    shop().put_order_carrier(row, send_email=send_email)

    request = mocked.calls[0].request
    assert parse_qs(urlsplit(request.url).query) == ({"sendemail": ["1"]} if send_email else {})
    sent = ElementTree.fromstring(request.body).find("order_carrier")
    assert {child.tag: child.text for child in sent} == row  # CDATA keeps "&" as typed
    assert request.headers["Content-Type"] == "application/xml"


def test_an_unanswered_put_is_not_resent_by_the_client(mocked):
    mocked.put(f"{API}/order_carriers/12", status=503, body="<html>busy</html>", content_type="text/html")

    with pytest.raises(TransientPlatformError):
        shop().put_order_carrier({"id": "12", "id_order": "5", "id_carrier": "2", "tracking_number": "X1"})

    assert len(mocked.calls) == 1
