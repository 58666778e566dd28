"""Linking an order to its platform order by hand, on the form and through the API."""

import pytest

from app.accounts.services import create_api_token
from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import Integration
from app.orders import services
from app.orders.links import PlatformLink
from app.orders.models import Order
from app.sync.models import SyncOperation
from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user, map_status

PS_STATES = [("2", "Payment accepted"), ("4", "Shipped")]


@pytest.fixture
def actor(app):
    return services.Actor.user(make_user("operator", name="Olga Operator"))


def _feed():
    feed = Integration(kind="supplier_feed", name="Hurtownia Kowalski", settings={})
    db.session.add(feed)
    db.session.commit()
    return feed


def test_linking_makes_the_order_a_platform_order_and_its_status_changes_are_pushed(app, actor):
    shop = make_integration("prestashop", name="Sklep", states=PS_STATES)
    map_status(shop, "paid", "2", "push")
    order = make_order("awaiting_payment", source="manual")
    services.set_platform_link(order.id, PlatformLink(shop.id, " 1024 "), actor)
    order = services.get_order(order.id, full=True)
    assert (order.integration_id, order.external_order_id, order.source) == (shop.id, "1024", "prestashop")
    assert any(t.title == "Linked to Sklep order 1024" for t in services.timeline(order))
    services.change_status(order.id, "paid", actor)
    operation = db.session.scalars(db.select(SyncOperation)).one()
    assert operation.integration_id == shop.id and operation.order_id == order.id


def test_unlinking_gives_the_order_back_its_source(app, actor):
    shop = make_integration("allegro", name="Allegro")
    order = make_order(source="api")
    services.set_platform_link(order.id, PlatformLink(shop.id, "29f1c6e0-aaaa"), actor)
    services.set_platform_link(order.id, PlatformLink(None), actor)
    order = services.get_order(order.id)
    assert (order.integration_id, order.external_order_id, order.source) == (None, None, "api")


def test_a_link_is_refused_in_words_and_nothing_changes(app, actor):
    shop = make_integration("prestashop", name="Sklep")
    first = make_order()
    services.set_platform_link(first.id, PlatformLink(shop.id, "77"), actor)
    other = make_order()
    refusals = [
        (PlatformLink(shop.id, "77"), f"Sklep order 77 is already linked to order {first.number}"),
        (PlatformLink(_feed().id, "77"), "is a supplier feed, not a sales channel"),
        (PlatformLink(2**31, "77"), "There is no integration"),
        (PlatformLink(shop.id, ""), "Give the order's id on Sklep"),
        (PlatformLink(shop.id, "7\x007"), "NUL"),
        (PlatformLink(shop.id, "7" * 101), "at most 100 characters"),
        (PlatformLink(None, "77"), "Choose the platform"),
    ]
    for link, message in refusals:
        with pytest.raises(ValidationFailed, match=message):
            services.set_platform_link(other.id, link, actor)
    db.session.expire_all()
    other = db.session.get(Order, other.id)
    assert (other.integration_id, other.external_order_id, other.source) == (None, None, "manual")


def test_the_edit_form_links_and_names_the_other_order_on_the_field(client, app, login):
    login(make_user("operator"))
    shop = make_integration("prestashop", name="Sklep")
    taken = make_order(source="prestashop", integration_id=shop.id, external_order_id="500")
    order = make_order()
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    assert "Platform order id" in page and "Sklep (PrestaShop)" in page
    form = {"csrf_token": csrf_from(page), "customer_name": "Anna Nowak", "currency": "PLN",
            "payment_status": "pending", "fulfillment_status": "unassigned", "items-0-name": "Kubek",
            "items-0-quantity": "1", "items-0-unit_price_gross": "29.90", "items-0-vat_rate": "23",
            "revision": str(order.revision), "integration_id": str(shop.id), "external_order_id": "500"}
    refused = client.post(f"/orders/{order.id}/edit", data=form)
    assert refused.status_code == 422 and f"already linked to order {taken.number}" in refused.get_data(as_text=True)
    saved = client.post(f"/orders/{order.id}/edit", data={**form, "external_order_id": "501"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).external_order_id == "501"
    feed = _feed()
    not_offered = client.post(f"/orders/{order.id}/edit", data={**form, "integration_id": str(feed.id),
                                                                "revision": str(order.revision + 1)})
    assert not_offered.status_code == 422 and "Not a valid choice" in not_offered.get_data(as_text=True)


def test_the_api_links_and_unlinks(client, app):
    _, raw = create_api_token(make_user("operator"), "link")
    api = {"Authorization": f"Bearer {raw}"}
    shop = make_integration("prestashop", name="Sklep")
    order = make_order()
    linked = client.put(f"/api/v1/orders/{order.id}/link", json={"integration_id": shop.id,
                                                                 "external_order_id": 1024}, headers=api)
    assert linked.status_code == 200
    assert (linked.json["integration_id"], linked.json["external_order_id"], linked.json["source"]) == \
        (shop.id, "1024", "prestashop")
    other = make_order()
    clash = client.put(f"/api/v1/orders/{other.id}/link", json={"integration_id": shop.id,
                                                                "external_order_id": "1024"}, headers=api)
    assert clash.status_code == 422 and order.number in clash.json["error"]["message"]
    wrong = client.put(f"/api/v1/orders/{other.id}/link", json={"integration_id": "1", "external_order_id": "1"},
                       headers=api)
    assert wrong.status_code == 422 and wrong.json["error"]["code"] == "validation_failed"
    unlinked = client.delete(f"/api/v1/orders/{order.id}/link", headers=api)
    assert unlinked.status_code == 200 and unlinked.json["integration_id"] is None
    assert unlinked.json["source"] == "manual"


def test_a_post_without_the_link_fields_leaves_the_link_alone(client, app, login):
    login(make_user("operator"))
    shop = make_integration("prestashop", name="Sklep")
    order = make_order(source="prestashop", integration_id=shop.id, external_order_id="900")
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    saved = client.post(f"/orders/{order.id}/edit", data={
        "csrf_token": csrf_from(page), "customer_name": "Anna Nowak", "currency": "PLN",
        "payment_status": "pending", "fulfillment_status": "unassigned", "items-0-name": "Kubek",
        "items-0-quantity": "1", "items-0-unit_price_gross": "29.90", "items-0-vat_rate": "23",
        "revision": str(order.revision)})
    assert saved.status_code == 302
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert (order.integration_id, order.external_order_id, order.source) == (shop.id, "900", "prestashop")
