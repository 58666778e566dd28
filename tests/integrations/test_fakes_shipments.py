"""The fakes' tracking-number endpoints behave like the platforms they stand in for."""

from __future__ import annotations

import json

import pytest
import requests

from app.integrations.allegro.client import MEDIA_TYPE, AllegroClient
from app.integrations.base import PlatformError
from app.integrations.prestashop.webservice import PrestaShopWebservice
from tests.fakes import allegro_spec


def allegro_client(fake) -> AllegroClient:
    access, _ = fake.issue_tokens()
    return AllegroClient(access, api_url=fake.api_url)


def test_fake_allegro_lists_carriers_and_shipments_as_the_spec_describes(fake_allegro):
    access, _ = fake_allegro.issue_tokens()
    checkout_id = fake_allegro.add_order()
    fake_allegro.add_waybill(checkout_id, "AD-1239134", "DHL")
    headers = {"Authorization": f"Bearer {access}", "Accept": MEDIA_TYPE}

    carriers = requests.get(f"{fake_allegro.api_url}/order/carriers", headers=headers, timeout=5)
    listed = requests.get(f"{fake_allegro.api_url}/order/checkout-forms/{checkout_id}/shipments", headers=headers,
                          timeout=5)

    assert allegro_spec.response_violations("GET", "/order/carriers", 200, carriers.json()) == []
    assert allegro_spec.response_violations("GET", "/order/checkout-forms/{id}/shipments", 200, listed.json()) == []
    assert [s["waybill"] for s in listed.json()["shipments"]] == ["AD-1239134"]


def test_fake_allegro_refuses_what_allegro_refuses(fake_allegro):
    client = allegro_client(fake_allegro)
    checkout_id = fake_allegro.add_order()
    with pytest.raises(PlatformError, match="The carrier is not supported"):
        client.add_shipment(checkout_id, "NOPE", "123")
    with pytest.raises(PlatformError, match="Enter the carrier's name"):
        client.add_shipment(checkout_id, "OTHER", "123")
    with pytest.raises(PlatformError, match="not from this order"):
        client.add_shipment(checkout_id, "DPD", "123", line_item_ids=["not-an-item"])
    assert fake_allegro.shipment_posts == [] and fake_allegro.spec_violations == []


def test_fake_allegro_checks_the_body_against_the_spec(fake_allegro):
    access, _ = fake_allegro.issue_tokens()
    checkout_id = fake_allegro.add_order()
    response = requests.post(f"{fake_allegro.api_url}/order/checkout-forms/{checkout_id}/shipments",
                             data=json.dumps({"carrierId": "DPD", "waybill": "x" * 65}),
                             headers={"Authorization": f"Bearer {access}", "Accept": MEDIA_TYPE,
                                      "Content-Type": MEDIA_TYPE}, timeout=5)
    assert response.status_code == 422
    assert "is too long" in fake_allegro.spec_violations[0]["violations"][0]
    assert fake_allegro.shipment_posts == []


def test_fake_prestashop_order_carriers_filter_put_and_refusals(fake_prestashop):
    shop = PrestaShopWebservice(fake_prestashop.url, fake_prestashop.api_key)
    first, second = fake_prestashop.add_order(), fake_prestashop.add_order()

    [row] = shop.order_carriers(second)
    assert row["id_order"] == second and row["tracking_number"] == ""
    shop.put_order_carrier({**row, "tracking_number": "6000123"}, send_email=True)

    assert fake_prestashop.tracking_numbers(second) == ["6000123"]
    assert fake_prestashop.tracking_numbers(first) == []
    assert fake_prestashop.carrier_puts[-1]["sendemail"] is True
    with pytest.raises(PlatformError, match="tracking_number is not valid"):
        shop.put_order_carrier({**row, "tracking_number": "bad<number>"})
    with pytest.raises(PlatformError, match="id_carrier is empty"):
        shop.put_order_carrier({"id": row["id"], "id_order": second, "tracking_number": "1"})
    assert len(fake_prestashop.carrier_puts) == 1
