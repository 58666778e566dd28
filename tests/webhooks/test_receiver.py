"""The front door for deliveries: what platforms and careless callers get back from /webhooks/ addresses."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.inbound import ledger
from app.inbound.models import InboundEvent
from tests.conftest import _config
from tests.factories import make_integration
from tests.fakes import shopify as fake_shopify


@pytest.fixture
def shop(app):
    return make_integration("shopify", direction="pull")


def stored() -> list[InboundEvent]:
    return list(db.session.scalars(select(InboundEvent)))


def test_other_methods_are_refused_with_405_and_the_allowed_method(client, shop):
    for method in ("get", "put", "delete", "patch"):
        response = getattr(client, method)(f"/webhooks/shopify/{shop.id}")
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
        assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert stored() == []


def test_addresses_that_name_no_endpoint_or_integration_answer_json_404(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    for path in ("/webhooks/shopify/abc", "/webhooks/magento/1", f"/webhooks/shopify/{shop.id}/", "/webhooks/",
                 "/webhooks/shopify/-1", "/webhooks/shopify/99999999999999999", "/webhooks/shopify/" + "9" * 40):
        response = client.post(path, data=body, headers=headers)
        assert response.status_code == 404, path
        assert response.is_json and response.get_json()["error"]["code"] == "not_found", path
    assert stored() == []


def test_answers_are_json_and_carry_the_security_headers(client, shop):
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    for response in (client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers),
                     client.post(f"/webhooks/shopify/{shop.id}", data=body, headers={}),
                     client.get(f"/webhooks/shopify/{shop.id}")):
        assert response.content_type == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert int(response.headers["Content-Length"]) == len(response.get_data())
        assert "Set-Cookie" not in response.headers  # no session for a platform


def test_a_delivery_that_cannot_be_stored_answers_500_without_internals_and_is_logged(client, shop, monkeypatch,
                                                                                       caplog):
    def database_gone(*args, **kwargs):
        raise RuntimeError("connection to server at 10.0.0.5 refused")

    monkeypatch.setattr(ledger, "store_delivery", database_gone)
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "shopify-secret")
    with caplog.at_level(logging.ERROR, logger="kontor.webhooks"):
        response = client.post(f"/webhooks/shopify/{shop.id}", data=body, headers=headers)
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    assert "10.0.0.5" not in response.get_data(as_text=True)  # the platform is told it failed, not why
    assert "10.0.0.5" in caplog.text and f"/webhooks/shopify/{shop.id}" in caplog.text


def test_behind_a_trusted_proxy_a_refusal_is_logged_with_the_callers_address(app, shop, caplog):
    proxied = create_app(_config(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES=1))
    body, headers = fake_shopify.delivery(fake_shopify.shopify_order(1001), "wrong-secret")
    with caplog.at_level(logging.WARNING, logger="kontor.webhooks"):
        response = proxied.test_client().post(f"/webhooks/shopify/{shop.id}", data=body,
                                              headers={**headers, "X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 401
    assert "refused from 203.0.113.7" in caplog.text
