"""Order statuses and the order numbering scheme."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.settings.statuses import StatusDef


class OrderStatus(db.Model):
    __tablename__ = "order_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    colour: Mapped[str] = mapped_column(String(7), default="#64748b")
    position: Mapped[int] = mapped_column(default=0)
    group: Mapped[str] = mapped_column(String(20))
    is_final: Mapped[bool] = mapped_column(default=False)

    def as_def(self) -> StatusDef:
        """The plain definition the workflow reasons about."""
        return StatusDef(self.code, self.name, self.group, self.position, self.is_final, self.colour)


class NumberingScheme(db.Model):
    """The one row that says how new orders are numbered."""

    __tablename__ = "numbering_schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(40), default="ZK/{YYYY}/")
    suffix: Mapped[str] = mapped_column(String(40), default="")
    padding: Mapped[int] = mapped_column(default=5)
    reset: Mapped[str] = mapped_column(String(10), default="yearly")
    counter: Mapped[int] = mapped_column(default=0)
    period: Mapped[str] = mapped_column(String(10), default="")


class ShopPreferences(db.Model):
    """The one row of shop-wide preferences that have no better home (how fast orders should ship)."""

    __tablename__ = "shop_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A paid order still not shipped this many hours after it was placed counts as late.
    ship_within_hours: Mapped[int] = mapped_column(default=48, server_default="48")
