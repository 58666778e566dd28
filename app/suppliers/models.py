"""Supplier feed imports: each run's progress and the rows it could not read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration


class FeedImport(db.Model):
    """One import of a supplier feed (an integration of kind supplier_feed)."""

    __tablename__ = "feed_imports"
    __table_args__ = (Index("ix_feed_imports_integration_started", "integration_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The feed is an integration of kind supplier_feed; the column keeps its first name.
    feed_id: Mapped[int] = mapped_column("integration_id", ForeignKey("integrations.id", ondelete="CASCADE"))
    # queued -> reading -> importing -> done | failed
    state: Mapped[str] = mapped_column(String(12), default="queued")
    rows_read: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    unmatched: Mapped[int] = mapped_column(default=0)
    invalid: Mapped[int] = mapped_column(default=0)
    links_updated: Mapped[int] = mapped_column(default=0)
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moved on by every step (reading, each chunk); the stalled-import check looks at it.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    feed: Mapped[Integration] = relationship()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        if not self.chunks_total:
            return 5 if self.state == "reading" else 0
        return min(99, int(100 * self.chunks_done / self.chunks_total))


class FeedProblem(db.Model):
    """A feed row that was not imported, with its line number and the reason in words."""

    __tablename__ = "feed_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_import_id: Mapped[int] = mapped_column(ForeignKey("feed_imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
