"""Order pages as a signed-in person uses them, including HTMX fragments."""

import re

from app.extensions import db
from app.orders.models import Order
from tests.conftest import csrf_from
from tests.factories import make_order, make_user

HX = {"HX-Request": "true"}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_every_page_needs_a_login(client, app):
    order = make_order()
    for url in ("/orders", f"/orders/{order.id}", "/orders/new", "/settings/statuses", "/settings/numbering"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location, url
    assert client.get("/orders", headers=HX).headers["HX-Redirect"].startswith("/login")


def test_wrong_password_is_refused_in_words(client, app):
    user = make_user()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": "nope", "csrf_token": csrf_from(page)})
    assert response.status_code == 401
    assert "Wrong e-mail or password" in text_of(response)


def test_login_refuses_a_post_without_csrf_token(client, app):
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": "password123"})
    assert response.status_code == 400


def test_list_is_a_page_and_the_table_a_fragment(client, app, login):
    login(make_user())
    make_order("paid", customer="Zofia Wiśniewska")
    make_order("draft", customer="Adam Mazur")

    page = client.get("/orders?status=paid")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert "Zofia Wiśniewska" in text_of(page) and "Adam Mazur" not in text_of(page)

    fragment = client.get("/orders?status=paid", headers=HX)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<div id="orders-table"')
    assert "HX-Request" in fragment.headers["Vary"]
    assert "Zofia Wiśniewska" in body and "Adam Mazur" not in body


def test_status_change_fragment_shows_new_status_and_triggers_timeline(client, app, login):
    csrf = login(make_user("operator"))
    order = make_order("awaiting_payment")
    response = client.post(f"/orders/{order.id}/status", data={"status": "paid", "csrf_token": csrf}, headers=HX)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="order-status"')
    assert "timeline-changed" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "paid"
    timeline = client.get(f"/orders/{order.id}/timeline", headers=HX)
    assert "Status: Awaiting payment → Paid" in text_of(timeline)


def test_refused_status_change_shows_the_reason_inline_and_changes_nothing(client, app, login):
    csrf = login(make_user("operator"))
    order = make_order("awaiting_payment")
    response = client.post(f"/orders/{order.id}/status", data={"status": "returned", "csrf_token": csrf},
                           headers=HX)
    assert response.status_code == 409
    assert 'id="status-error"' in response.get_data(as_text=True)
    assert "A return can only be requested after shipping" in text_of(response)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"


def test_htmx_post_without_csrf_is_refused(client, app, login):
    login(make_user("operator"))
    order = make_order("awaiting_payment")
    response = client.post(f"/orders/{order.id}/status", data={"status": "paid"}, headers=HX)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"


def test_csrf_token_in_the_htmx_header_is_accepted(client, app, login):
    csrf = login(make_user("operator"))
    order = make_order("awaiting_payment")
    response = client.post(f"/orders/{order.id}/status", data={"status": "paid"},
                           headers={**HX, "X-CSRFToken": csrf})
    assert response.status_code == 200


def test_viewer_can_look_but_not_change(client, app, login):
    csrf = login(make_user("viewer"))
    order = make_order("awaiting_payment")
    page = client.get(f"/orders/{order.id}")
    assert page.status_code == 200 and 'id="status-select"' not in page.get_data(as_text=True)
    assert client.post(f"/orders/{order.id}/status", data={"status": "paid", "csrf_token": csrf}).status_code == 403
    assert client.post(f"/orders/{order.id}/notes", data={"body": "x", "csrf_token": csrf}).status_code == 403
    assert client.get("/orders/new").status_code == 403
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "awaiting_payment"


def test_bulk_status_change_reports_each_row(client, app, login):
    csrf = login(make_user("operator"))
    ok = make_order("awaiting_payment")
    shipped = make_order("shipped")
    response = client.post("/orders/bulk-status", headers=HX,
                           data={"status": "cancelled", "ids": [str(ok.id), str(shipped.id)], "csrf_token": csrf})
    assert response.status_code == 200 and "orders-changed" in response.headers["HX-Trigger"]
    words = text_of(response)
    assert "1 of 2 orders moved to “Cancelled”" in words
    assert "refused An order that has been shipped cannot be cancelled" in words
    db.session.expire_all()
    assert db.session.get(Order, ok.id).status == "cancelled"
    assert db.session.get(Order, shipped.id).status == "shipped"


def test_bulk_with_nothing_selected_says_so(client, app, login):
    csrf = login(make_user("operator"))
    response = client.post("/orders/bulk-status", headers=HX, data={"status": "paid", "csrf_token": csrf})
    assert response.status_code == 422 and "Select at least one order" in text_of(response)


def test_detail_shows_customer_items_addresses_and_timeline(client, app, login):
    login(make_user())
    order = make_order("awaiting_payment", customer="Zofia Wiśniewska")
    words = text_of(client.get(f"/orders/{order.id}"))
    for expected in ("Zofia Wiśniewska", "Kubek ceramiczny", "ul. Polna 1", "Timeline", "59.80 PLN",
                     f"Order {order.number} created"):
        assert expected in words


def test_adding_a_note_refreshes_the_timeline(client, app, login):
    csrf = login(make_user("operator"))
    order = make_order()
    response = client.post(f"/orders/{order.id}/notes", headers=HX,
                           data={"body": "Klient prosi o fakturę", "csrf_token": csrf})
    assert response.status_code == 200 and "Klient prosi o fakturę" in text_of(response)
    empty = client.post(f"/orders/{order.id}/notes", headers=HX, data={"body": " ", "csrf_token": csrf})
    assert empty.status_code == 422


def test_create_order_through_the_form(client, app, login):
    login(make_user("operator"))
    page = client.get("/orders/new").get_data(as_text=True)
    response = client.post("/orders/new", data={
        "csrf_token": csrf_from(page), "customer_name": "Marta Krawczyk", "customer_email": "marta@example.com",
        "currency": "PLN", "payment_status": "pending", "fulfillment_status": "unassigned", "status": "draft",
        "shipping_gross": "9.99", "items-0-name": "Lampka biurkowa", "items-0-quantity": "2",
        "items-0-unit_price_gross": "149.00", "items-0-vat_rate": "23", "items-0-discount_gross": "0",
        "items-1-name": "Notes A5", "items-1-quantity": "1", "items-1-unit_price_gross": "19.50",
        "items-1-vat_rate": "23", "shipping-name": "Marta Krawczyk", "shipping-street": "ul. Leśna 5",
        "shipping-postcode": "30-001", "shipping-city": "Kraków", "shipping-country_code": "PL",
    })
    assert response.status_code == 302, text_of(response)
    order = db.session.scalars(db.select(Order)).one()
    assert order.customer_name == "Marta Krawczyk" and len(order.items) == 2
    assert str(order.total_gross) == "327.49"
    assert order.address("shipping").city == "Kraków" and order.address("billing") is None


def test_invalid_order_form_saves_nothing_and_marks_fields(client, app, login):
    login(make_user("operator"))
    page = client.get("/orders/new").get_data(as_text=True)
    response = client.post("/orders/new", data={"csrf_token": csrf_from(page), "customer_name": "",
                                                "currency": "PLN", "status": "draft", "items-0-name": ""})
    assert response.status_code == 422
    assert "nothing was saved" in text_of(response)
    assert db.session.scalars(db.select(Order)).all() == []


def test_edit_order_keeps_its_status(client, app, login):
    login(make_user("operator"))
    order = make_order("paid")
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    assert 'name="status"' not in page
    data = {m.group(1): m.group(2) for m in re.finditer(r'name="([^"]+)"[^>]*value="([^"]*)"', page)}
    data.update({"customer_name": "Anna Zmieniona", "payment_status": "paid", "fulfillment_status": "reserved",
                 "items-0-vat_rate": "23"})
    response = client.post(f"/orders/{order.id}/edit", data=data)
    assert response.status_code == 302, text_of(response)
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.customer_name == "Anna Zmieniona" and order.status == "paid" and order.payment_status == "paid"


def test_saving_the_edit_form_keeps_addresses_it_does_not_show_and_item_ids(client, app, login):
    from app.orders.models import OrderAddress

    login(make_user("operator"))
    order = make_order("paid")
    order.addresses.append(OrderAddress(kind="pickup", point_id="KRA01M", city="Kraków"))
    customer = order.address("customer")
    customer.street = "ul. Długa 5"
    db.session.commit()
    item_ids = [i.id for i in order.items]
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    data = {m.group(1): m.group(2) for m in re.finditer(r'name="([^"]+)"[^>]*value="([^"]*)"', page)}
    data.update({"payment_status": "paid", "fulfillment_status": "unassigned", "items-0-vat_rate": "23"})
    assert client.post(f"/orders/{order.id}/edit", data=data).status_code == 302
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.address("pickup").point_id == "KRA01M"
    assert order.address("customer").street == "ul. Długa 5"
    assert order.address("shipping").street == "ul. Polna 1"
    assert [i.id for i in order.items] == item_ids


def test_emptying_the_billing_address_removes_it(client, app, login):
    from app.orders.services import AddressInput, ItemInput, OrderInput, update_order

    login(make_user("operator"))
    order = make_order("paid")
    update_order(order.id, OrderInput(customer_name="Anna", items=[ItemInput("Kubek", 1, order.items[0].unit_price_gross)],
                                      addresses=[AddressInput(kind="billing", name="Firma", vat_id="PL123")]),
                 services_actor())
    assert db.session.get(Order, order.id).address("billing").vat_id == "PL123"
    update_order(order.id, OrderInput(customer_name="Anna", items=[ItemInput("Kubek", 1, order.items[0].unit_price_gross)],
                                      removed_addresses=("billing",)), services_actor())
    db.session.expire_all()
    assert db.session.get(Order, order.id).address("billing") is None


def services_actor():
    from app.orders.services import Actor

    return Actor("Test", "manual")
