"""Fixtures for monitoring tests: alert channel fakes, and helpers to make stuck work."""

from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest

from app.core.types import utcnow
from app.extensions import db
from app.sync import outbox
from app.sync.models import SyncOperation
from tests.fakes.alerting import FakeSlack, FakeSmtp, FakeTelegram


@pytest.fixture
def telegram(app) -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        app.config["TELEGRAM_API_URL"] = fake.base_url
        yield fake


@pytest.fixture
def slack(app) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def smtp(app) -> Iterator[FakeSmtp]:
    fake = FakeSmtp().start()
    yield fake
    fake.stop()


@pytest.fixture
def local_channels_allowed(app):
    """The fakes listen on 127.0.0.1, which the address guard refuses unless an admin allowed it."""
    app.config["ALERT_ALLOWED_HOSTS"] = frozenset({"127.0.0.1"})


def stuck_push(integration_id: int, order_id: int | None = None, hours: float = 7) -> SyncOperation:
    """A status push recorded `hours` ago and never delivered (a worker that never came)."""
    operation = outbox.record("status_push", integration_id, {"to_status": "paid"}, order_id)
    then = utcnow() - timedelta(hours=hours)
    operation.created_at = operation.next_attempt_at = then
    db.session.commit()
    return operation
