"""The inbound ledger: every delivery a platform sends, stored raw before anything is done with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.i18n import shown_text
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration

STATES = {"received": "Received", "processed": "Processed", "failed": "Failed", "ignored": "Ignored"}
# What applying a delivery did (apply.Applied.outcome, plus what only the ledger knows): "created",
# "updated", "refused" (updated, but the workflow refused the platform's status), "unchanged", "older",
# "skipped" (nothing to apply it to), "malformed" (cannot be read), "noted" (a journal hint whose order
# another delivery carries).
OUTCOMES = ("created", "updated", "refused", "unchanged", "older", "skipped", "malformed", "noted")


class InboundEvent(db.Model):
    """One delivery (webhook, polled order, platform event), deduplicated by the platform's own id."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("integration_id", "delivery_id"),
        Index("ix_inbound_events_due", "state", "next_attempt_at"),
        Index("ix_inbound_events_integration_received", "integration_id", "received_at"),
        Index("ix_inbound_events_run_outcome", "run_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    # The platform's event or delivery id (or a key built from the resource when the platform has none).
    delivery_id: Mapped[str] = mapped_column(String(255))
    # Where it came from ("shopify", "woocommerce", "generic", "poll" ...) and what it is about.
    kind: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(60), default="")
    resource_id: Mapped[str] = mapped_column(String(100), default="")
    # When the platform says the event happened (X-Shopify-Triggered-At, webhook-timestamp ...).
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The body exactly as received: a signature covers bytes, and nothing may be garbled.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    # None once there is nothing more to try (processed, ignored, failed for good).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # Held by the worker processing it; a worker that dies leaves it to expire.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    # Keys and arguments of the texts Kontor wrote in error/result (app.core.i18n.keep_text).
    message_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    # The import run that fetched it (none for a webhook delivery), and what applying it did (OUTCOMES):
    # the run's history sums them.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("integration_runs.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(12))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    integration: Mapped[Integration] = relationship()

    @property
    def job_id(self) -> str:
        """The RQ job id of the next attempt (a new one for each attempt)."""
        return f"inbound-event-{self.id}-a{self.attempts}"

    @property
    def error_text(self) -> str:
        """Why processing failed, in the reader's language (as stored when Kontor kept no key for it)."""
        return shown_text(self.message_data, "error", self.error)

    @property
    def shown(self) -> str:
        """What the deliveries page says about it, in the reader's language: the error, else the result."""
        return self.error_text or shown_text(self.message_data, "result", self.result)

    @property
    def body_text(self) -> str:
        """The body for people to read (bytes that are not UTF-8 shown as replacement characters)."""
        return (self.body or b"").decode("utf-8", errors="replace")


class WebhookRejection(db.Model):
    """How many deliveries an integration refused (bad or missing signature), and the last reason."""

    __tablename__ = "webhook_rejections"

    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    last_reason: Mapped[str] = mapped_column(Text, default="")
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
