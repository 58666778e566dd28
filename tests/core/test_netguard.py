"""Platform addresses a seller types never make Kontor call its own machine or private network."""

import http.server
import threading

import pytest

from app.core import netguard
from app.extensions import db
from app.integrations import services as integrations
from app.integrations.models import Integration
from tests.conftest import csrf_from
from tests.factories import make_integration, make_user


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 (or redirects to `location`), and remembers every request it got."""

    location: str | None = None

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.seen.append(self.path)
        if self.location:
            self.send_response(302)
            self.send_header("Location", self.location)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    """An HTTP server on 127.0.0.1 that lists the requests it received."""
    servers = []

    def start(location: str | None = None):
        handler = type("Handler", (_Recorder,), {"location": location})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.seen = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_local_address_is_refused_before_any_connection(local_server):
    server = local_server()
    session = netguard.guarded_session()
    for url in (f"http://127.0.0.1:{server.server_port}/api/", f"http://localhost:{server.server_port}/"):
        with pytest.raises(netguard.AddressRefused, match="KONTOR_PLATFORM_ALLOWED_HOSTS"):
            session.get(url, timeout=30)
    assert server.seen == []


def test_private_link_local_and_unspecified_addresses_are_refused():
    session = netguard.guarded_session()
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.1.10:8080/",
                "http://0.0.0.0:6379/", "http://[::1]:5432/", "http://[::ffff:127.0.0.1]/"):
        with pytest.raises(netguard.AddressRefused):
            session.get(url, timeout=30)


def test_an_allowed_host_is_reached_but_a_redirect_elsewhere_is_refused(local_server):
    inner = local_server()
    outer = local_server(location=f"http://127.0.0.1:{inner.server_port}/secret")
    session = netguard.guarded_session(["LocalHost."])
    assert session.get(f"http://localhost:{inner.server_port}/fine", timeout=30).text == "ok"
    with pytest.raises(netguard.AddressRefused):
        session.get(f"http://localhost:{outer.server_port}/go", timeout=30)
    assert inner.seen == ["/fine"] and outer.seen == ["/go"]


def test_saving_a_shop_on_the_internal_network_is_refused_in_words(client, app, login):
    login(make_user("admin"))
    app.config["PLATFORM_ALLOWED_HOSTS"] = frozenset()
    page = client.get("/integrations/new/prestashop").get_data(as_text=True)
    response = client.post("/integrations/new/prestashop", data={
        "csrf_token": csrf_from(page), "name": "Metadata", "shop_url": "http://169.254.169.254/latest",
        "api_key": "SECRETKEY0123456789ABCDEFGHIJKLM", "language_id": "1"})
    assert response.status_code == 422
    assert "local or private network address" in response.get_data(as_text=True)
    assert db.session.scalars(db.select(Integration)).all() == []


def test_test_connection_to_a_local_shop_says_why_and_calls_nothing(client, app, login, local_server):
    server = local_server()
    csrf = login(make_user("admin"))
    shop = make_integration("prestashop", settings={"shop_url": f"http://127.0.0.1:{server.server_port}",
                                                    "language_id": 1}, credentials={"api_key": "K" * 32})
    app.config["PLATFORM_ALLOWED_HOSTS"] = frozenset()
    response = client.post(f"/integrations/{shop.id}/test", headers={"HX-Request": "true", "X-CSRFToken": csrf})
    assert response.status_code < 500
    assert "local or private network address" in response.get_data(as_text=True)
    assert server.seen == []
    with app.test_request_context():
        assert integrations.platform_session().adapters["https://"].allowed_hosts == frozenset()
