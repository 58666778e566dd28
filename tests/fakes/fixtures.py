"""Pytest fixtures for the platform fakes (listed in pytest_plugins by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.integrations.allegro.client import AllegroClient
from app.integrations.prestashop.webservice import PrestaShopWebservice
from app.sync.push import _deliver
from app.sync.shipments import _deliver_allegro, _deliver_prestashop
from tests.fakes.allegro import FakeAllegro
from tests.fakes.prestashop import FakePrestaShop
from tests.fakes.server import FakeServer

RETRYING_CALLS = (AllegroClient._call, PrestaShopWebservice._call, _deliver, _deliver_allegro, _deliver_prestashop)


@pytest.fixture
def fake_prestashop() -> Iterator[FakePrestaShop]:
    """A running FakePrestaShop with the 13 default states and no orders."""
    with FakePrestaShop() as fake:
        yield fake
        _assert_no_crash(fake)


@pytest.fixture
def fake_allegro() -> Iterator[FakeAllegro]:
    """A running FakeAllegro with no orders and no tokens (see issue_tokens, add_order)."""
    with FakeAllegro() as fake:
        yield fake
        _assert_no_crash(fake)


@pytest.fixture
def retry_sleeps(monkeypatch) -> list[float]:
    """Make the clients' retry waits instant in this process; the list gets the seconds they asked for.

    A worker in another process is not affected: make injected failures carry retry_after=0 there.
    """
    waited: list[float] = []
    for call in RETRYING_CALLS:
        monkeypatch.setattr(call.retry, "sleep", waited.append)
    return waited


def _assert_no_crash(fake: FakeServer) -> None:
    if fake.handler_errors:
        pytest.fail(f"{type(fake).__name__} crashed while answering:\n" + "\n".join(fake.handler_errors),
                    pytrace=False)
