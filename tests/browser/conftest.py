"""Browser tests: a live Kontor on a real socket, driven by Debian's headless Chromium.

Fixtures:
- `live_server`: the app on a fresh SQLite copy of the migrated template, default statuses
  and numbering seeded, an admin, an operator and a viewer, served by werkzeug on
  127.0.0.1:<free port> in a background thread, on `live_redis` (emptied first), with its own
  instance folder (uploaded feeds). `live_server.app` gives an app context for seeding and for
  reading the database back.
- `live_redis`: a Redis database this test process has to itself (see `_claim_redis_database`),
  so another test run on the same machine neither empties our queues nor takes our jobs.
- `live_workers`: real `worker.py` processes on the live server's SQLite file and Redis (see
  tests/sync/conftest.py `Workers`); their logs are kept and shown when a test fails.
- `browser`: one Chromium for the session (fails, never skips, when Chromium is missing).
- `page`: a fresh browser context (own cookies) and page per test; JavaScript errors, 5xx answers and
  Content-Security-Policy violations are kept on `page.problems`.
- `sign_in`: signs a user in through the real login form.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.settings.services import seed_defaults
from tests.conftest import _config
from tests.factories import make_user
from tests.sync.conftest import Workers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "password123"
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str
    role: str
    password: str = PASSWORD


@dataclass
class LiveServer:
    url: str
    app: object
    operator: Account
    viewer: Account
    admin: Account


def _account(user) -> Account:
    return Account(id=user.id, email=user.email, name=user.name, role=user.role)


# Redis databases a browser test process may claim (the rest of the suite uses the test URL's own,
# 15 by default). Workers of another run listening on the same queue names would otherwise take our
# jobs and run them against their own database, and its set-up would empty our queues.
CLAIMABLE_REDIS_DATABASES = range(14, 7, -1)
CLAIM_KEY = "kontor-test:claimed-by"
CLAIM_SECONDS = 6 * 3600


def _claim_value() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_is_stale(value: bytes | None) -> bool:
    """A claim left by a process of this machine that is gone (killed before it let go)."""
    if value is None:
        return True
    host, _, pid = value.decode(errors="replace").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim_redis_database(base_url: str) -> str | None:
    """The URL of a Redis database no other live test process holds, now claimed by this one."""
    root = base_url.rsplit("/", 1)[0]
    for number in CLAIMABLE_REDIS_DATABASES:
        client = redis.Redis.from_url(f"{root}/{number}")
        try:
            if client.set(CLAIM_KEY, _claim_value(), nx=True, ex=CLAIM_SECONDS):
                return f"{root}/{number}"
            with client.pipeline() as pipe:  # take over a dead process's claim, unless another one just did
                try:
                    pipe.watch(CLAIM_KEY)
                    if _claim_is_stale(pipe.get(CLAIM_KEY)):
                        pipe.multi()
                        pipe.set(CLAIM_KEY, _claim_value(), ex=CLAIM_SECONDS)
                        pipe.execute()
                        return f"{root}/{number}"
                except redis.WatchError:
                    continue
        except redis.ResponseError:  # a server with fewer databases
            return None
        finally:
            client.close()
    return None


@pytest.fixture(scope="session")
def live_redis(redis_server) -> Iterator[str]:
    """A Redis database of this test process's own (the test Redis itself if none is free)."""
    url = _claim_redis_database(redis_server)
    if url is None:
        yield redis_server
        return
    yield url
    client = redis.Redis.from_url(url)
    if client.get(CLAIM_KEY) == _claim_value().encode():
        client.flushdb()
    client.close()


def _empty_redis(url: str) -> None:
    """Drop every key but our claim (never the claim: another process could take the database meanwhile)."""
    client = redis.Redis.from_url(url)
    keys = [key for key in client.scan_iter(count=1000) if key != CLAIM_KEY.encode()]
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])
    client.close()


@pytest.fixture
def live_server(sqlite_template, live_redis, tmp_path) -> Iterator[LiveServer]:
    """Kontor served on 127.0.0.1 with a free port, on its own SQLite database and Redis database."""
    path = tmp_path / "kontor.db"
    shutil.copy(sqlite_template, path)
    # Jobs left by earlier tests carry the same stable ids (sync-op-1-g1 ...) and would block ours.
    _empty_redis(live_redis)
    # Uploaded feeds are kept under the instance folder: a test's own, not the checkout's.
    app = create_app(_config(f"sqlite:///{path}", REDIS_URL=live_redis, INSTANCE_PATH=str(tmp_path / "instance")))
    with app.app_context():
        seed_defaults()
        operator = _account(make_user("operator", name="Olga Operator"))
        viewer = _account(make_user("viewer", name="Victor Viewer"))
        admin = _account(make_user("admin", name="Adam Admin"))
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kontor-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, operator=operator, viewer=viewer,
                         admin=admin)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def live_workers(live_server, tmp_path) -> Iterator[Workers]:
    """Start real workers with `live_workers.start()`; they share the live server's database and Redis."""
    assert live_server.app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:////"), \
        "workers need the live server's database as an absolute file path"
    pool = Workers(live_server.app, tmp_path)
    yield pool
    pool.stop_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used `live_workers` shows what the workers logged."""
    report = yield
    pool = getattr(item, "funcargs", {}).get("live_workers")
    if report.when == "call" and report.failed and pool is not None:
        report.sections.append(("worker output", pool.output()))
    return report


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; a missing browser fails the test with what to do."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; browser tests need it. "
            "Run `make services` (or `bash tests/ensure_services.sh`) to install it.",
            pytrace=False,
        )
    from playwright.sync_api import Error as PlaywrightError, sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except PlaywrightError as error:
        playwright.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start ({error}). Run `make services` to (re)install it.",
                    pytrace=False)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies) and page; console errors and failed pages are kept on `page.problems`."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"JavaScript error: {error}"))
    # Whatever the Content-Security-Policy refuses (an inline handler, a style="" attribute, eval) is a problem.
    page.on("console", lambda m: page.problems.append(f"CSP violation on {page.url}: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("response", lambda r: page.problems.append(f"HTTP {r.status} on {r.request.method} {r.url}")
            if r.status >= 500 else None)
    yield page
    context.close()


@pytest.fixture
def sign_in(live_server) -> Callable:
    """Sign in through the login page, as a person would."""
    from playwright.sync_api import expect

    def _sign_in(page, account: Account) -> None:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("E-mail").fill(account.email)
        page.get_by_label("Password").fill(account.password)
        page.get_by_role("button", name="Sign in").click()
        # Signing in opens the dashboard; the tests start from the order list.
        expect(page).to_have_url(f"{live_server.url}/")
        page.goto(f"{live_server.url}/orders")
        expect(page.locator(".whoami")).to_contain_text(account.name)

    return _sign_in


@pytest.fixture
def screenshot() -> Callable:
    """Save a full-page screenshot under test-artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def _screenshot(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _screenshot
