"""Settings pages: statuses and numbering."""

import re

from app.extensions import db
from app.settings.models import NumberingScheme, OrderStatus
from tests.conftest import csrf_from
from tests.factories import make_order, make_user

HX = {"HX-Request": "true"}


def statuses_in_order():
    return [s.code for s in db.session.scalars(db.select(OrderStatus).order_by(OrderStatus.position))]


def test_admin_adds_a_status_that_behaves_like_its_group(client, app, login):
    csrf = login(make_user("admin"))
    response = client.post("/settings/statuses", data={
        "csrf_token": csrf, "code": "waiting_for_supplier", "name": "Waiting for supplier",
        "colour": "#aa5500", "group": "processing"})
    assert response.status_code == 302
    assert statuses_in_order()[-1] == "waiting_for_supplier"
    order = make_order("paid")
    moved = client.post(f"/orders/{order.id}/status", headers=HX,
                        data={"status": "waiting_for_supplier", "csrf_token": csrf})
    assert moved.status_code == 200


def test_duplicate_or_malformed_status_code_is_shown_on_the_field(client, app, login):
    csrf = login(make_user("admin"))
    for code, message in (("paid", "already exists"), ("Bad Code!", "lower-case letters")):
        response = client.post("/settings/statuses", data={"csrf_token": csrf, "code": code, "name": "X",
                                                           "colour": "#000000", "group": "processing"})
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert len(statuses_in_order()) == 11


def test_inline_edit_renames_and_recolours(client, app, login):
    csrf = login(make_user("admin"))
    paid = db.session.scalar(db.select(OrderStatus).where(OrderStatus.code == "paid"))
    form = client.get(f"/settings/statuses/{paid.id}/edit", headers=HX).get_data(as_text=True)
    assert form.lstrip().startswith(f'<tr id="status-{paid.id}" class="editing"')
    response = client.post(f"/settings/statuses/{paid.id}/edit", headers=HX, data={
        "csrf_token": csrf, "name": "Paid in full", "colour": "#123456", "group": "processing"})
    assert response.status_code == 200 and "Paid in full" in response.get_data(as_text=True)
    db.session.expire_all()
    paid = db.session.get(OrderStatus, paid.id)
    assert (paid.name, paid.colour, paid.code) == ("Paid in full", "#123456", "paid")


def test_inline_edit_error_stays_on_the_row_and_saves_nothing(client, app, login):
    csrf = login(make_user("admin"))
    paid = db.session.scalar(db.select(OrderStatus).where(OrderStatus.code == "paid"))
    response = client.post(f"/settings/statuses/{paid.id}/edit", headers=HX, data={
        "csrf_token": csrf, "name": "", "colour": "red", "group": "processing"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Colour must look like #1a2b3c" in body and 'class="editing"' in body
    db.session.expire_all()
    assert db.session.get(OrderStatus, paid.id).name == "Paid"


def test_reorder_moves_a_status(client, app, login):
    csrf = login(make_user("admin"))
    paid = db.session.scalar(db.select(OrderStatus).where(OrderStatus.code == "paid"))
    response = client.post(f"/settings/statuses/{paid.id}/move/up", headers={**HX, "X-CSRFToken": csrf})
    assert response.status_code == 200 and 'id="status-table"' in response.get_data(as_text=True)
    assert statuses_in_order()[:3] == ["draft", "paid", "awaiting_payment"]


def test_operators_cannot_change_settings(client, app, login):
    csrf = login(make_user("operator"))
    paid = db.session.scalar(db.select(OrderStatus).where(OrderStatus.code == "paid"))
    assert client.get("/settings/statuses").status_code == 200
    assert client.post(f"/settings/statuses/{paid.id}/move/up", headers={"X-CSRFToken": csrf}).status_code == 403
    assert client.post("/settings/numbering", data={"csrf_token": csrf, "prefix": "X", "padding": 3,
                                                    "reset": "never"}).status_code == 403


def test_numbering_change_applies_to_the_next_order(client, app, login):
    login(make_user("admin"))
    page = client.get("/settings/numbering").get_data(as_text=True)
    assert re.search(r'id="number-preview">ZK/\d{4}/00001<', page)
    response = client.post("/settings/numbering", data={"csrf_token": csrf_from(page), "prefix": "WEB-{YY}{MM}-",
                                                       "suffix": "", "padding": 4, "reset": "monthly"})
    assert response.status_code == 302
    assert re.fullmatch(r"WEB-\d{4}-0001", make_order().number)
    assert db.session.scalar(db.select(NumberingScheme)).counter == 1


def test_numbering_refuses_nonsense(client, app, login):
    csrf = login(make_user("admin"))
    response = client.post("/settings/numbering", data={"csrf_token": csrf, "prefix": "X", "padding": 40,
                                                       "reset": "never"})
    assert response.status_code == 200 and "between 1 and 12" in response.get_data(as_text=True)
