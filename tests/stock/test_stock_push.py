"""Stock updates to Allegro and PrestaShop: recorded with every change, delivered, closed per offer."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.catalog.models import ProductLink
from app.core import ratelimit
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.stock import allegro_push, documents, stock_push, stock_sync
from app.stock.models import StockSyncAttempt
from app.sync.models import SyncOperation
from tests.factories import make_integration
from tests.fakes.allegro_spec import response_violations
from tests.fakes.allegro_stock import QUANTITY, FakeAllegroStock
from tests.fakes.prestashop_stock import FakePrestaShopStock
from tests.stock.conftest import KEEPER, stocked


@pytest.fixture
def allegro():
    with FakeAllegroStock() as fake:
        yield fake
        assert fake.handler_errors == []


def allegro_account(fake):
    access, refresh = fake.issue_tokens()
    integration = make_integration("allegro", direction="both", name="Allegro Ania", settings={
        "environment": "sandbox", "client_id": fake.client_id, "api_url": fake.api_url, "auth_url": fake.auth_url},
        credentials={"client_secret": fake.client_secret, "access_token": access, "refresh_token": refresh})
    integration.token_expires_at = utcnow() + timedelta(hours=12)
    db.session.commit()
    return integration


def link(product, integration, offer_id: str, combination: str = "0") -> ProductLink:
    row = ProductLink(integration_id=integration.id, product_id=product.id, external_product_id=offer_id,
                      external_combination_id=combination)
    db.session.add(row)
    db.session.commit()
    return row


def updates() -> list[SyncOperation]:
    return list(db.session.scalars(select(SyncOperation).where(SyncOperation.kind == "stock_update")
                                   .order_by(SyncOperation.id).execution_options(populate_existing=True)))


def test_every_change_records_one_update_per_offer_and_pending_ones_collapse(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    link(mug, integration, "7001")
    documents.receive(warehouse.id, [(mug.id, 5)], KEEPER)
    documents.receive(warehouse.id, [(mug.id, 3)], KEEPER)
    [update] = updates()
    assert update.state == "pending" and update.subject == f"link:{update.payload['link_id']}"
    assert update.payload["quantity"] == 8 and update.payload["offer_id"] == "7001"


def test_a_product_without_channel_links_records_nothing(app, warehouse):
    mug = stocked("KUB-350", 5, warehouse)
    documents.correct(warehouse.id, mug.id, 4, KEEPER)
    assert updates() == []


def test_allegro_gets_one_fixed_command_per_quantity_and_each_offer_closes_from_its_task(app, warehouse, allegro):
    integration = allegro_account(allegro)
    products = [stocked(f"P-{n}", 0, warehouse) for n in range(3)]
    for n, product in enumerate(products):
        allegro.add_offer(f"80{n}", available=99)
        link(product, integration, f"80{n}")
    allegro.add_offer("900", available=1)
    documents.receive(warehouse.id, [(products[0].id, 4), (products[1].id, 4), (products[2].id, 6)], KEEPER)

    stock_push.deliver_due(integration.id)

    assert [allegro.available(o) for o in ("800", "801", "802", "900")] == [4, 4, 6, 1]
    assert {op.state for op in updates()} == {"done"}
    assert len(allegro.commands) == 2  # 4 units for two offers in one command, 6 for the third
    puts = [r for r in allegro.requests_log if r.method == "PUT"]
    bodies = sorted((r.path, r.body) for r in puts)
    assert all(b'"changeType": "FIXED"' in body for _, body in bodies)
    assert allegro.spec_violations == []
    report = {"id": "x", "createdAt": "2026-12-02T10:00:00.000Z", "completedAt": None,
              "taskCount": {"total": 1, "success": 1, "failed": 0}}
    assert response_violations("PUT", QUANTITY, 201, report) == []
    assert "quantity set to 4" in updates()[0].result
    attempts = db.session.scalars(select(StockSyncAttempt)).all()
    assert len(attempts) == 3 and {a.outcome for a in attempts} == {"done"}


def test_the_command_id_comes_from_the_operations_so_a_retry_is_the_same_command(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    allegro.add_offer("7001")
    link(mug, integration, "7001")
    documents.receive(warehouse.id, [(mug.id, 5)], KEEPER)
    # The first PUT is applied but its answer is lost; the client's retry sends the same command.
    allegro.drop_next(1, on="PUT /sale/offer-quantity-change-commands/", after=True)
    stock_push.deliver_due(integration.id)
    [update] = updates()
    assert update.state == "done" and "read back" in update.result
    assert len(allegro.put_attempts) == 2 and len(set(allegro.put_attempts)) == 1
    assert len(allegro.applied) == 1
    assert update.payload["command"] == allegro_push.command_id_for(integration.id, 5, [(update.id, 1)])


def test_allegro_down_reschedules_with_backoff_and_a_later_attempt_delivers(app, warehouse, allegro):
    app.config["STOCK_SYNC_BACKOFF_INITIAL"] = 60
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    allegro.add_offer("7001")
    link(mug, integration, "7001")
    documents.receive(warehouse.id, [(mug.id, 5)], KEEPER)
    allegro.fail_next(3, 503, retry_after=0, on="PUT /sale/")
    stock_push.deliver_due(integration.id)
    [update] = updates()
    assert update.state == "pending" and update.attempts == 1
    assert 40 <= (update.next_attempt_at - utcnow()).total_seconds() <= 80
    assert db.session.scalar(select(StockSyncAttempt.outcome)) == "retry"
    update.next_attempt_at = utcnow()
    db.session.commit()
    stock_push.deliver_due(integration.id)
    assert updates()[0].state == "done" and allegro.available("7001") == 5


def test_nothing_left_ends_the_allegro_offer(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 2, warehouse)
    allegro.add_offer("7001", available=2)
    link(mug, integration, "7001")
    documents.correct(warehouse.id, mug.id, 0, KEEPER)
    stock_push.deliver_due(integration.id)
    assert allegro.offers["7001"] == {"available": 0, "status": "ENDED"}
    assert "offer ended" in updates()[0].result


def test_an_offer_kontor_ended_at_0_is_resumed_when_stock_comes_back(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 2, warehouse)
    allegro.add_offer("7001", available=2)
    offer = link(mug, integration, "7001")
    documents.correct(warehouse.id, mug.id, 0, KEEPER)
    stock_push.deliver_due(integration.id)
    assert allegro.status("7001") == "ENDED"
    documents.receive(warehouse.id, [(mug.id, 4)], KEEPER)
    stock_push.deliver_due(integration.id)
    assert allegro.offers["7001"] == {"available": 4, "status": "ACTIVE"}
    # The quantity first (Allegro activates only with stock above 0), then ACTIVATE, each command once.
    assert [value for _, _, value in allegro.applied] == ["END", 4, "ACTIVATE"]
    resumed = updates()[-1]
    assert resumed.state == "done" and "ended offer resumed" in resumed.result
    activate = allegro_push.activation_id_for(resumed.payload["command"])
    assert f"PUT /sale/offer-publication-commands/{activate}" in [f"{r.method} {r.path}" for r in allegro.requests_log]
    actions = db.session.scalars(select(StockSyncAttempt.action).where(
        StockSyncAttempt.operation_id == resumed.id)).all()
    assert actions == ["allegro quantity 4", "allegro activate"]
    db.session.refresh(offer)
    assert allegro_push.ENDED not in offer.meta
    assert allegro.spec_violations == []


def test_an_offer_allegro_ended_when_it_sold_out_is_resumed_but_one_the_seller_ended_is_not(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug, plate = stocked("KUB-350", 0, warehouse), stocked("TAL-1", 0, warehouse)
    allegro.add_offer("7001", available=1)
    allegro.add_offer("7002", available=3, status="ENDED")  # ended by hand while it still had stock
    link(mug, integration, "7001")
    link(plate, integration, "7002")
    allegro.sell_out("7001")
    stock_sync.reconcile(integration.id)  # reads the offer list: 7001 ENDED with nothing available
    documents.receive(warehouse.id, [(mug.id, 5), (plate.id, 5)], KEEPER)
    stock_push.deliver_due(integration.id)
    assert allegro.offers["7001"] == {"available": 5, "status": "ACTIVE"}
    assert allegro.offers["7002"] == {"available": 5, "status": "ENDED"}
    assert [(offer, value) for _, offer, value in allegro.applied if value == "ACTIVATE"] == [("7001", "ACTIVATE")]
    assert {op.state for op in updates()} == {"done"}


def test_an_offer_allegro_refuses_to_resume_fails_with_allegros_reason(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    allegro.add_offer("7001", available=0, status="ENDED")
    offer = link(mug, integration, "7001")
    allegro_push.note_allegro_ended(offer, True)
    db.session.commit()
    documents.receive(warehouse.id, [(mug.id, 2)], KEEPER)
    original = allegro._put_command

    def keep_refusing(request, command_id, kind):  # someone sells the units between the two commands
        response = original(request, command_id, kind)
        if kind == "quantity":
            allegro.offers["7001"]["available"] = 0
        return response

    allegro._put_command = keep_refusing
    stock_push.deliver_due(integration.id)
    [operation] = updates()
    assert operation.state == "failed"
    assert "did not resume the ended offer: The offer cannot be activated without stock." in operation.last_error


def test_an_offer_allegro_does_not_know_fails_with_allegros_reason(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    link(mug, integration, "404404")
    documents.receive(warehouse.id, [(mug.id, 1)], KEEPER)
    stock_push.deliver_due(integration.id)
    [update] = updates()
    assert update.state == "failed" and "The offer does not exist." in update.last_error


def test_a_retry_sends_the_quantity_of_now_not_of_the_wish(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    allegro.add_offer("7001")
    link(mug, integration, "7001")
    documents.receive(warehouse.id, [(mug.id, 5)], KEEPER)
    allegro.fail_next(3, 503, retry_after=0, on="PUT /sale/")
    stock_push.deliver_due(integration.id)
    # Meanwhile more stock arrives; the waiting update collapses and the next attempt sends 9.
    documents.receive(warehouse.id, [(mug.id, 4)], KEEPER)
    [update] = updates()
    assert update.payload["quantity"] == 9
    stock_push.deliver_due(integration.id)
    assert allegro.available("7001") == 9 and updates()[0].state == "done"


# --- PrestaShop ----------------------------------------------------------------------------------

@pytest.fixture
def shop():
    with FakePrestaShopStock() as fake:
        yield fake
        assert fake.handler_errors == []


def test_prestashop_webservice_gets_the_quantity_in_every_stock_available_row(app, warehouse, shop):
    integration = make_integration("prestashop", settings={"shop_url": shop.url, "language_id": 1},
                                   credentials={"api_key": shop.api_key})
    mug, plate = stocked("KUB-350", 0, warehouse), stocked("TAL-1", 0, warehouse)
    shop.add_stock(11, 0, 1)
    shop.add_stock(11, 0, 1, id_shop=0, id_shop_group=2, reserved=2)
    shop.add_stock(12, 3, 6)
    link(mug, integration, "11")
    link(plate, integration, "12", "3")
    documents.receive(warehouse.id, [(mug.id, 6), (plate.id, 6)], KEEPER)
    stock_push.deliver_due(integration.id)
    assert shop.quantity(11) == [6, 6] and shop.quantity(12, 3) == [6]
    assert [row["physical_quantity"] for row in shop.stock.values()][:2] == ["6", "8"]
    results = sorted(op.result for op in updates())
    assert results == ["PrestaShop product 11/0: quantity 6 (written).", "PrestaShop product 12/3: quantity 6 "
                       "(already so)."]
    assert len(shop.stock_puts) == 2


def test_prestashop_database_driver_writes_set_based(app, warehouse, prestashop_db):
    integration = make_integration("prestashop", settings={"shop_url": "http://shop.test", "language_id": 1,
                                                           "database": {"prefix": "ps_", "shop_ids": [1, 2]}},
                                   credentials={"api_key": "KEY", "db_dsn": prestashop_db.dsn})
    mug = stocked("KRZ-001", 0, warehouse)
    link(mug, integration, "1")
    documents.receive(warehouse.id, [(mug.id, 3)], KEEPER)
    stock_push.deliver_due(integration.id)
    [update] = updates()
    assert update.state == "done", update.last_error
    rows = prestashop_db.rows("stock_available", "id_product = 1 AND id_product_attribute = 0 AND id_shop IN (0, 1)")
    assert {(r["id_shop"], r["quantity"], r["physical_quantity"] - r["reserved_quantity"]) for r in rows} == {
        (1, 3, 3), (0, 3, 3)}


def test_a_retried_part_of_a_group_whose_command_lacks_it_gets_a_command_of_its_own(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug, plate = stocked("KUB-350", 0, warehouse), stocked("TAL-1", 0, warehouse)
    for product, offer in ((mug, "7001"), (plate, "7002")):
        allegro.add_offer(offer)
        link(product, integration, offer)
    documents.receive(warehouse.id, [(mug.id, 5), (plate.id, 5)], KEEPER)
    allegro.fail_next(3, 503, retry_after=0, on="PUT /sale/")
    stock_push.deliver_due(integration.id)
    first, second = updates()
    assert first.payload["command"] == second.payload["command"]
    # Only the second is due again: its retry registers the noted command with its offer alone.
    second.next_attempt_at = utcnow()
    db.session.commit()
    stock_push.deliver_due(integration.id)
    first.next_attempt_at = utcnow()
    db.session.commit()
    stock_push.deliver_due(integration.id)  # 409 and no task for 7001: the note is dropped
    first = updates()[0]
    assert first.state == "pending" and "command" not in first.payload
    first.next_attempt_at = utcnow()
    db.session.commit()
    stock_push.deliver_due(integration.id)
    assert [op.state for op in updates()] == ["done", "done"]
    assert allegro.available("7001") == 5 and allegro.available("7002") == 5


def test_allegro_commands_keep_to_the_specs_offer_changes_per_minute(app, monkeypatch):
    """The quantity commands are limited to 9,000 offer changes a minute per user (Allegro's spec)."""
    monkeypatch.setattr(allegro_push.time, "time", lambda: 1_800_000_000.0)
    integration_id = 424242
    assert [allegro_push._budget(integration_id, 1000) for _ in range(9)] == [0] * 9
    wait = allegro_push._budget(integration_id, 1000)
    assert 59 < wait <= 61  # the 10th thousand waits until the first has left the minute's window
    assert allegro_push._budget(integration_id, 1000) == wait  # a refused command used none of the budget
    monkeypatch.setattr(allegro_push.time, "time", lambda: 1_800_000_061.0)
    assert allegro_push._budget(integration_id, 1000) == 0


def receipt_after_others_spent(allegro, warehouse, limit, amount: int, seconds_ago: float):
    """A receipt of 5 mugs for offer 7001, once `amount` of Allegro's `limit` was spent `seconds_ago`."""
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    allegro.add_offer("7001", available=0)
    link(mug, integration, "7001")
    ratelimit.spend(redis_connection.client, f"kontor:allegro:{integration.id}", time.time() - seconds_ago,
                    [(limit, amount)])
    documents.receive(warehouse.id, [(mug.id, 5)], KEEPER)
    return integration


def test_a_command_waits_in_the_batch_for_the_minutes_window_and_then_goes(app, warehouse, allegro):
    integration = receipt_after_others_spent(allegro, warehouse, allegro_push.CHANGES_PER_MINUTE, 9000,
                                             seconds_ago=58.0)

    started = time.monotonic()
    stock_push.deliver_due(integration.id)
    assert time.monotonic() - started >= 0.5  # sent once the other changes left the window, not before
    [update] = updates()
    assert update.state == "done" and allegro.available("7001") == 5


def test_the_hourly_limit_parks_the_offers_and_says_when_they_go(app, warehouse, allegro):
    integration = receipt_after_others_spent(allegro, warehouse, allegro_push.CHANGES_PER_HOUR, 250_000,
                                             seconds_ago=600)

    stock_push.deliver_due(integration.id)
    [update] = updates()
    assert update.state == "pending" and update.attempts == 0
    assert update.next_attempt_at > utcnow() + timedelta(minutes=45)
    logged = db.session.scalars(select(StockSyncAttempt).where(StockSyncAttempt.operation_id == update.id)).all()
    assert [row.outcome for row in logged] == ["throttled"] and "hourly limit" in logged[0].detail
    assert allegro.available("7001") == 0  # nothing was sent
