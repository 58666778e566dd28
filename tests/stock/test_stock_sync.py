"""The stock sync's API, reconciliation with the channels, and the daily cleanup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.services import create_api_token
from app.core.types import utcnow
from app.extensions import db
from app.stock import documents, stock_push, stock_sync
from app.stock.models import StockDifference, StockSyncAttempt
from app.sync.models import SyncOperation
from tests.factories import make_user
from tests.fakes.allegro_stock import FakeAllegroStock
from tests.stock.conftest import KEEPER, stocked
from tests.stock.test_stock_push import allegro_account, link, updates


@pytest.fixture
def allegro():
    with FakeAllegroStock() as fake:
        yield fake
        assert fake.handler_errors == []


def auth(role: str = "operator") -> dict:
    _, raw = create_api_token(make_user(role), "stock")
    return {"Authorization": f"Bearer {raw}"}


def test_status_pending_retry_and_cancel_over_the_api(app, client, warehouse, allegro):
    integration = allegro_account(allegro)
    mug, plate = stocked("KUB-350", 0, warehouse), stocked("TAL-1", 0, warehouse)
    link(mug, integration, "404")  # Allegro does not know it: fails
    link(plate, integration, "7002")
    allegro.add_offer("7002")
    documents.receive(warehouse.id, [(mug.id, 2)], KEEPER)
    stock_push.deliver_due(integration.id)
    documents.receive(warehouse.id, [(plate.id, 2)], KEEPER)
    headers = auth()
    status = client.get("/api/v1/stock-sync/status", headers=headers).json
    assert (status["pending"], status["failed"], status["status"]) == (1, 1, "warning")
    listing = client.get("/api/v1/stock-sync/pending?status=failed&limit=10", headers=headers).json
    [failed] = listing["operations"]
    assert listing["total"] == 1 and failed["offer_id"] == "404" and "does not exist" in failed["last_error"]
    assert client.get("/api/v1/stock-sync/pending?status=nonsense", headers=headers).status_code == 400
    assert client.get("/api/v1/stock-sync/pending?limit=99999999999999999999", headers=headers).status_code == 400
    [waiting] = client.get("/api/v1/stock-sync/pending?status=pending", headers=headers).json["operations"]
    cancelled = client.delete(f"/api/v1/stock-sync/cancel/{waiting['id']}", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json["operation"]["state"] == "cancelled"
    retried = client.post(f"/api/v1/stock-sync/retry/{failed['id']}", headers=headers)
    assert retried.status_code == 200 and retried.json["operation"]["state"] == "pending"
    assert client.post("/api/v1/stock-sync/retry/999999", headers=headers).status_code == 404
    assert client.post(f"/api/v1/stock-sync/retry/{failed['id']}", headers=auth("viewer")).status_code == 403
    assert client.get("/api/v1/stock-sync/status").status_code == 401


def test_reconciliation_lists_differences_and_fixes_old_ones(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug, plate = stocked("KUB-350", 0, warehouse), stocked("TAL-1", 0, warehouse)
    link(mug, integration, "7001")
    link(plate, integration, "7002")
    allegro.add_offer("7001")
    allegro.add_offer("7002")
    documents.receive(warehouse.id, [(mug.id, 5), (plate.id, 5)], KEEPER)
    stock_push.deliver_due(integration.id)
    # Someone changes both offers' stock by hand on Allegro.
    allegro.offers["7001"]["available"] = 2
    allegro.offers["7002"]["available"] = 9
    assert stock_sync.reconcile(integration.id) == {"checked": 2, "differences": 2, "fixed": 0}
    assert {(d.kontor_quantity, d.channel_quantity) for d in stock_sync.differences()} == {(5, 2), (5, 9)}
    old = db.session.scalar(select(StockDifference).where(StockDifference.channel_quantity == 2))
    old.first_seen_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert stock_sync.reconcile(integration.id)["fixed"] == 1
    stock_push.deliver_due(integration.id)
    assert allegro.available("7001") == 5 and allegro.available("7002") == 9
    outcome = stock_sync.reconcile_all(fix_all=True)
    assert outcome["Allegro Ania"]["fixed"] == 1
    stock_push.deliver_due(integration.id)
    assert allegro.available("7002") == 5
    assert stock_sync.reconcile(integration.id) == {"checked": 2, "differences": 0, "fixed": 0}
    assert stock_sync.differences() == []


def test_cleanup_removes_what_finished_over_30_days_ago(app, warehouse, allegro):
    integration = allegro_account(allegro)
    mug = stocked("KUB-350", 0, warehouse)
    link(mug, integration, "7001")
    allegro.add_offer("7001")
    documents.receive(warehouse.id, [(mug.id, 1)], KEEPER)
    stock_push.deliver_due(integration.id)
    documents.receive(warehouse.id, [(mug.id, 1)], KEEPER)
    [old, new] = updates()
    old.finished_at = utcnow() - timedelta(days=31)
    for attempt in db.session.scalars(select(StockSyncAttempt)):
        attempt.at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert stock_sync.cleanup() == {"operations": 1, "attempts": 1}
    assert [op.id for op in db.session.scalars(select(SyncOperation))] == [new.id]
