"""When the platform changed the order too: the push's three answers and the order page's two buttons."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import Order, OrderEvent, OrderStatusHistory
from app.orders.services import Actor, change_status
from app.sync.models import SyncOperation
from app.sync.push import push_status_change
from tests.factories import make_integration, make_order, make_user, map_status

MANUAL = Actor("Olga Operator", "manual")


@pytest.fixture
def shop(app, fake_prestashop):
    integration = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                                   credentials={"api_key": fake_prestashop.api_key},
                                   states=[(i, f"State {i}") for i in fake_prestashop.states])
    for status, state_id in (("paid", "2"), ("picking", "3"), ("shipped", "4")):
        map_status(integration, status, state_id, "both")
    return integration


def changed_in_the_back_office(fake, shop) -> Order:
    """An order Kontor last saw as Payment accepted (2) that someone set to Shipped (4) in the shop."""
    order = make_order("paid", integration_id=shop.id, external_order_id=fake.add_order(state="4"))
    db.session.execute(Order.__table__.update().where(Order.__table__.c.id == order.id).values(platform_state="2"))
    db.session.commit()
    return order


def push_picking(order: Order) -> SyncOperation:
    change_status(order.id, "picking", MANUAL)
    operation = db.session.scalars(select(SyncOperation).where(SyncOperation.order_id == order.id)
                                   .order_by(SyncOperation.id.desc())).first()
    push_status_change(operation.id)
    db.session.expire_all()
    return db.session.get(SyncOperation, operation.id)


def test_by_default_the_push_asks_and_sends_nothing(shop, fake_prestashop, retry_sleeps):
    order = changed_in_the_back_office(fake_prestashop, shop)

    operation = push_picking(order)

    assert operation.state == "conflict" and operation.attempts == 0
    assert operation.payload["conflict"]["platform_state"] == "4"
    assert "changed on the platform" in operation.result
    assert fake_prestashop.history_posts == [] and fake_prestashop.orders[order.external_order_id] == "4"


def test_a_platform_state_kontor_may_have_written_itself_is_no_conflict(shop, fake_prestashop, retry_sleeps):
    order = changed_in_the_back_office(fake_prestashop, shop)
    # An earlier push of Shipped was sent, and its answer lost: the 4 in the shop may well be Kontor's.
    db.session.add(SyncOperation(kind="status_push", integration_id=shop.id, order_id=order.id, state="failed",
                                 payload={"to_status": "shipped", "write_sent": "4"}))
    db.session.commit()

    operation = push_picking(order)

    assert operation.state == "done" and fake_prestashop.orders[order.external_order_id] == "3"


def test_a_newer_change_makes_an_open_question_moot(shop, fake_prestashop, retry_sleeps):
    order = changed_in_the_back_office(fake_prestashop, shop)
    asked = push_picking(order)

    change_status(order.id, "shipped", MANUAL)

    db.session.expire_all()
    assert db.session.get(SyncOperation, asked.id).state == "superseded"


def test_an_operator_pushes_kontors_value_over_the_platforms(shop, fake_prestashop, retry_sleeps, client, login):
    order = changed_in_the_back_office(fake_prestashop, shop)
    operation = push_picking(order)
    token = login(make_user("operator"))

    panel = client.get(f"/sync/orders/{order.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="sync-conflict"' in panel and "State 4" in panel and "State 3" in panel
    response = client.post(f"/sync/operations/{operation.id}/choose-kontor", data={"from": "order"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    push_status_change(operation.id)

    db.session.expire_all()
    assert db.session.get(SyncOperation, operation.id).state == "done"
    assert fake_prestashop.orders[order.external_order_id] == "3"
    overwrote = db.session.scalars(select(OrderEvent.message).where(OrderEvent.order_id == order.id,
                                                                    OrderEvent.kind == "push_overwrote")).all()
    assert overwrote and "State 4" in overwrote[0]


def test_an_operator_takes_the_platforms_value_as_a_platform_change(shop, fake_prestashop, retry_sleeps, client,
                                                                    login):
    order = changed_in_the_back_office(fake_prestashop, shop)
    operation = push_picking(order)
    token = login(make_user("operator"))

    response = client.post(f"/sync/operations/{operation.id}/choose-platform", data={"from": "order"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})

    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "shipped"
    last = db.session.scalars(select(OrderStatusHistory).where(OrderStatusHistory.order_id == order.id)
                              .order_by(OrderStatusHistory.id.desc())).first()
    assert (last.to_status, last.change_source) == ("shipped", "platform")
    # Nothing new to push: a platform change is never echoed back.
    assert [op.state for op in db.session.scalars(select(SyncOperation).where(
        SyncOperation.order_id == order.id))] == ["skipped"]
    assert fake_prestashop.history_posts == []
    assert client.post(f"/sync/operations/{operation.id}/choose-platform", data={"from": "order"},
                       headers={"HX-Request": "true", "X-CSRFToken": token}).status_code == 409


def test_a_viewer_cannot_choose_and_a_post_without_csrf_is_refused(shop, fake_prestashop, retry_sleeps, client,
                                                                   login):
    order = changed_in_the_back_office(fake_prestashop, shop)
    operation = push_picking(order)
    token = login(make_user("viewer"))

    assert client.post(f"/sync/operations/{operation.id}/choose-kontor",
                       headers={"X-CSRFToken": token}).status_code == 403
    assert client.post(f"/sync/operations/{operation.id}/choose-platform").status_code == 400  # no CSRF token
    db.session.expire_all()
    assert db.session.get(SyncOperation, operation.id).state == "conflict"


def test_the_integration_form_offers_the_choice(app, client, login, shop):
    login(make_user("admin"))
    page = client.get(f"/integrations/{shop.id}/edit").get_data(as_text=True)
    assert "When the platform changed the order too" in page
    assert 'value="ask" selected' in page or 'selected value="ask"' in page
