"""Where feeds may come from: files only inside the feeds folder, URLs only to public addresses, bytes capped.

Real files, symlinks, a directory, a FIFO and /dev/zero; a real HTTP server on 127.0.0.1 that the
app may reach only by the name it was allowed (localhost); refused addresses are decided before
any connection, so nothing here connects anywhere but that loopback server.
"""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest

from app.config import Config
from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import Integration
from app.suppliers import services, sources
from app.suppliers.parsing import FeedError
from tests.factories import make_user

CSV = "kod;stan\nA-1;5\nB-2;7\n"
MB = 1024 * 1024


def stored_feed(source_type: str, location: str, **settings) -> Integration:
    """A feed as an older Kontor may have stored it, without the checks saving does now."""
    feed = Integration(kind=services.FEED_KIND, name="Stored", sync_direction="off",
                       settings={"source_type": source_type, "location": location, "format": "csv", "max_mb": 200,
                                 **settings})
    db.session.add(feed)
    db.session.commit()
    return feed


def preview_page(client, login, feed_id: int):
    """The preview fragment as an operator sees it (signs one in on first use)."""
    if not getattr(client, "signed_in", False):
        login(make_user("operator"))
        client.signed_in = True
    return client.get(f"/feeds/{feed_id}/preview", headers={"HX-Request": "true"})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- files ------------------------------------------------------------------------------------


def test_a_file_in_the_feeds_folder_is_previewed(client, login, feeds_folder):
    (feeds_folder / "supplier.csv").write_text(CSV)
    feed = services.save_feed(None, name="Folder", source_type="path", location="supplier.csv", format="csv")
    response = preview_page(client, login, feed.id)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "A-1" in body and "B-2" in body


def test_an_absolute_path_inside_the_folder_is_accepted_too(feeds_folder):
    (feeds_folder / "sub").mkdir()
    (feeds_folder / "sub" / "supplier.csv").write_text(CSV)
    feed = services.save_feed(None, name="Abs", source_type="path", location=str(feeds_folder / "sub/supplier.csv"),
                              format="csv")
    assert [row.values["kod"] for row in services.preview(feed.id)["raw"]] == ["A-1", "B-2"]


@pytest.mark.parametrize("location", ["/etc/passwd", "/proc/self/environ", "/dev/zero", "{instance}/encryption.key",
                                      "../outside.csv", "{folder}/../outside.csv", "/", "{folder}"])
def test_saving_a_path_outside_the_feeds_folder_is_refused_saying_where_feeds_belong(app, feeds_folder, location):
    (feeds_folder.parent / "outside.csv").write_text(CSV)
    location = location.format(instance=app.config["INSTANCE_PATH"], folder=feeds_folder)
    with pytest.raises(ValidationFailed) as refused:
        services.save_feed(None, name="Probe", source_type="path", location=location, format="csv")
    assert refused.value.field == "location"
    assert refused.value.message == sources.path_refusal(feeds_folder)
    assert f"feeds folder {feeds_folder}" in refused.value.message
    assert db.session.query(Integration).count() == 0


