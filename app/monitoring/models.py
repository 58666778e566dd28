"""Alert channels (where alerts go), rule thresholds, and incidents (one per condition, start to clear)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import decrypt_json, encrypt_json
from app.core.i18n import render_message, shown_text
from app.core.types import UTCDateTime, utcnow
from app.extensions import db

CHANNEL_KINDS = {"telegram": "Telegram", "slack": "Slack", "email": _l("E-mail"), "webhook": _l("Signed webhook")}


class AlertChannel(db.Model):
    """A place alerts are sent to; its secrets (bot token, webhook URL, SMTP password) are encrypted."""

    __tablename__ = "alert_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    # Non-secret settings: Telegram chat id, SMTP host, port, sender and recipients.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The key and arguments of the last error (app.core.i18n.keep_text): shown in the reader's language.
    message_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def error_text(self) -> str:
        """The last error in the reader's language (as stored when no key was kept for it)."""
        return shown_text(self.message_data, "last_error", self.last_error)

    @property
    def credentials(self) -> dict[str, Any]:
        """The decrypted secrets."""
        return decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.credentials_encrypted = encrypt_json(value)

    @property
    def kind_name(self) -> str:
        return CHANNEL_KINDS.get(self.kind, self.kind)


class AlertRule(db.Model):
    """A rule's switch and threshold as the seller set them (rules without a row use their defaults)."""

    __tablename__ = "alert_rules"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    threshold: Mapped[float] = mapped_column(Float, default=0.0)


class AlertIncident(db.Model):
    """One condition from the moment it started to the moment it cleared (open while cleared_at is None)."""

    __tablename__ = "alert_incidents"
    __table_args__ = (
        Index("ix_alert_incidents_open", "rule", "subject", "cleared_at"),
        Index("ix_alert_incidents_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    # What the condition is about: "integration:3:status_push", "queue:import", "scheduler" ...
    subject: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text, default="")
    # The message's key and arguments (app.core.i18n.message_data): said in each reader's language.
    message_data: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def text(self) -> str:
        """The message in the reader's language (incidents from before messages had keys: as stored)."""
        return render_message(self.message_data, self.message) if self.message_data else self.message
