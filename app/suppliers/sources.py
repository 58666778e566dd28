"""Where a feed's bytes come from: a file in the feeds folder, an upload, or a public HTTP(S) address.

Nothing a seller types may make the server read its own files or call its internal services:

- A path is resolved (symlinks, "..") and must name a regular file inside the feeds folder
  (KONTOR_FEEDS_DIR). The file is opened without following a last symlink and without blocking
  (a FIFO never hangs a worker), checked to be a regular file, and on Linux the opened file's
  real path is checked again, so a symlink swapped in between the check and the open is caught.
- A URL's host is resolved once; every address it resolves to must be public (loopback,
  private, link-local, multicast, reserved and the like are refused) unless an admin named the
  host in KONTOR_FEED_ALLOWED_HOSTS. The connection then goes to exactly the checked address:
  urllib3 connects to the IP while the Host header, TLS SNI and certificate check keep the name,
  so a second DNS answer (rebinding) cannot send it elsewhere. Redirects are followed by hand and
  each one is checked the same way. No proxy from the environment is used (it would re-resolve).
  Refusals are decided before any connection, so no message can tell an open internal port from
  a closed one; network failures are described in one sentence whatever the cause.
- Every source is read through `CappedStream`, which counts the bytes actually read: no file,
  device or server can send more than the limit, whatever size it claims.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, SSLError
from urllib3.exceptions import HTTPError as Urllib3Error

from app.core.netguard import is_public, resolve
from app.suppliers.parsing import FeedError

CONNECT_TIMEOUT, READ_TIMEOUT = 10, 60
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
USER_AGENT = "Kontor feed reader"
MB = 1024 * 1024


class CappedStream:
    """A binary stream that stops with FeedError past `limit` bytes actually read."""

    def __init__(self, raw: BinaryIO, limit: int, message: str | None = None) -> None:
        self.raw, self.limit, self.read_bytes = raw, limit, 0
        self.message = message or f"The feed is larger than the {_mb(limit)} MB limit; stopped reading."

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (1 MB when unbounded), never more than one byte past the limit."""
        wanted = size if size is not None and size >= 0 else MB
        try:
            data = self.raw.read(min(wanted, self.limit - self.read_bytes + 1))
        except (OSError, Urllib3Error) as error:
            raise FeedError(f"Reading the feed broke off ({error.__class__.__name__}); try again later.") from error
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise FeedError(self.message)
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def closed(self) -> bool:
        return False


def _mb(limit: int) -> str:
    return f"{limit / MB:g}"


# --- files --------------------------------------------------------------------------------


def path_refusal(root: Path) -> str:
    """The one message for every path outside the feeds folder (it never says whether the file exists)."""
    return (f"Feed files are read only from the feeds folder {root} (KONTOR_FEEDS_DIR): put the file there "
            f"and give its path, e.g. {root / 'supplier.csv'}. Paths that lead outside it, through “..” "
            f"or a symlink, are refused.")


def resolve_feed_path(location: str, root: Path) -> Path:
    """The real path of a feed file inside `root` (absolute, or relative to `root`), else FeedError."""
    root = root.resolve()
    if not location.strip() or "\x00" in location:
        raise FeedError(path_refusal(root))
    resolved = (root / location.strip()).resolve()
    if not resolved.is_relative_to(root) or resolved == root:
        raise FeedError(path_refusal(root))
    return resolved


@contextmanager
def open_file(location: str, root: Path, limit: int) -> Iterator[CappedStream]:
    """Open a regular file inside `root` for reading, capped at `limit` bytes."""
    root = root.resolve()
    path = resolve_feed_path(location, root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FeedError(f"There is no file {path} in the feeds folder {root}.") from None
    except OSError:
        # A symlink swapped in after the check (O_NOFOLLOW), a file we may not read ...
        raise FeedError(f"The feed file {path} cannot be opened; check that it is a readable file in "
                        f"{root}.") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FeedError(f"{path} is not a regular file (a folder, device or pipe); give the path of "
                            f"a CSV or XML file in the feeds folder {root}.")
        opened = _opened_path(fd)
        if opened is not None and not opened.is_relative_to(root):
            raise FeedError(path_refusal(root))
        if info.st_size > limit:
            raise FeedError(f"The feed file is larger than the {_mb(limit)} MB limit.")
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield CappedStream(handle, limit)


def _opened_path(fd: int) -> Path | None:
    """The real path of an open file (Linux), or None where the system cannot say."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


# --- addresses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One checked hop of a download: the URL, the name it is sent to, and the checked addresses it may use."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    request_target: str  # path and query

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> Target:
    """Parse, resolve and check one URL; FeedError unless every address of its host is public or allowed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise FeedError("The feed address is not a valid http:// or https:// address.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedError("The feed address must start with http:// or https:// and name a host.")
    if parts.username or parts.password:
        raise FeedError("Give the feed address without a user name or password in it.")
    host = parts.hostname.lower().rstrip(".")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise FeedError(f"The feed's host {host} could not be found (DNS); check the address.") from None
    allowed = {name.strip().lower().rstrip(".") for name in allowed_hosts}
    if not addresses or (host not in allowed and not all(is_public(address) for address in addresses)):
        raise FeedError(f"The feed address {host} points to a local or private network address; Kontor fetches "
                        f"feeds only from public addresses. An admin can allow this host with "
                        f"KONTOR_FEED_ALLOWED_HOSTS.")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Target(url.strip(), parts.scheme, host, port, tuple(addresses), target)


def _pool(target: Target, address: str, ca_certs: str | None) -> urllib3.HTTPConnectionPool:
    """A connection pool to one checked address that still speaks to (and verifies) the host by name."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1,
                                           cert_reqs="CERT_REQUIRED", ca_certs=ca_certs or certifi.where(),
                                           server_hostname=target.host, assert_hostname=target.host)
    return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False, maxsize=1)


def _get(target: Target, ca_certs: str | None):
    """GET the target from the first of its checked addresses that connects: (pool, response)."""
    headers = {"Host": target.host_header, "User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    for address in target.addresses:
        pool = _pool(target, address, ca_certs)
        try:
            return pool, pool.urlopen("GET", target.request_target, redirect=False, preload_content=False,
                                      decode_content=True, assert_same_host=False, retries=False, headers=headers)
        except SSLError:
            pool.close()
            raise FeedError(f"Could not download the feed from {target.host}: its TLS certificate could not be "
                            f"verified.") from None
        except (NewConnectionError, ConnectTimeoutError):
            pool.close()  # the host's next address may answer
        except Urllib3Error:
            pool.close()
            break
    raise FeedError(f"Could not download the feed from {target.host}: the server could not be reached or did not "
                    f"answer in time.")


@contextmanager
def open_url(url: str, limit: int, allowed_hosts: Iterable[str] = (), *,
             ca_certs: str | None = None) -> Iterator[CappedStream]:
    """Stream a public HTTP(S) address, following up to 5 redirects, each checked; capped at `limit` bytes.

    `ca_certs` replaces the trusted certificate authorities (certifi's) for https.
    """
    allowed_hosts = tuple(allowed_hosts)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(current, allowed_hosts)
        pool, response = _get(target, ca_certs)
        try:
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                current = urljoin(target.url, location)
                continue
            if response.status >= 400:
                raise FeedError(f"The feed address answered HTTP {response.status}.")
            yield CappedStream(response, limit)
            return
        finally:
            response.release_conn()
            response.close()
            pool.close()
    raise FeedError(f"The feed address redirected more than {MAX_REDIRECTS} times; give its final address.")