def test_the_add_feed_form_refuses_a_system_file_next_to_the_field(client, login, feeds_folder):
    csrf = login(make_user("admin"))
    response = client.post("/feeds/new", data={"csrf_token": csrf, "name": "Probe", "source_type": "path",
                                               "location": "/etc/passwd", "format": "csv", "max_mb": "200"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Feed files are read only from the feeds folder" in body and "root:" not in body


@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/self/environ", "/dev/zero", "{outside}"])
def test_a_symlink_in_the_folder_that_leads_outside_is_refused(client, login, feeds_folder, target):
    outside = feeds_folder.parent / "outside.csv"
    outside.write_text("kod;stan\nSECRET-ROW;1\n")
    (feeds_folder / "link.csv").symlink_to(target.format(outside=outside))
    feed = stored_feed("path", "link.csv")
    response = preview_page(client, login, feed.id)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Feed files are read only from the feeds folder" in body
    assert "SECRET-ROW" not in body and "root:" not in body and "DATABASE_URL" not in body


def test_a_feed_stored_with_a_system_path_reads_nothing(client, login, feeds_folder):
    feed = stored_feed("path", "/etc/passwd")
    body = preview_page(client, login, feed.id).get_data(as_text=True)
    assert "Feed files are read only from the feeds folder" in body and "root:" not in body


def test_a_symlink_inside_the_folder_to_a_file_inside_it_is_read(feeds_folder):
    (feeds_folder / "real.csv").write_text(CSV)
    (feeds_folder / "today.csv").symlink_to(feeds_folder / "real.csv")
    feed = services.save_feed(None, name="Link", source_type="path", location="today.csv", format="csv")
    assert len(services.preview(feed.id)["raw"]) == 2


def test_a_directory_is_refused_in_words_not_a_500(client, login, feeds_folder):
    (feeds_folder / "folder.csv").mkdir()
    feed = services.save_feed(None, name="Dir", source_type="path", location="folder.csv", format="csv")
    response = preview_page(client, login, feed.id)
    assert response.status_code == 200
    assert "is not a regular file" in response.get_data(as_text=True)


def test_a_fifo_is_refused_without_waiting_for_a_writer(feeds_folder):
    os.mkfifo(feeds_folder / "pipe.csv")
    feed = services.save_feed(None, name="Pipe", source_type="path", location="pipe.csv", format="csv")
    with pytest.raises(FeedError, match="is not a regular file"):
        services.preview(feed.id)


def test_a_file_over_the_size_limit_is_refused(feeds_folder):
    (feeds_folder / "big.csv").write_bytes(b"kod;stan\n" + b"A;1\n" * 300_000)  # 1.2 MB
    feed = services.save_feed(None, name="Big", source_type="path", location="big.csv", format="csv", max_mb=1)
    with pytest.raises(FeedError, match="larger than the 1 MB limit"):
        with services.open_feed(feed):
            pass


def test_the_limit_counts_bytes_actually_read_whatever_the_source_claims():
    # /dev/zero and /proc files claim a size of 0; the stream counts what it hands out.
    stream = sources.CappedStream(io.BytesIO(b"x" * 5000), limit=1000)
    assert len(stream.read(600)) == 600
    with pytest.raises(FeedError, match="larger than"):
        while stream.read(600):
            pass
    assert stream.read_bytes == 1001


def test_the_preview_stops_reading_a_file_without_line_breaks(feeds_folder):
    (feeds_folder / "one-line.csv").write_bytes(b"kod;stan;" + b"x" * (12 * 1024 * 1024))
    feed = services.save_feed(None, name="Long", source_type="path", location="one-line.csv", format="csv")
    with pytest.raises(FeedError, match="preview stopped reading"):
        services.preview(feed.id)


def test_the_feeds_folder_and_allowed_hosts_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KONTOR_FEEDS_DIR", str(tmp_path))
    monkeypatch.setenv("KONTOR_FEED_ALLOWED_HOSTS", "feeds.internal, localhost")
    settings = Config.from_environment()
    assert settings["FEEDS_DIR"] == str(tmp_path)
    assert settings["FEED_ALLOWED_HOSTS"] == {"feeds.internal", "localhost"}


def test_the_feeds_folder_defaults_to_instance_feeds(app):
    app.config["FEEDS_DIR"] = None
    assert services.feeds_dir() == (Path(app.config["INSTANCE_PATH"]) / "feeds").resolve()


# --- addresses --------------------------------------------------------------------------------


def test_a_feed_on_an_allowed_local_server_is_previewed(client, login, feed_server):
    feed_server.files["/stock.csv"] = CSV.encode()
    feed = services.save_feed(None, name="Web", source_type="url", location=feed_server.url("/stock.csv"),
                              format="csv")
    body = preview_page(client, login, feed.id).get_data(as_text=True)
    assert "A-1" in body and "B-2" in body
    assert feed_server.requests_log[-1].headers["Host"] == f"localhost:{feed_server.port}"


@pytest.mark.parametrize("url", [
    "http://localhost:{port}/", "http://LOCALHOST.:{port}/", "http://127.0.0.1:{port}/", "http://127.1.2.3:{port}/",
    "http://[::1]:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/",
    "http://10.0.0.1/feed.csv", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fc00::1]/", "http://224.0.0.1/",
    "http://240.0.0.1/", "http://255.255.255.255/", "https://127.0.0.1:{port}/",
    "http://2130706433:{port}/", "http://0x7f000001:{port}/", "http://127.1:{port}/"])  # 127.0.0.1 spelled oddly
def test_local_private_and_reserved_addresses_are_refused_before_connecting(app, other_server, url):
    url = url.format(port=other_server.port)
    with pytest.raises(FeedError, match="points to a local or private network address"):
        sources.check_url(url, app.config["FEED_ALLOWED_HOSTS"])
    with pytest.raises(ValidationFailed, match="only from public addresses"):
        services.save_feed(None, name="Probe", source_type="url", location=url, format="csv")
    assert other_server.requests_log == []


def test_public_addresses_pass_the_check_without_any_connection():
    assert sources.is_public("93.184.215.14") and sources.is_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert not any(sources.is_public(address) for address in (
        "127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:10.0.0.1", "fd00::1", "224.0.0.251", "0.0.0.0"))


def test_the_refusal_reads_the_same_whether_the_port_is_open_or_closed(client, login, other_server):
    messages = []
    for port in (other_server.port, closed_port()):
        feed = stored_feed("url", f"http://127.0.0.1:{port}/secret")
        body = preview_page(client, login, feed.id).get_data(as_text=True)
        assert "internal answer" not in body
        messages.append(body.split('role="alert">')[1].split("</div>")[0])
    assert messages[0] == messages[1] and "local or private network address" in messages[0]
    assert other_server.requests_log == []


def test_a_redirect_to_an_internal_port_is_refused(client, login, feed_server, other_server):
    feed_server.redirects["/moved.csv"] = f"http://127.0.0.1:{other_server.port}/secret"
    feed = services.save_feed(None, name="Moved", source_type="url", location=feed_server.url("/moved.csv"),
                              format="csv")
    body = preview_page(client, login, feed.id).get_data(as_text=True)
    assert "local or private network address" in body and "internal answer" not in body
    assert [r.path for r in feed_server.requests_log] == ["/moved.csv"] and other_server.requests_log == []


def test_a_redirect_to_another_scheme_is_refused(feed_server):
    feed_server.redirects["/file.csv"] = "file:///etc/passwd"
    feed = services.save_feed(None, name="Scheme", source_type="url", location=feed_server.url("/file.csv"),
                              format="csv")
    with pytest.raises(FeedError, match="must start with http:// or https://"):
        services.preview(feed.id)


def test_a_redirect_within_the_allowed_server_is_followed(feed_server):
    feed_server.files["/today.csv"] = CSV.encode()
    feed_server.redirects["/latest.csv"] = "/today.csv"
    feed = services.save_feed(None, name="Latest", source_type="url", location=feed_server.url("/latest.csv"),
                              format="csv")
    assert len(services.preview(feed.id)["raw"]) == 2


def test_the_connection_goes_to_the_address_that_was_checked(app, feed_server, monkeypatch):
    # A name only our resolver knows: the download works only if it connects to the checked address.
    asked, real_resolve = [], sources.resolve

    def resolver(host, port):
        asked.append(host)
        return ["127.0.0.1"] if host == "feeds.example.test" else real_resolve(host, port)

    monkeypatch.setattr(sources, "resolve", resolver)
    feed_server.files["/stock.csv"] = CSV.encode()
    url = f"http://feeds.example.test:{feed_server.port}/stock.csv"
    with sources.open_url(url, 10_000, {"feeds.example.test"}) as stream:
        assert stream.read(100).startswith(b"kod;stan")
    assert asked == ["feeds.example.test"]  # resolved once
    assert feed_server.requests_log[-1].headers["Host"] == f"feeds.example.test:{feed_server.port}"


def test_a_server_that_sends_forever_stops_at_the_limit(feed_server):
    feed = services.save_feed(None, name="Endless", source_type="url", location=feed_server.url("/endless.csv"),
                              format="csv", max_mb=1)
    with pytest.raises(FeedError, match="larger than the 1 MB limit"):
        with services.open_feed(feed) as stream:
            while stream.read(64 * 1024):
                pass
    # The preview reads only the rows it shows.
    assert len(services.preview(feed.id)["raw"]) == 20


def test_an_unreachable_allowed_server_is_described_in_words(app):
    app.config["FEED_ALLOWED_HOSTS"] = frozenset({"localhost"})
    with pytest.raises(FeedError, match="could not be reached or did not answer in time"):
        with sources.open_url(f"http://localhost:{closed_port()}/feed.csv", 1000, {"localhost"}):
            pass


def test_an_http_error_is_shown_in_words(feed_server):
    feed = services.save_feed(None, name="Gone", source_type="url", location=feed_server.url("/missing.csv"),
                              format="csv")
    with pytest.raises(FeedError, match="answered HTTP 404"):
        services.preview(feed.id)


def test_an_unknown_host_name_is_refused_when_saving(app):
    with pytest.raises(ValidationFailed, match="could not be found"):
        services.save_feed(None, name="Typo", source_type="url", location="http://no-such-host.invalid/feed.csv",
                           format="csv")


# --- who may do what --------------------------------------------------------------------------


def test_viewers_see_feeds_but_not_their_content_nor_change_anything(client, login, feeds_folder):
    (feeds_folder / "supplier.csv").write_text(CSV)
    feed = services.save_feed(None, name="Roles", source_type="path", location="supplier.csv", format="csv")
    csrf = login(make_user("viewer"))
    page = client.get(f"/feeds/{feed.id}")
    assert page.status_code == 200 and "A-1" not in page.get_data(as_text=True)
    assert client.get(f"/feeds/{feed.id}/preview", headers={"HX-Request": "true"}).status_code == 403
    assert client.post(f"/feeds/{feed.id}/mapping", data={"csrf_token": csrf, "sku": "kod",
                                                          "stock_quantity": "stan"}).status_code == 403
    assert client.post(f"/feeds/{feed.id}/imports", data={"csrf_token": csrf}).status_code == 403
    assert client.get("/feeds/new").status_code == 403


def test_operators_preview_map_and_import_but_do_not_change_the_source(client, login, feeds_folder):
    (feeds_folder / "supplier.csv").write_text(CSV)
    feed = services.save_feed(None, name="Roles", source_type="path", location="supplier.csv", format="csv")
    csrf = login(make_user("operator"))
    assert client.get(f"/feeds/{feed.id}/preview", headers={"HX-Request": "true"}).status_code == 200
    mapped = client.post(f"/feeds/{feed.id}/mapping", data={"csrf_token": csrf, "sku": "kod", "stock_quantity": "stan"},
                         headers={"HX-Request": "true"})
    assert mapped.status_code == 200 and db.session.get(Integration, feed.id).settings["mapping"]["sku"] == "kod"
    assert client.post(f"/feeds/{feed.id}/imports", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/feeds/new").status_code == 403
    edit = client.post(f"/feeds/{feed.id}/edit", data={"csrf_token": csrf, "name": "Roles", "source_type": "path",
                                                      "location": "/etc/passwd", "format": "csv", "max_mb": "200"})
    assert edit.status_code == 403
    assert db.session.get(Integration, feed.id).settings["location"] == "supplier.csv"


# --- uploads ------------------------------------------------------------------------------------


def test_an_uploaded_feed_is_read_from_its_own_folder(app):
    feed = services.save_feed(None, name="Upload", source_type="upload", location="/etc/passwd", format="csv",
                              upload=io.BytesIO(CSV.encode()), upload_name="stany.csv")
    assert feed.settings["location"] == "" and feed.settings["upload_file"].endswith(f"/{feed.id}/upload.csv")
    assert len(services.preview(feed.id)["raw"]) == 2


def test_an_upload_setting_pointing_elsewhere_reads_nothing(app):
    feed = stored_feed("upload", "", upload_file="/etc/passwd")
    with pytest.raises(FeedError, match="No file has been uploaded"):
        services.preview(feed.id)


def test_an_upload_over_the_size_limit_is_refused_next_to_the_field(app):
    with pytest.raises(ValidationFailed, match="larger than the 1 MB limit") as refused:
        services.save_feed(None, name="Big", source_type="upload", location="", format="csv", max_mb=1,
                           upload=io.BytesIO(b"x" * (MB + 1)), upload_name="big.csv")
    assert refused.value.field == "upload"


def test_a_refused_replacement_upload_keeps_the_previous_file(app):
    feed = services.save_feed(None, name="Upload", source_type="upload", location="", format="csv",
                              upload=io.BytesIO(CSV.encode()), upload_name="stany.csv")
    with pytest.raises(ValidationFailed, match="larger than"):
        services.save_feed(feed, name="Upload", source_type="upload", location="", format="csv", max_mb=1,
                           upload=io.BytesIO(b"x" * (MB + 1)), upload_name="big.csv")
    db.session.rollback()
    assert len(services.preview(feed.id)["raw"]) == 2


# --- https: pinned to the checked address, still verified by name ----------------------------------


def _certificates(folder: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `hostname`: (ca.pem, server.pem, server.key)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)

    def certificate(subject, issuer, public_key, signing_key, ca: bool, extra=()):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
        for extension in extra:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kontor test CA")])
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, True,
                     [x509.KeyUsage(False, False, False, False, False, True, True, False, False)])
    server = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]), ca_name,
                         server_key.public_key(), ca_key, False,
                         [x509.SubjectAlternativeName([x509.DNSName(hostname)]),
                          x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                          x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH])])
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return paths


