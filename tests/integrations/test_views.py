"""Integration pages: add, edit, direction toggle, mapping editor, failed pushes."""

import re

from app.accounts.services import create_api_token
from app.extensions import db
from app.integrations.models import Integration, IntegrationRun, StatusMapping
from app.orders.services import Actor, change_status
from app.sync import claims, outbox
from app.sync.models import SyncOperation
from tests.conftest import csrf_from
from tests.factories import make_integration, make_order, make_user, map_status

HX = {"HX-Request": "true"}
PS_STATES = [("2", "Payment accepted"), ("4", "Shipped"), ("6", "Canceled")]


def words(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_admin_adds_a_prestashop_shop_and_the_key_is_never_shown_back(client, app, login):
    login(make_user("admin"))
    page = client.get("/integrations/new/prestashop").get_data(as_text=True)
    response = client.post("/integrations/new/prestashop", data={
        "csrf_token": csrf_from(page), "name": "Sklep Ania", "shop_url": "https://sklep.example.com/",
        "api_key": "SECRETKEY0123456789ABCDEFGHIJKLM", "language_id": "2", "send_email": "y"})
    assert response.status_code == 302
    integration = db.session.scalars(db.select(Integration)).one()
    assert integration.settings == {"shop_url": "https://sklep.example.com", "language_id": 2, "send_email": True,
                                    "tracking_email": False, "import_days": 7, "when_platform_changed": "ask"}
    for url in (f"/integrations/{integration.id}", f"/integrations/{integration.id}/edit"):
        body = client.get(url).get_data(as_text=True)
        assert "SECRETKEY0123456789ABCDEFGHIJKLM" not in body, url
        assert "••••••JKLM" in body, url


def test_operators_cannot_add_integrations(client, app, login):
    login(make_user("operator"))
    assert client.get("/integrations").status_code == 200
    assert client.get("/integrations/new/prestashop").status_code == 403


def test_direction_toggle_saves_as_a_fragment(client, app, login):
    csrf = login(make_user("admin"))
    integration = make_integration(direction="off")
    response = client.post(f"/integrations/{integration.id}/direction", headers={**HX, "X-CSRFToken": csrf},
                           data={"sync_direction": "push"})
    assert response.status_code == 200 and 'id="sync-direction"' in response.get_data(as_text=True)
    assert "saved" in words(response)
    db.session.expire_all()
    assert db.session.get(Integration, integration.id).sync_direction == "push"


def test_mapping_editor_adds_edits_reorders_and_deletes_inline(client, app, login):
    csrf = login(make_user("admin"))
    integration = make_integration(states=PS_STATES)
    paid, shipped = (next(s for s in integration.states if s.external_id == x) for x in ("2", "4"))
    headers = {**HX, "X-CSRFToken": csrf}
    url = f"/integrations/{integration.id}/mappings"
    added = client.post(url, headers=headers, data={"local_status": "paid", "platform_state_id": paid.id,
                                                    "direction": "push"})
    assert added.status_code == 200 and "Payment accepted" in words(added)
    client.post(url, headers=headers, data={"local_status": "shipped", "platform_state_id": shipped.id,
                                            "direction": "both"})
    duplicate = client.post(url, headers=headers, data={"local_status": "completed", "platform_state_id": shipped.id,
                                                        "direction": "pull"})
    assert duplicate.status_code == 422 and 'id="mapping-error"' in duplicate.get_data(as_text=True)
    assert "already pulled into" in words(duplicate)
    rows = db.session.scalars(db.select(StatusMapping).order_by(StatusMapping.position)).all()
    assert [r.local_status for r in rows] == ["paid", "shipped"]

    edit = client.get(f"{url}/{rows[0].id}", headers=HX)
    assert 'class="editing"' in edit.get_data(as_text=True)
    saved = client.post(f"{url}/{rows[0].id}", headers=headers, data={"local_status": "awaiting_fulfillment",
                                                                      "platform_state_id": paid.id, "direction": "push"})
    assert saved.status_code == 200
    client.post(f"{url}/{rows[1].id}/move/up", headers=headers)
    db.session.expire_all()
    rows = db.session.scalars(db.select(StatusMapping).order_by(StatusMapping.position)).all()
    assert [r.local_status for r in rows] == ["shipped", "awaiting_fulfillment"]
    client.post(f"{url}/{rows[0].id}/delete", headers=headers)
    assert db.session.scalar(db.select(db.func.count(StatusMapping.id))) == 1


def test_failed_pushes_are_listed_with_retry_and_cancel(client, app, login):
    csrf = login(make_user("operator"))
    integration = make_integration(states=PS_STATES)
    order = make_order("awaiting_payment", integration_id=integration.id, external_order_id="5")
    change_status(order.id, "paid", Actor("Olga", "manual"))
    operation = db.session.scalars(db.select(SyncOperation)).one()
    outbox.fail(claims.claim(operation.id), "PrestaShop answered HTTP 404: Order not found")
    db.session.commit()

    listing = client.get(f"/sync/integrations/{integration.id}/operations", headers=HX)
    assert order.number in words(listing) and "Order not found" in words(listing)
    banner = client.get("/sync/failed", headers=HX)
    assert "1 status push to" in words(banner)
    panel = client.get(f"/sync/orders/{order.id}", headers=HX)
    assert "failed" in words(panel) and "Retry now" in words(panel)

    retried = client.post(f"/sync/operations/{operation.id}/retry", headers={**HX, "X-CSRFToken": csrf},
                          data={"from": "order"})
    assert retried.status_code == 200 and 'id="order-sync"' in retried.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SyncOperation, operation.id).state == "pending"
    cancelled = client.post(f"/sync/operations/{operation.id}/cancel", headers={**HX, "X-CSRFToken": csrf})
    assert cancelled.status_code == 200 and "cancelled" in words(cancelled)


