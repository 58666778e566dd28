"""Alert channels as an admin sets them up: read from the form, secrets stored encrypted, tested, used.

The check and the incidents live in alerts.py; this module is where a channel's settings are validated
(a URL or SMTP host must be a public address) and where a text is handed to the channel's sender.
"""

from __future__ import annotations

import re
import secrets as secrets_module
from typing import Any, Callable

from flask_babel import force_locale, lazy_gettext as _l
from sqlalchemy import select

from app.core import params
from app.core.crypto import CredentialsUnavailable, mask
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import DEFAULT_LOCALE, LOCALES, current_locale, keep_text
from app.core.types import utcnow
from app.extensions import db
from app.monitoring.channels import SENDERS, ChannelError, check_host, check_url
from app.monitoring.models import CHANNEL_KINDS, AlertChannel

TELEGRAM_TOKEN = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{20,100}$")
TELEGRAM_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,60})$")
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def list_channels() -> list[AlertChannel]:
    """Every alert channel, oldest first."""
    return list(db.session.scalars(select(AlertChannel).order_by(AlertChannel.id)))


def get_channel(channel_id: int) -> AlertChannel:
    """One alert channel, or NotFound."""
    channel = db.session.get(AlertChannel, channel_id) if params.is_id(channel_id) else None
    if channel is None:
        raise NotFound("There is no such alert channel.")
    return channel


def _text(form: dict, name: str, label, max_length: int = 500, required: bool = True) -> str:
    value = params.text_arg(form.get(name), name, max_length=max_length, label=label)
    if required and not value:
        raise ValidationFailed(_l("Give the %(label)s.", label=label), field=name)
    return value


def _checked(error_field: str, check: Callable[[], Any]) -> None:
    try:
        check()
    except ChannelError as error:
        raise ValidationFailed(error.message, field=error_field) from None


def _read(kind: str, form: dict, current: dict) -> tuple[dict, dict]:
    """Settings and secrets of a channel from a form; an empty secret field keeps the stored one."""
    def secret(name: str, label, max_length: int = 500) -> str:
        value = params.text_arg(form.get(name), name, max_length=max_length, label=label)
        if not value and not current.get(name):
            raise ValidationFailed(_l("Give the %(label)s.", label=label), field=name)
        return value or current[name]

    if kind == "telegram":
        token = secret("bot_token", _l("bot token"), 120)
        if not TELEGRAM_TOKEN.match(token):
            raise ValidationFailed(_l("A bot token looks like 123456789:AA… (digits, a colon, then letters); copy it "
                                      "from @BotFather."), field="bot_token")
        chat = _text(form, "chat_id", _l("chat id"), 64)
        if not TELEGRAM_CHAT.match(chat):
            raise ValidationFailed(_l("The chat id is a number (e.g. -1001234567890) or a channel name like "
                                      "@shop_alerts."), field="chat_id")
        return {"chat_id": chat}, {"bot_token": token}
    if kind == "slack":
        url = secret("webhook_url", _l("Slack webhook URL"), 500)
        _checked("webhook_url", lambda: check_url(url))
        return {}, {"webhook_url": url}
    if kind == "webhook":
        url = secret("url", _l("webhook URL"), 500)
        _checked("url", lambda: check_url(url))
        signing = params.text_arg(form.get("secret"), "secret", max_length=200) or current.get("secret") \
            or secrets_module.token_urlsafe(32)
        return {}, {"url": url, "secret": signing}
    if kind == "email":
        host = _text(form, "host", _l("SMTP host"), 253)
        port = params.int_arg(form.get("port") or "587", "port", minimum=1, maximum=65535)
        _checked("host", lambda: check_host(host, port))
        sender = _text(form, "sender", _l("sender address"), 254)
        recipients = [r.strip() for r in re.split(r"[,;\s]+", _text(form, "recipients", _l("recipients"), 2000)) if r]
        for address in [sender, *recipients]:
            if not EMAIL.match(address):
                raise ValidationFailed(_l("“%(address)s” is not an e-mail address.", address=address), field="recipients")
        username = params.text_arg(form.get("username"), "username", max_length=254)
        password = params.text_arg(form.get("password"), "password", max_length=500) or current.get("password", "")
        return ({"host": host, "port": port, "sender": sender, "recipients": recipients, "username": username,
                 "starttls": bool(form.get("starttls"))}, {"password": password} if password else {})
    raise ValidationFailed(_l("Choose a channel type: %(kinds)s.", kinds=", ".join(str(v) for v in CHANNEL_KINDS.values())),
                           field="kind")


def save_channel(channel: AlertChannel | None, form: dict) -> AlertChannel:
    """Add or change a channel from a form; secrets are stored encrypted and never shown again."""
    kind = channel.kind if channel else params.text_arg(form.get("kind"), "kind", max_length=20)
    if kind not in CHANNEL_KINDS:
        raise ValidationFailed(_l("Choose a channel type: %(kinds)s.", kinds=", ".join(str(v) for v in CHANNEL_KINDS.values())),
                           field="kind")
    name = _text(form, "name", _l("name"), 120)
    settings, secrets = _read(kind, form, channel.credentials if channel else {})
    # The language the channel's readers get alerts in; the admin's own unless chosen.
    locale = params.text_arg(form.get("locale"), "locale", max_length=10)
    settings["locale"] = locale if locale in LOCALES else (channel.settings.get("locale") if channel else None) \
        or current_locale()
    channel = channel or AlertChannel(kind=kind)
    channel.name, channel.settings, channel.credentials = name, settings, secrets
    # The form's checkbox sends nothing when unticked; a channel added without the form starts switched on.
    channel.enabled = bool(form.get("enabled")) if "enabled_shown" in form else True
    db.session.add(channel)
    db.session.commit()
    return channel


def delete_channel(channel_id: int) -> None:
    """Remove an alert channel (its unsent alerts are skipped when their turn comes)."""
    db.session.delete(get_channel(channel_id))
    db.session.commit()


def send_test(channel_id: int) -> str:
    """Send a test message now (not through the outbox: the admin waits for the answer); the outcome in words."""
    channel = get_channel(channel_id)
    try:
        with force_locale(channel.settings.get("locale") or DEFAULT_LOCALE):
            test = str(_l("Kontor test alert from channel “%(name)s”: alerts reach you here.", name=channel.name))
        result = send(channel, test, {"event": "test"})
    except ChannelError as error:
        channel.last_error, channel.message_data = keep_text(channel.message_data, "last_error", error.message)
        db.session.commit()
        raise ValidationFailed(_l("The test message was not sent: %(error)s", error=error.message)) from None
    channel.last_sent_at, channel.last_error = utcnow(), ""
    db.session.commit()
    return f"Test message {result}."


def masked_secrets(channel: AlertChannel) -> dict[str, str]:
    """Which secrets are stored, masked, for the form."""
    try:
        stored = channel.credentials
    except CredentialsUnavailable:  # a changed encryption key must not hide the channel
        return {}
    return {name: mask(value) for name, value in stored.items()}


def send(channel: AlertChannel, text: str, data: dict | None = None) -> str:
    """Send a text through the channel now; what happened, in words, or ChannelError."""
    sender = SENDERS[channel.kind]
    if channel.kind == "webhook":
        return sender(channel.settings, channel.credentials, text, data)
    return sender(channel.settings, channel.credentials, text)