@pytest.fixture
def tls_feed_server(tmp_path, monkeypatch):
    """An https server (http.server thread on 127.0.0.1) with a certificate for feeds.example.test only.

    Both feeds.example.test and other.example.test resolve to 127.0.0.1 through the feed resolver.
    """
    import http.server
    import ssl
    import threading

    ca, certificate, key = _certificates(tmp_path, "feeds.example.test")
    seen = {"sni": [], "host": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"].append(self.headers["Host"])
            body = CSV.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    real_resolve = sources.resolve
    monkeypatch.setattr(sources, "resolve", lambda host, port: ["127.0.0.1"] if host.endswith(".example.test")
                        else real_resolve(host, port))
    try:
        yield server.server_address[1], ca, seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_https_connects_to_the_checked_address_with_the_name_in_sni_and_host(tls_feed_server):
    port, ca, seen = tls_feed_server
    url = f"https://feeds.example.test:{port}/stock.csv"
    with sources.open_url(url, 10_000, {"feeds.example.test"}, ca_certs=str(ca)) as stream:
        assert stream.read(100).startswith(b"kod;stan")
    assert seen["sni"] == ["feeds.example.test"] and seen["host"] == [f"feeds.example.test:{port}"]


def test_https_still_checks_the_certificate_against_the_name(tls_feed_server):
    port, ca, seen = tls_feed_server
    with pytest.raises(FeedError, match="TLS certificate could not be verified"):
        with sources.open_url(f"https://other.example.test:{port}/stock.csv", 10_000, {"other.example.test"},
                              ca_certs=str(ca)):
            pass
    with pytest.raises(FeedError, match="TLS certificate could not be verified"):  # not a CA anyone trusts
        with sources.open_url(f"https://feeds.example.test:{port}/stock.csv", 10_000, {"feeds.example.test"}):
            pass
    assert seen["host"] == []  # no request was sent over either connection


def test_a_compressed_answer_counts_its_unpacked_bytes(feed_server):
    feed_server.gzipped["/small-on-the-wire.csv"] = b"kod;stan\n" + b"A;1\n" * (MB // 2)  # 2 MB, ~6 KB gzipped
    feed = services.save_feed(None, name="Gzip", source_type="url", location=feed_server.url("/small-on-the-wire.csv"),
                              format="csv", max_mb=1)
    with pytest.raises(FeedError, match="larger than the 1 MB limit"):
        with services.open_feed(feed) as stream:
            while stream.read(64 * 1024):
                pass
