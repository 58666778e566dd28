"""Integrations, their platform states, status mappings and sync cursors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.crypto import decrypt_json, encrypt_json
from app.core.i18n import keep_text, shown_text
from app.core.types import UTCDateTime, utcnow
from app.extensions import db

KINDS = {"prestashop": "PrestaShop", "allegro": "Allegro", "shopify": "Shopify", "woocommerce": "WooCommerce",
         "generic": _l("Other shop (webhooks)")}
DIRECTIONS = {
    "off": _l("Off"),
    "pull": _l("Platform → Kontor"),
    "push": _l("Kontor → platform"),
    "both": _l("Both ways"),
}
MAPPING_DIRECTIONS = {"push": _l("Kontor → platform"), "pull": _l("Platform → Kontor"), "both": _l("Both ways")}
# What a status push does when it finds the order changed on the platform since Kontor last saw it.
WHEN_PLATFORM_CHANGED = {
    "ask": _l("Ask me: the order shows both and waits for a choice"),
    "kontor": _l("Kontor wins: push, and note on the timeline what was overwritten"),
    "platform": _l("The platform wins: don't push, take its state into Kontor"),
}
DEFAULT_WHEN_PLATFORM_CHANGED = "ask"
# The names Kontor gives Allegro's fulfillment states (integrations/allegro/client.py, which knows HTTP only):
# catalogued here so pages say them in the reader's language through the `tr` filter.
DEFAULT_STATE_NAMES = (_l("New"), _l("Processing"), _l("Ready for shipment"), _l("Ready for pickup"), _l("Sent"),
                       _l("Picked up"), _l("Cancelled"), _l("Suspended"), _l("Returned"))


class Integration(db.Model):
    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(default=True)
    sync_direction: Mapped[str] = mapped_column(String(10), default="off")
    # Non-secret settings (shop URL, language id, environment ...), shown and edited freely.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Secrets (webservice key, client secret, tokens), encrypted with KONTOR_ENCRYPTION_KEY.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    connection_state: Mapped[str] = mapped_column(String(20), default="unknown")
    connection_message: Mapped[str] = mapped_column(Text, default="")
    connection_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    states_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    states: Mapped[list[PlatformState]] = relationship(
        back_populates="integration", cascade="all, delete-orphan", order_by="PlatformState.position"
    )
    mappings: Mapped[list[StatusMapping]] = relationship(
        back_populates="integration", cascade="all, delete-orphan", order_by="StatusMapping.position"
    )

    @property
    def credentials(self) -> dict[str, Any]:
        """The decrypted secrets."""
        return decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.credentials_encrypted = encrypt_json(value)

    @property
    def pushes(self) -> bool:
        return self.enabled and self.sync_direction in ("push", "both")

    @property
    def pulls(self) -> bool:
        return self.enabled and self.sync_direction in ("pull", "both")

    @property
    def when_platform_changed(self) -> str:
        """"When the platform changed the order too": ask, kontor or platform."""
        choice = (self.settings or {}).get("when_platform_changed")
        return choice if choice in WHEN_PLATFORM_CHANGED else DEFAULT_WHEN_PLATFORM_CHANGED

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, self.kind)


class PlatformState(db.Model):
    """One of the platform's own order statuses (PrestaShop order state, Allegro fulfillment status)."""

    __tablename__ = "platform_states"
    __table_args__ = (UniqueConstraint("integration_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str] = mapped_column(String(7), default="")
    read_only: Mapped[bool] = mapped_column(default=False)
    # A state the platform no longer lists stays for history but cannot be mapped anew.
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    integration: Mapped[Integration] = relationship(back_populates="states")


class StatusMapping(db.Model):
    """Local status <-> platform state, with a direction; for pushing, the first matching row wins."""

    __tablename__ = "status_mappings"
    __table_args__ = (Index("ix_status_mappings_integration_position", "integration_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    local_status: Mapped[str] = mapped_column(String(40))
    platform_state_id: Mapped[int] = mapped_column(ForeignKey("platform_states.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10), default="both")
    position: Mapped[int] = mapped_column(default=0)

    integration: Mapped[Integration] = relationship(back_populates="mappings")
    platform_state: Mapped[PlatformState] = relationship()


class SyncCursor(db.Model):
    """How far a sync has got for an integration (e.g. last status pushed at)."""

    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IntegrationRun(db.Model):
    """One run of a sync job for an integration, with its counts: the integration's run log."""

    __tablename__ = "integration_runs"
    __table_args__ = (Index("ix_integration_runs_integration_started", "integration_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    ok: Mapped[bool] = mapped_column(default=True)
    # What a count alone does not say, e.g. every shop row an availability sync could not find.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def text(self) -> str:
        """The run's message in the reader's language (runs from before messages had keys: as stored)."""
        return shown_text(self.details, "message", self.message)

    def say(self, message) -> None:
        """Set the message; a lazy message keeps its key in `details` to be said in each reader's language."""
        self.message, self.details = keep_text(self.details, "message", message, lambda text: text[:4000])
