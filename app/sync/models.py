"""The outbox's table: one row per change that must reach another system (see app.sync.outbox for its life)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.i18n import shown_text
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.orders.models import Order


class SyncOperation(db.Model):
    __tablename__ = "sync_operations"
    __table_args__ = (
        Index("ix_sync_operations_due", "state", "next_attempt_at"),
        Index("ix_sync_operations_order_kind", "order_id", "kind", "state"),
        Index("ix_sync_operations_kind_finished", "kind", "finished_at"),
        Index("ix_sync_operations_subject", "subject", "kind", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # None for Kontor's own deliveries that belong to no integration (alerts to the seller's channels).
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"),
                                                       index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # What an operation without an order is about (e.g. "link:42", one offer's stock): pending
    # operations of one kind and subject collapse into the latest, like an order's do.
    subject: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    generation: Mapped[int] = mapped_column(default=1)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")
    # Keys and arguments of the texts Kontor wrote in result/last_error (app.core.i18n.keep_text).
    message_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    integration: Mapped[Integration | None] = relationship()
    order: Mapped[Order | None] = relationship()

    @property
    def result_text(self) -> str:
        """The result in the reader's language (as stored when Kontor kept no key for it)."""
        return shown_text(self.message_data, "result", self.result)

    @property
    def error_text(self) -> str:
        """The last error in the reader's language (a platform's own words stay as it wrote them)."""
        return shown_text(self.message_data, "last_error", self.last_error)

    @property
    def job_id(self) -> str:
        """The RQ job id for this attempt (letters, digits, dashes only)."""
        return f"sync-op-{self.id}-g{self.generation}"
