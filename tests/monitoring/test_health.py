"""The sync health page and API: numbers per integration and kind, verdicts in words, the lists behind them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.accounts.services import create_api_token
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.inbound import ledger
from app.monitoring import health
from app.orders.models import OrderEvent
from app.suppliers import imports, services as feeds
from app.suppliers.models import FeedImport
from app.sync.operations import KindStats
from app.sync.models import SyncOperation
from tests.factories import make_integration, make_order, make_user
from tests.monitoring.conftest import stuck_push

NOW = utcnow()


def test_verdicts_say_why_in_words():
    assert health.verdict(KindStats(1, "status_push", done_today=5), NOW) == ("healthy", ["everything flows"])
    level, reasons = health.verdict(KindStats(1, "status_push", pending=1, stale=1,
                                              oldest_pending_at=NOW - timedelta(hours=7)), NOW)
    assert level == "critical" and reasons == ["1 waiting for more than 6 hours"]
    level, reasons = health.verdict(KindStats(1, "stock_update", failed=2, finished_recently=10, failed_recently=3),
                                    NOW)
    assert level == "warning"
    assert reasons == ["30% of the last 30 minutes' work failed", "2 failed and need a retry or a cancel"]
    level, reasons = health.verdict(KindStats(1, "stock_update", pending=1500, oldest_pending_at=NOW), NOW)
    assert (level, reasons) == ("warning", ["1500 waiting (more than 1000)"])


def test_integrations_needing_attention_say_what_to_do():
    class Shop:
        enabled, connection_state, connection_message, token_expires_at = True, "ok", "", None

    shop = Shop()
    assert health.attention(shop, NOW) == []
    shop.token_expires_at = NOW + timedelta(days=3)
    assert health.attention(shop, NOW) == ["its access token expires in 3 days: connect it again before then"]
    shop.connection_state, shop.connection_message = "reconnect_needed", "The seller revoked access."
    assert health.attention(shop, NOW) == ["Kontor lost access to the account: connect it again "
                                           "(The seller revoked access.)"]
    shop.enabled, shop.connection_state, shop.connection_message = False, "error", "401 Unauthorized"
    assert "it is switched off after errors: 401 Unauthorized" in health.attention(shop, NOW)


def test_a_stuck_push_is_critical_and_listed_with_retry(app, client, login):
    shop = make_integration("prestashop", name="Sklep Ania")
    order = make_order("paid", integration_id=shop.id, external_order_id="17")
    operation = stuck_push(shop.id, order.id)
    token = login(make_user("operator"))

    page = client.get("/health").get_data(as_text=True)
    assert "Sklep Ania" in page and "Status push" in page
    assert "critical" in page and "1 waiting for more than 6 hours" in page

    listing = client.get(f"/health/items?integration={shop.id}&kind=status_push&bucket=stale")
    assert listing.status_code == 200
    assert f"Order {order.number}" in listing.get_data(as_text=True)

    answer = client.post(f"/health/items/status_push/{operation.id}/retry?integration={shop.id}"
                         f"&kind=status_push&bucket=stale", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert answer.status_code == 200
    db.session.expire_all()
    retried = db.session.get(SyncOperation, operation.id)
    assert (retried.state, retried.generation) == ("pending", 2)
    assert retried.job_id in redis_connection.queue("integrations").job_ids
    entry = db.session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id,
                                                       OrderEvent.kind == "push_retry_requested"))
    assert entry is not None and "asked to retry the status push to Sklep Ania" in entry.message


def test_a_refused_cancel_answers_409_with_the_reason(app, client, login):
    shop = make_integration("prestashop")
    operation = stuck_push(shop.id, hours=0)
    operation.state, operation.finished_at = "done", utcnow()
    db.session.commit()
    token = login(make_user("operator"))
    answer = client.post(f"/sync/operations/{operation.id}/cancel", headers={"X-CSRFToken": token,
                                                                             "HX-Request": "true"})
    assert answer.status_code == 409
    assert "cannot be cancelled: it was delivered already" in answer.get_data(as_text=True)
    answer = client.post(f"/health/items/status_push/{operation.id}/retry?integration={shop.id}&kind=status_push"
                         f"&bucket=done_today", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert answer.status_code == 409
    assert "cannot be retried: it was delivered already" in answer.get_data(as_text=True)
    assert db.session.get(SyncOperation, operation.id).state == "done"


def test_viewers_see_health_but_cannot_retry(app, client, login):
    shop = make_integration("prestashop")
    operation = stuck_push(shop.id)
    token = login(make_user("viewer"))
    assert client.get("/health").status_code == 200
    assert "Retry" not in client.get(f"/health/items?integration={shop.id}&kind=status_push&bucket=pending") \
        .get_data(as_text=True)
    answer = client.post(f"/health/items/status_push/{operation.id}/retry?kind=status_push&bucket=pending",
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 403
    assert client.post("/health/all/retry?kind=status_push&bucket=pending",
                       headers={"X-CSRFToken": token}).status_code == 403
    assert client.get("/settings/alerts").status_code == 403


def test_retry_all_and_cancel_all_of_a_kind(app, client, login):
    shop = make_integration("prestashop")
    stuck = [stuck_push(shop.id, make_order("paid", integration_id=shop.id).id) for _ in range(3)]
    for operation in stuck:
        operation.state = "failed"
    db.session.commit()
    token = login(make_user("operator"))
    answer = client.post(f"/health/all/retry?integration={shop.id}&kind=status_push&bucket=failed",
                         headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert "3 sent again." in answer.get_data(as_text=True)
    db.session.expire_all()
    assert {db.session.get(SyncOperation, o.id).state for o in stuck} == {"pending"}
    answer = client.post(f"/health/all/cancel?integration={shop.id}&kind=status_push&bucket=pending",
                         headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert "3 cancelled." in answer.get_data(as_text=True)
    db.session.expire_all()
    assert {db.session.get(SyncOperation, o.id).state for o in stuck} == {"cancelled"}


def test_a_failed_feed_import_is_retried_from_the_health_page(app, client, login, tmp_path):
    app.config["FEEDS_DIR"] = str(tmp_path)
    (tmp_path / "feed.csv").write_text("kod;stan\nKUB-350;4\n")
    feed = feeds.save_feed(None, name="Hurtownia", source_type="path", location=str(tmp_path / "feed.csv"),
                           format="csv")
    feeds.preview(feed.id)
    feeds.save_mapping(feed.id, {"sku": "kod", "stock_quantity": "stan"})
    failed = imports.start_import(feed.id)
    imports.fail_stalled(failed.id, minutes=-1)
    token = login(make_user("operator"))

    page = client.get("/health").get_data(as_text=True)
    assert "Feed import" in page and "1 failed and needs a retry or a cancel" in page
    answer = client.post(f"/health/items/feed_import/{failed.id}/retry?integration={feed.id}&kind=feed_import"
                         f"&bucket=failed", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert answer.status_code == 200
    again = db.session.scalar(select(FeedImport).where(FeedImport.id != failed.id))
    assert again.state == "queued" and again.feed_id == feed.id
    assert f"feed-import-{again.id}" in redis_connection.queue("import").job_ids


def test_webhook_deliveries_and_polled_orders_are_told_apart(app):
    shop = make_integration("shopify", name="Shopify shop")
    ledger.record(shop.id, "shopify", "delivery-1", b"{}", {}, topic="orders/create", resource_id="1")
    ledger.record(shop.id, "shopify", "poll:2:2026-12-01", b"{}", {}, topic="orders/updated", resource_id="2")
    db.session.commit()
    kinds = {(row.stat.kind, row.stat.pending) for row in health.snapshot().rows
             if row.stat.integration_id == shop.id}
    assert kinds == {("webhook", 1), ("order_import", 1)}


def test_api_health_sync_needs_a_token_and_lists_attention_first(app, client):
    shop = make_integration("allegro", name="Allegro konto")
    shop.connection_state = "reconnect_needed"
    db.session.commit()
    stuck_push(shop.id)
    _token, raw = create_api_token(make_user("viewer"), "monitoring")
    assert client.get("/api/v1/health/sync").status_code == 401
    data = client.get("/api/v1/health/sync", headers={"Authorization": f"Bearer {raw}"}).get_json()
    assert data["status"] == "critical"
    assert data["attention"][0]["name"] == "Allegro konto"
    assert "connect it again" in data["attention"][0]["reasons"][0]
    [row] = data["work"]
    assert (row["kind"], row["pending"], row["stale"], row["verdict"]) == ("status_push", 1, 1, "critical")
    assert row["oldest_pending_age_seconds"] >= 7 * 3600 - 5


def test_bad_list_parameters_get_a_clear_error(app, client, login):
    login(make_user("viewer"))
    answer = client.get("/health/items?kind=status_push&bucket=everything")
    assert answer.status_code == 422 and "There is no list called" in answer.get_data(as_text=True)
    assert client.get("/health/items?kind=status_push&integration=99999999999999999999999").status_code == 400
    assert client.get("/health/items?kind=status\x00push").status_code == 400


def test_metrics_need_a_bearer_token_and_speak_prometheus(app, client):
    shop = make_integration("prestashop")
    stuck_push(shop.id)
    assert client.get("/metrics").status_code == 401
    _token, raw = create_api_token(make_user("viewer"), "prometheus")
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain; version=0.0.4")
    text = answer.get_data(as_text=True)
    assert '# TYPE kontor_queue_length gauge' in text
    assert 'kontor_outbox_operations{kind="status_push",state="pending"} 1' in text
    assert 'kontor_queue_length{queue="integrations"} 1' in text
    assert "kontor_feed_rows_read_total 0" in text
