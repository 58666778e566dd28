"""Warehouses, stock levels, the stock ledger, reservations and warehouse documents (WZ, PZ, corrections)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.models import Product
from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration
from app.orders.models import Order, OrderItem

REASONS = {
    "reservation": _l("Reserved for an order"),
    "release": _l("Reservation released"),
    "wz": _l("Goods issue (WZ)"),
    "storno": _l("Storno of a goods issue"),
    "pz": _l("Goods receipt (PZ)"),
    "correction": _l("Stock count correction"),
    "platform_sale": _l("Sold on a platform"),
    "refused": _l("Refused: not enough stock"),
}
DOCUMENT_KINDS = {"wz": _l("Goods issue (WZ)"), "wz_storno": _l("Storno of a goods issue"),
                  "pz": _l("Goods receipt (PZ)"), "correction": _l("Stock count correction")}
DOCUMENT_STATES = {"draft": _l("Draft"), "posted": _l("Posted"), "cancelled": _l("Cancelled")}
RESERVATION_STATES = {"open": _l("Open"), "partially_released": _l("Partially released"), "released": _l("Released")}


class Warehouse(db.Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLevel(db.Model):
    """One product in one warehouse. Changed only by a conditional UPDATE with a ledger row."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("product_id", "warehouse_id"),
        # The database refuses what the conditional UPDATEs already prevent: nothing may make
        # available (on hand minus reserved) negative, whatever code path runs.
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("on_hand - reserved >= 0", name="available_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), index=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    minimum: Mapped[int] = mapped_column(default=0)
    # The last time a change was refused because it would have made available negative.
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse] = relationship()

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(db.Model):
    """A row of the stock ledger: what changed, why, through which document or order, who, when."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_product_at", "product_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    on_hand_change: Mapped[int] = mapped_column(default=0)
    reserved_change: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(20))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("stock_documents.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    warehouse: Mapped[Warehouse] = relationship()


class OrderItemReservation(db.Model):
    """Stock held for one order item in one warehouse; `reserved_quantity` below `quantity` is a shortage."""

    __tablename__ = "order_item_reservations"
    __table_args__ = (Index("ix_order_item_reservations_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column()  # wanted: the item's quantity
    reserved_quantity: Mapped[int] = mapped_column(default=0)  # held now
    released_quantity: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(20), default="open")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()
    item: Mapped[OrderItem] = relationship()
    product: Mapped[Product] = relationship()
    warehouse: Mapped[Warehouse] = relationship()

    @property
    def short(self) -> int:
        """Units still missing for the item."""
        return 0 if self.state == "released" else self.quantity - self.reserved_quantity - self.released_quantity


class DocumentSeries(db.Model):
    """How one kind of warehouse document is numbered (counter per period, like order numbers)."""

    __tablename__ = "document_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    prefix: Mapped[str] = mapped_column(String(40))
    suffix: Mapped[str] = mapped_column(String(40), default="")
    padding: Mapped[int] = mapped_column(default=4)
    reset: Mapped[str] = mapped_column(String(10), default="monthly")
    counter: Mapped[int] = mapped_column(default=0)
    period: Mapped[str] = mapped_column(String(10), default="")


class StockDocument(db.Model):
    __tablename__ = "stock_documents"
    __table_args__ = (Index("ix_stock_documents_order", "order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(60), unique=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("stock_documents.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(12), default="draft")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    warehouse: Mapped[Warehouse] = relationship()
    order: Mapped[Order | None] = relationship()
    reverses: Mapped[StockDocument | None] = relationship(remote_side=[id])
    lines: Mapped[list[StockDocumentLine]] = relationship(back_populates="document", cascade="all, delete-orphan",
                                                          order_by="StockDocumentLine.id")

    @property
    def kind_name(self) -> str:
        return DOCUMENT_KINDS.get(self.kind, self.kind)


class StockDocumentLine(db.Model):
    """`quantity` is the change of on hand the line makes when posted: minus for WZ, plus for PZ and storno."""

    __tablename__ = "stock_document_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("stock_documents.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    sku: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int] = mapped_column()

    document: Mapped[StockDocument] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class OrderDocument(db.Model):
    """A document recorded on an order (its WZ, the storno of it ...), listed on the order page."""

    __tablename__ = "order_documents"
    __table_args__ = (UniqueConstraint("order_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("stock_documents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[StockDocument] = relationship()


class OrderSettings(db.Model):
    """Settings > Orders: the warehouse side of every order (one row)."""

    __tablename__ = "order_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    default_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id", ondelete="SET NULL"))
    reserve_on_awaiting_fulfillment: Mapped[bool] = mapped_column(default=True)
    reservation_hours: Mapped[int] = mapped_column(default=72)
    issue_wz_on: Mapped[str] = mapped_column(String(40), default="")  # "", "picking" or "ready_for_shipment"
    release_on_cancel: Mapped[bool] = mapped_column(default=True)
    # Seller's details printed on warehouse documents.
    seller_details: Mapped[str] = mapped_column(Text, default="")


class StockSyncAttempt(db.Model):
    """One delivery attempt of stock to a channel: the seller's and the support's trace."""

    __tablename__ = "stock_sync_attempts"
    __table_args__ = (Index("ix_stock_sync_attempts_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int | None] = mapped_column(index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(20))
    milliseconds: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockDifference(db.Model):
    """What reconciliation found: a channel showing another quantity than Kontor's."""

    __tablename__ = "stock_differences"
    __table_args__ = (UniqueConstraint("link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    link_id: Mapped[int] = mapped_column(ForeignKey("integration_product_links.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    kontor_quantity: Mapped[int] = mapped_column()
    channel_quantity: Mapped[int] = mapped_column()
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship()
    integration: Mapped[Integration] = relationship()
