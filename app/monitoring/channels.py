"""Sending one alert text to one channel: Telegram Bot API, Slack incoming webhook, SMTP e-mail, signed webhook.

Every address a channel reaches is checked with the guard platform calls and feed downloads use
(app/core/netguard.py): a seller-typed URL or SMTP host never makes Kontor call a local or
private address, unless an admin allowed the host with KONTOR_ALERT_ALLOWED_HOSTS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import socket
import ssl
import time
import uuid
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.core import netguard

TIMEOUT = 10  # seconds; a slow channel delays only its own alert


class ChannelError(Exception):
    """A channel could not take the alert, with the reason in words (credentials never included)."""

    def __init__(self, message, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


ALLOWED_SETTING = "KONTOR_ALERT_ALLOWED_HOSTS"


def _allowed() -> frozenset[str]:
    return netguard.normalised_hosts(current_app.config.get("ALERT_ALLOWED_HOSTS", ()))


def check_host(host: str, port: int) -> list[str]:
    """The host's addresses, refusing one that resolves to a local or private address (unless allowed)."""
    host = (host or "").strip().lower().rstrip(".")
    if not host:
        raise ChannelError(_l("Give a host name."), retryable=False)
    try:
        return netguard.checked_addresses(host, port, _allowed(), ALLOWED_SETTING)
    except netguard.AddressRefused as refused:
        raise ChannelError(refused.args[0], retryable=False) from None
    except (OSError, UnicodeError):
        raise ChannelError(_l("The host %(host)s could not be found (DNS); check the address.", host=host)) from None


def check_url(url: str) -> str:
    """The URL, stripped, after checking it is http(s) to a public host; ChannelError otherwise."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ChannelError(_l("The address is not a valid http:// or https:// address."), retryable=False) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(_l("The address must start with https:// (or http://) and name a host."), retryable=False)
    if parts.username or parts.password:
        raise ChannelError(_l("Give the address without a user name or password in it."), retryable=False)
    check_host(parts.hostname, port)
    return url


def _post(url: str, what, **kwargs: Any) -> requests.Response:
    check_url(url)
    session = netguard.guarded_session(_allowed(), ALLOWED_SETTING)  # the connection goes to the checked address
    try:
        response = session.post(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except netguard.AddressRefused as refused:
        raise ChannelError(refused.args[0], retryable=False) from None
    except requests.RequestException as error:
        raise ChannelError(_l("%(what)s could not be reached: %(error)s.", what=what, error=type(error).__name__)) from None
    if response.status_code >= 300:
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise ChannelError(_l("%(what)s answered HTTP %(status)s: %(answer)s", what=what, status=response.status_code,
                              answer=response.text[:200]), retryable=retryable)
    return response


def send_telegram(settings: dict, secrets: dict, text: str) -> str:
    """sendMessage through the Bot API."""
    base = current_app.config.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
    response = _post(f"{base}/bot{secrets.get('bot_token', '')}/sendMessage", "Telegram",
                     json={"chat_id": settings.get("chat_id"), "text": text, "disable_web_page_preview": True})
    try:
        answer = response.json()
    except ValueError:
        raise ChannelError(_l("Telegram did not answer with JSON.")) from None
    if not answer.get("ok"):
        raise ChannelError(_l("Telegram refused the message: %(reason)s",
                              reason=answer.get("description") or _l("no reason given")), retryable=False)
    return "sent to Telegram"


def send_slack(settings: dict, secrets: dict, text: str) -> str:
    """POST to the Slack incoming webhook."""
    _post(secrets.get("webhook_url", ""), "Slack", json={"text": text})
    return "sent to Slack"


def sign(message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The Standard Webhooks signature header value of a body."""
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send_webhook(settings: dict, secrets: dict, text: str, data: dict | None = None) -> str:
    """POST the alert as JSON, signed the Standard Webhooks way (webhook-id, -timestamp, -signature)."""
    body = json.dumps({"text": text, **(data or {})}, separators=(",", ":")).encode()
    message_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    _post(secrets.get("url", ""), _l("The webhook"), data=body, headers={
        "Content-Type": "application/json", "webhook-id": message_id, "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(message_id, timestamp, body, secrets.get("secret", ""))})
    return "sent to the webhook"


class _CheckedSMTP(smtplib.SMTP):
    """SMTP to the address that was checked, while STARTTLS still verifies the server by its name."""

    def __init__(self, address: str, **kwargs: Any) -> None:
        self._checked_address = address
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._checked_address, port), timeout, self.source_address)


def send_email(settings: dict, secrets: dict, text: str) -> str:
    """Send through the configured SMTP server (STARTTLS when asked, login when a user is given)."""
    host, port = settings.get("host", ""), int(settings.get("port") or 587)
    addresses = check_host(host, port)
    message = EmailMessage()
    message["Subject"] = text.splitlines()[0][:150]
    message["From"] = settings.get("sender", "")
    message["To"] = ", ".join(settings.get("recipients", []))
    message.set_content(text)
    try:
        with _CheckedSMTP(addresses[0], timeout=TIMEOUT) as smtp:
            smtp.connect(host, port)
            if settings.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if settings.get("username"):
                smtp.login(settings["username"], secrets.get("password", ""))
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise ChannelError(_l("The mail server refused the user name or password."), retryable=False) from None
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(_l("The mail server %(host)s:%(port)s could not take the message: %(error)s.", host=host,
                              port=port, error=type(error).__name__)) from None
    return f"e-mailed to {len(settings.get('recipients', []))} recipient(s)"


SENDERS = {"telegram": send_telegram, "slack": send_slack, "email": send_email, "webhook": send_webhook}
