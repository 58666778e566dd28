"""Connecting to the platforms: test connection, states sync, Allegro device flow, the states API."""

from __future__ import annotations

import pytest

from app.accounts.services import create_api_token
from app.extensions import db
from app.integrations import services, state_mappings
from app.integrations.base import AuthenticationFailed
from app.integrations.models import Integration, IntegrationRun
from app.jobs import tasks
from app.orders.services import Actor, change_status
from app.sync.push import push_status_change
from app.sync.models import SyncOperation
from tests.factories import make_integration, make_order, make_user, map_status


@pytest.fixture
def shop(app, fake_prestashop):
    return make_integration("prestashop", settings={"shop_url": fake_prestashop.url, "language_id": 2},
                            credentials={"api_key": fake_prestashop.api_key})


@pytest.fixture
def allegro_app(app, fake_allegro):
    return make_integration("allegro", direction="push", settings={
        "environment": "sandbox", "client_id": fake_allegro.client_id, "api_url": fake_allegro.api_url,
        "auth_url": fake_allegro.auth_url}, credentials={"client_secret": fake_allegro.client_secret})


def test_connection_test_says_what_happened(shop, fake_prestashop, retry_sleeps):
    assert services.test_connection(shop.id).connection_state == "ok"
    assert "PrestaShop" in shop.connection_message
    credentials = shop.credentials
    credentials["api_key"] = "WRONGKEYWRONGKEYWRONGKEYWRONGKEY"
    shop.credentials = credentials
    db.session.commit()
    tested = services.test_connection(shop.id)
    assert tested.connection_state == "error" and "refused the webservice key" in tested.connection_message


def test_states_sync_names_states_in_the_chosen_language_and_logs_a_run(shop, fake_prestashop, retry_sleeps):
    counts = state_mappings.sync_states(shop.id)
    assert counts["states"] == 13 and counts["added"] == 13
    names = {s.external_id: s.name for s in shop.states}
    assert names["2"] != "Payment accepted"  # language 2 is Polish in the fake
    fake_prestashop.add_state(99, {"1": "Waiting for supplier", "2": "Czeka na dostawcę"})
    counts = state_mappings.sync_states(shop.id)
    assert counts["added"] == 1
    assert {s.external_id: s.name for s in db.session.get(Integration, shop.id).states}["99"] == "Czeka na dostawcę"
    runs = db.session.scalars(db.select(IntegrationRun).where(IntegrationRun.kind == "states_sync")).all()
    assert len(runs) == 2 and all(r.ok for r in runs)


def test_states_no_longer_offered_are_kept_but_inactive(shop, fake_prestashop, retry_sleeps):
    state_mappings.sync_states(shop.id)
    with fake_prestashop.lock:
        del fake_prestashop.states["12"]
    assert state_mappings.sync_states(shop.id)["deactivated"] == 1
    state = next(s for s in db.session.get(Integration, shop.id).states if s.external_id == "12")
    assert state.active is False


def test_allegro_states_come_from_the_spec_with_returned_read_only(allegro_app, fake_allegro, retry_sleeps):
    access, refresh = fake_allegro.issue_tokens()
    allegro_app.credentials = {**allegro_app.credentials, "access_token": access, "refresh_token": refresh}
    db.session.commit()
    state_mappings.sync_states(allegro_app.id)
    states = {s.external_id: s for s in allegro_app.states}
    assert set(states) == {"NEW", "PROCESSING", "READY_FOR_SHIPMENT", "READY_FOR_PICKUP", "SENT", "PICKED_UP",
                           "CANCELLED", "SUSPENDED", "RETURNED"}
    assert states["RETURNED"].read_only and not states["SENT"].read_only


def test_allegro_device_flow_connects_and_stores_tokens_encrypted(allegro_app, fake_allegro, retry_sleeps):
    pending = services.start_allegro_connection(allegro_app.id)
    assert pending["user_code"] and pending["verification_uri"]
    assert services.poll_allegro_connection(allegro_app.id) == "pending"
    fake_allegro.confirm_device(pending["user_code"])
    assert services.poll_allegro_connection(allegro_app.id) == "connected"
    integration = db.session.get(Integration, allegro_app.id)
    assert integration.credentials["access_token"] in fake_allegro.access_tokens
    assert integration.credentials["access_token"] not in integration.credentials_encrypted
    assert integration.token_expires_at is not None and integration.connection_state == "ok"
    assert services.test_connection(allegro_app.id).connection_state == "ok"


def test_a_declined_device_flow_says_so(allegro_app, fake_allegro, retry_sleeps):
    pending = services.start_allegro_connection(allegro_app.id)
    fake_allegro.deny_device(pending["user_code"])
    with pytest.raises(AuthenticationFailed, match="declined"):
        services.poll_allegro_connection(allegro_app.id)
    assert db.session.get(Integration, allegro_app.id).connection_state == "error"


def test_states_api_refreshes_a_prestashop_store(client, shop, fake_prestashop, retry_sleeps):
    _, raw = create_api_token(make_user("operator"), "sync")
    headers = {"Authorization": f"Bearer {raw}"}
    response = client.post(f"/api/v1/sync/prestashop?store_id={shop.id}", headers=headers)
    assert response.status_code == 200 and response.json["counts"]["states"] == 13
    assert {"id": "2", "name": response.json["states"][1]["name"], "active": True} in response.json["states"]
    assert client.post("/api/v1/sync/prestashop", headers=headers).status_code == 422
    assert client.post("/api/v1/sync/prestashop?store_id=9999", headers=headers).status_code == 404
    fake_prestashop.fail_rate = 1.0
    failed = client.post(f"/api/v1/sync/prestashop?store_id={shop.id}", headers=headers)
    assert failed.status_code == 502 and failed.json["error"]["code"] == "platform_error"


def test_sweeper_logs_pushed_skipped_and_failed_counts(shop, fake_prestashop, retry_sleeps):
    state_mappings.sync_states(shop.id)
    shop.sync_direction = "push"
    db.session.commit()
    map_status(shop, "paid", "2", "push")
    pushed = make_order("awaiting_payment", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    skipped = make_order("paid", integration_id=shop.id, external_order_id=fake_prestashop.add_order())
    failed = make_order("awaiting_payment", integration_id=shop.id, external_order_id="404404")
    actor = Actor("Olga", "manual")
    for order, status in ((pushed, "paid"), (skipped, "picking"), (failed, "paid")):
        change_status(order.id, status, actor)
    for operation in db.session.scalars(db.select(SyncOperation)).all():
        push_status_change(operation.id)

    assert tasks.sweep_outbox()["enqueued"] == 0
    run = db.session.scalars(db.select(IntegrationRun).where(IntegrationRun.kind == "status_push")).one()
    assert run.counts == {"pushed": 1, "skipped": 1, "superseded": 0, "failed": 1, "cancelled": 0}
