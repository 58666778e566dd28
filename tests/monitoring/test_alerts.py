"""Alerts: one when a condition starts, one when it clears; a channel that is down gets them when it is back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.jobs.tasks import heartbeat
from app.monitoring import alert_channels, alerts
from app.monitoring.channels import sign
from app.monitoring.models import AlertChannel, AlertIncident
from app.sync import claims, outbox
from app.sync.models import SyncOperation
from tests.conftest import csrf_from
from tests.factories import make_integration, make_user
from tests.fakes.server import FakeServer
from tests.monitoring.conftest import stuck_push

def only(rule_key: str) -> None:
    """Switch every rule off but one, so queues without workers in the test do not alert too."""
    for spec in alerts.RULES:
        alerts.save_rule(spec.key, spec.key == rule_key, "")


def deliver_due() -> list[str]:
    """What a worker does with the alert operations the sweeper enqueues (the stuck push stays stuck)."""
    alerts_due = {op.id for op in alert_operations()}
    return [outbox.deliver(op_id) for op_id, _job in claims.due() if op_id in alerts_due]


def alert_operations() -> list[SyncOperation]:
    return list(db.session.scalars(select(SyncOperation).where(SyncOperation.kind == "alert")
                                   .order_by(SyncOperation.id)))


@pytest.fixture
def channels(app, local_channels_allowed, telegram, slack, smtp):
    made = [
        alert_channels.save_channel(None, {"kind": "telegram", "name": "Telegram", "bot_token": telegram.token,
                                   "chat_id": "-1001234567890"}),
        alert_channels.save_channel(None, {"kind": "slack", "name": "Slack", "webhook_url": slack.url}),
        alert_channels.save_channel(None, {"kind": "email", "name": "E-mail", "host": "127.0.0.1", "port": str(smtp.port),
                                   "sender": "kontor@example.com", "recipients": "owner@example.com"}),
    ]
    return made


def test_a_persisting_condition_alerts_once_and_its_end_once(app, channels, telegram, slack, smtp):
    only("stale")
    shop = make_integration("prestashop", name="Sklep Ania")
    stuck = stuck_push(shop.id)

    assert alerts.check()["opened"] == 1
    deliver_due()
    for _ in range(3):  # the check runs every 5 minutes while the push stays stuck
        assert alerts.check() == {"opened": 0, "cleared": 0, "open": 1}
        deliver_due()
    assert len(telegram.texts) == len(slack.texts) == len(smtp.subjects) == 1
    assert "Status push of Sklep Ania: the oldest waiting operation has waited more than 6 hours" in telegram.texts[0]
    assert telegram.messages[0]["chat_id"] == "-1001234567890"

    stuck.state = "cancelled"
    db.session.commit()
    assert alerts.check()["cleared"] == 1
    deliver_due()
    alerts.check()
    deliver_due()
    assert len(telegram.texts) == len(slack.texts) == len(smtp.subjects) == 2
    assert slack.texts[1].startswith("✔ Kontor, resolved:")
    [incident] = db.session.scalars(select(AlertIncident))
    assert incident.cleared_at is not None


def test_a_channel_that_is_down_gets_the_alert_when_it_is_back(app, channels, slack, smtp, telegram):
    app.config["SYNC_BACKOFF_INITIAL"] = 0  # retry at once instead of in a minute
    only("stale")
    stuck_push(make_integration("prestashop").id)
    slack.fail_next(2, 503)
    smtp.stop()

    alerts.check()
    deliver_due()
    assert len(telegram.texts) == 1 and slack.texts == [] and smtp.subjects == []
    waiting = [op for op in alert_operations() if op.state == "pending"]
    assert len(waiting) == 2 and all(op.last_error for op in waiting)
    assert "could not take the message" in db.session.get(AlertChannel, channels[2].id).last_error
    with force_locale("pl"):  # what the alert settings page shows a Polish reader
        assert "nie przyjął wiadomości" in db.session.get(AlertChannel, channels[2].id).error_text

    deliver_due()  # Slack still answers 503 once more; the mail server is still down
    smtp.start()
    deliver_due()
    deliver_due()
    assert len(slack.texts) == 1 and len(smtp.subjects) == 1 and len(telegram.texts) == 1
    assert smtp.subjects[0].startswith("⚠ Kontor:")
    assert {op.state for op in alert_operations()} == {"done"}


def test_a_signed_webhook_channel_signs_what_it_sends(app, local_channels_allowed):
    class Receiver(FakeServer):
        def handle(self, request):
            return Response("", status=204)

    with Receiver() as receiver:
        channel = alert_channels.save_channel(None, {"kind": "webhook", "name": "Ops", "url": receiver.base_url + "/hook",
                                             "secret": "s3cret"})
        assert alert_channels.send_test(channel.id) == "Test message sent to the webhook."
        [request] = receiver.requests_log
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["webhook-signature"] == sign(headers["webhook-id"], int(headers["webhook-timestamp"]),
                                                request.body, "s3cret")


def test_channel_addresses_must_not_reach_internal_hosts(app):
    for url in ("http://127.0.0.1:6379/", "http://10.0.0.5/hook", "http://[::1]/x", "http://169.254.169.254/latest"):
        with pytest.raises(ValidationFailed, match="local or private network address"):
            alert_channels.save_channel(None, {"kind": "slack", "name": "Slack", "webhook_url": url})
    with pytest.raises(ValidationFailed, match="local or private network address"):
        alert_channels.save_channel(None, {"kind": "email", "name": "Mail", "host": "localhost", "port": "25",
                                   "sender": "a@example.com", "recipients": "b@example.com"})
    with pytest.raises(ValidationFailed, match="bot token looks like"):
        alert_channels.save_channel(None, {"kind": "telegram", "name": "T", "bot_token": "nope", "chat_id": "1"})
    assert db.session.scalars(select(AlertChannel)).all() == []


def test_credentials_are_encrypted_and_never_shown(app, client, login, local_channels_allowed, telegram):
    channel = alert_channels.save_channel(None, {"kind": "telegram", "name": "Telegram", "bot_token": telegram.token,
                                         "chat_id": "42"})
    assert telegram.token not in (db.session.get(AlertChannel, channel.id).credentials_encrypted or "")
    login(make_user("admin"))
    page = client.get("/settings/alerts").get_data(as_text=True)
    assert "Telegram" in page and telegram.token not in page and telegram.token[-4:] in page


def test_send_test_from_settings_and_rule_thresholds(app, client, login, local_channels_allowed, slack):
    token = login(make_user("admin"))
    page = client.get("/settings/alerts").get_data(as_text=True)
    answer = client.post("/settings/alerts/channels", data={"csrf_token": csrf_from(page), "kind": "slack",
                                                            "name": "Team", "webhook_url": slack.url,
                                                            "enabled_shown": "1", "enabled": "1"})
    assert answer.status_code == 302
    channel = db.session.scalar(select(AlertChannel))
    client.post(f"/settings/alerts/channels/{channel.id}/test", data={"csrf_token": token})
    assert slack.texts == ["Kontor test alert from channel “Team”: alerts reach you here."]
    assert "Test message sent to Slack." in client.get("/settings/alerts").get_data(as_text=True)

    client.post("/settings/alerts/rules/many_pending", data={"csrf_token": token, "enabled": "1",
                                                             "threshold": "2"})
    assert alerts.rule_settings()["many_pending"] == (True, 2.0)
    client.post("/settings/alerts/rules/many_pending", data={"csrf_token": token, "enabled": "1",
                                                             "threshold": "1e999"})
    assert "must be above 0" in client.get("/settings/alerts").get_data(as_text=True)
    assert alerts.rule_settings()["many_pending"] == (True, 2.0)


def test_alert_history_lists_start_and_clear(app, client, login):
    only("stale")
    shop = make_integration("prestashop", name="Sklep Ola")
    stuck = stuck_push(shop.id)
    alerts.check()
    stuck.state = "cancelled"
    db.session.commit()
    alerts.check()
    login(make_user("viewer"))
    page = client.get("/health/alerts").get_data(as_text=True)
    assert "Status push of Sklep Ola" in page and "cleared" in page


def test_rules_name_unserved_queues_a_stopped_scheduler_and_integrations_to_reconnect(app):
    shop = make_integration("allegro", name="Allegro konto")
    shop.token_expires_at = utcnow() + timedelta(days=2, minutes=5)
    db.session.commit()
    found = alerts.conditions(alerts.context())
    assert found[("no_worker", "queue:import")] == "No worker serves the “import” queue; 0 job(s) wait."
    assert "never ran" in found[("no_worker", "scheduler")]
    assert "its access token expires in 2 days" in found[("integration", f"integration:{shop.id}")]

    heartbeat()
    alerts.save_rule("integration", True, "1")  # warn only a day ahead
    found = alerts.conditions(alerts.context())
    assert ("no_worker", "scheduler") not in found and ("integration", f"integration:{shop.id}") not in found


def test_each_channel_gets_alerts_in_its_language_and_the_history_speaks_the_readers(
        app, client, login, local_channels_allowed, telegram, slack):
    alert_channels.save_channel(None, {"kind": "telegram", "name": "Zespół", "bot_token": telegram.token,
                               "chat_id": "-1001234567890", "locale": "pl"})
    alert_channels.save_channel(None, {"kind": "slack", "name": "Team", "webhook_url": slack.url, "locale": "en"})
    only("stale")
    shop = make_integration("prestashop", name="Sklep Ania")
    stuck = stuck_push(shop.id)

    alerts.check()
    deliver_due()
    assert telegram.texts[0].startswith("⚠ Kontor: Wysyłka statusu — Sklep Ania: najstarsza oczekująca operacja "
                                        "czeka dłużej niż 6 godz.")
    assert slack.texts[0].startswith("⚠ Kontor: Status push of Sklep Ania: the oldest waiting operation")
    [incident] = db.session.scalars(select(AlertIncident))
    assert incident.message.startswith("Status push of Sklep Ania")  # stored English, for the API and old readers

    stuck.state = "cancelled"
    db.session.commit()
    alerts.check()
    deliver_due()
    assert telegram.texts[1].startswith("✔ Kontor, rozwiązane: Wysyłka statusu — Sklep Ania")
    assert slack.texts[1].startswith("✔ Kontor, resolved: Status push of Sklep Ania")

    user = make_user("operator")
    user.locale = "pl"
    db.session.commit()
    login(user)
    history = client.get("/health/alerts").get_data(as_text=True)
    assert "Wysyłka statusu — Sklep Ania: najstarsza oczekująca operacja" in history
    assert "Historia alertów" in history and "ustąpił" in history