def test_order_page_shows_the_platform_panel_for_platform_orders(client, app, login):
    login(make_user())
    integration = make_integration(states=PS_STATES, name="Sklep Ania")
    map_status(integration, "paid", "2", "push")
    order = make_order("paid", integration_id=integration.id, external_order_id="5")
    order.platform_state = "2"
    db.session.commit()
    assert 'id="order-sync"' in client.get(f"/orders/{order.id}").get_data(as_text=True)
    panel = words(client.get(f"/sync/orders/{order.id}", headers=HX))
    assert "Sklep Ania" in panel and "Payment accepted" in panel


def test_sync_states_button_stores_odd_colours_and_shows_a_failure_in_the_run_log(client, app, login,
                                                                                  fake_prestashop):
    csrf = login(make_user("operator"))
    fake_prestashop.add_state(20, {"1": "Niebieski"}, color="RoyalBlue")
    shop = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})
    done = client.post(f"/integrations/{shop.id}/states/sync", headers={**HX, "X-CSRFToken": csrf})
    assert done.status_code == 200 and "14 states" in words(done) and "Niebieski" in words(done)
    broken = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                              credentials={"api_key": "WRONG-KEY"})
    failed = client.post(f"/integrations/{broken.id}/states/sync", headers={**HX, "X-CSRFToken": csrf})
    assert failed.status_code != 500
    page = words(client.get(f"/integrations/{broken.id}"))
    run = IntegrationRun.query.filter_by(integration_id=broken.id).one()
    assert not run.ok and run.message and run.message in page


def test_api_states_sync_answers_json_and_records_a_failed_run(client, app, fake_prestashop):
    _, raw = create_api_token(make_user("operator"), "sync")
    api = {"Authorization": f"Bearer {raw}"}
    fake_prestashop.add_state(20, {"1": "Przezroczysty"}, color="rgba(0,0,0,.5)")
    shop = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                            credentials={"api_key": fake_prestashop.api_key})
    done = client.post(f"/api/v1/sync/prestashop?store_id={shop.id}", headers=api)
    assert done.status_code == 200 and done.json["counts"]["states"] == 14
    broken = make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 1},
                              credentials={"api_key": "WRONG-KEY"})
    failed = client.post(f"/api/v1/sync/prestashop?store_id={broken.id}", headers=api)
    assert failed.status_code == 502 and failed.json["error"]["code"] == "platform_error"
    run = IntegrationRun.query.filter_by(integration_id=broken.id).one()
    assert not run.ok and run.message == failed.json["error"]["message"]
