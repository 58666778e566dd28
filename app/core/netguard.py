"""Outgoing connections only to public addresses, unless an admin allowed the host by name.

A seller types platform URLs, feed URLs and alert addresses; none of them may make Kontor call
its own machine or the private network behind it (Redis, PostgreSQL, a cloud metadata service).
A host is resolved once, every address it resolves to must be public, and the connection goes to
exactly the checked address: the name still drives the Host header, TLS SNI and the certificate
check, so a second DNS answer (rebinding) cannot send it elsewhere. The refusal is decided before
any connection, so no message can tell an open internal port from a closed one.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

import requests
from flask_babel import lazy_gettext as _l
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class AddressRefused(Exception):
    """A host that resolves to a local or private address and is not allowed; the message is for people."""


def is_public(address: str) -> bool:
    """True for an address on the public internet (not loopback, private, link-local, multicast, reserved ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a literal IP resolves to itself), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def normalised_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Allowed host names as compared: lower case, without a trailing dot."""
    return frozenset(name.strip().lower().rstrip(".") for name in hosts if name.strip())


def refusal(host: str, allowed_setting: str):
    """The one sentence every guard uses for a refused host (lazy: said in the reader's language)."""
    return _l("%(host)s points to a local or private network address; Kontor connects only to public addresses. "
              "An admin can allow this host with %(setting)s.", host=host, setting=allowed_setting)


def checked_addresses(host: str, port: int, allowed_hosts: frozenset[str], allowed_setting: str) -> list[str]:
    """The host's addresses, or AddressRefused if any is not public and the host is not allowed.

    OSError (DNS) is left to the caller, which words it for its own kind of address.
    """
    host = host.strip().lower().rstrip(".").strip("[]")
    addresses = resolve(host, port)
    if host in allowed_hosts:
        return addresses
    if not addresses or not all(is_public(address) for address in addresses):
        raise AddressRefused(refusal(host, allowed_setting))
    return addresses


class _Checked:
    """Mixin for urllib3 connections: connect only to a checked address of the host."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_setting = "KONTOR_PLATFORM_ALLOWED_HOSTS"

    def _new_conn(self):
        named = self._dns_host
        try:
            addresses = checked_addresses(named, self.port, self.allowed_hosts, self.allowed_setting)
        except OSError:
            addresses = [named]  # urllib3 reports the DNS failure in its own words
        self._dns_host = addresses[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = named


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to public (or allowed) addresses."""

    def __init__(self, allowed_hosts: Iterable[str] = (), allowed_setting: str = _Checked.allowed_setting,
                 **kwargs) -> None:
        self.allowed_hosts = normalised_hosts(allowed_hosts)
        self.allowed_setting = allowed_setting
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        rules = {"allowed_hosts": self.allowed_hosts, "allowed_setting": self.allowed_setting}
        http = type("GuardedHTTPConnection", (_Checked, HTTPConnection), rules)
        https = type("GuardedHTTPSConnection", (_Checked, HTTPSConnection), rules)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def guarded_session(allowed_hosts: Iterable[str] = (),
                    allowed_setting: str = _Checked.allowed_setting) -> requests.Session:
    """A requests session that refuses local and private addresses on every connection, redirects included."""
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment would resolve the name again, unchecked
    adapter = GuardedAdapter(allowed_hosts, allowed_setting)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
