"""Orders and everything that hangs off them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_babel import lazy_gettext as _l

from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration

SOURCES = {
    "manual": _l("Manual"),
    "api": "API",
    "allegro": "Allegro",
    "prestashop": "PrestaShop",
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
    "webhook": "Webhook",
}
PAYMENT_STATUSES = {"pending": _l("Pending"), "partially_paid": _l("Partially paid"), "paid": _l("Paid"), "refunded": _l("Refunded")}
FULFILLMENT_STATUSES = {
    "unassigned": _l("Unassigned"),
    "reserved": _l("Reserved"),
    "picking": _l("Picking"),
    "packed": _l("Packed"),
    "shipped": _l("Shipped"),
}
CHANGE_SOURCES = {
    "manual": _l("Manual"),
    "api": "API",
    "platform": _l("Platform"),
    "import": _l("Import"),
    "automation": _l("Automation"),
}
ADDRESS_KINDS = {"customer": _l("Customer"), "billing": _l("Billing"), "shipping": _l("Shipping"), "pickup": _l("Pickup point")}

Money = Numeric(12, 2)
# Text columns with no length in the database still have one for people: the forms and the API share these.
COMMENT_MAX_LENGTH = 500
NOTE_MAX_LENGTH = 5000
CUSTOMER_COMMENT_MAX_LENGTH = 2000


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("integration_id", "external_order_id"),
        Index("ix_orders_status_ordered_at", "status", "ordered_at"),
        # The list's common filter pairs, so counting a filtered list never reads the table.
        Index("ix_orders_status_source_ordered_at", "status", "source", "ordered_at"),
        Index("ix_orders_status_payment_ordered_at", "status", "payment_status", "ordered_at"),
        Index("ix_orders_source_ordered_at", "source", "ordered_at"),
        # Ordered-at first (the list's unfiltered page); the rest lets the dashboard sum a period from the index.
        Index("ix_orders_ordered_at_figures", "ordered_at", "source", "currency", "status", "total_gross"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    source: Mapped[str] = mapped_column(String(20), index=True, default="manual")
    # The integration the order came from, and its id and current state there.
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id", ondelete="SET NULL"), index=True)
    external_order_id: Mapped[str | None] = mapped_column(String(100), index=True)
    platform_state: Mapped[str | None] = mapped_column(String(60))
    platform_state_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(40))
    payment_status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    fulfillment_status: Mapped[str] = mapped_column(String(20), default="unassigned")
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    # Denormalised from the customer address so the list can search and show it without a join.
    customer_name: Mapped[str] = mapped_column(String(200), default="", index=True)
    customer_email: Mapped[str] = mapped_column(String(255), default="", index=True)
    customer_phone: Mapped[str] = mapped_column(String(40), default="")
    subtotal_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_net: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    delivery_method: Mapped[str] = mapped_column(String(120), default="")
    customer_comment: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Bumped on every update: a change based on a stale read fails instead of overwriting.
    revision: Mapped[int] = mapped_column(default=1)

    integration: Mapped[Integration | None] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )
    addresses: Mapped[list[OrderAddress]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderAddress.id"
    )
    payments: Mapped[list[OrderPayment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderPayment.id"
    )
    shipments: Mapped[list[OrderShipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderShipment.id"
    )
    history: Mapped[list[OrderStatusHistory]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderStatusHistory.id"
    )
    notes: Mapped[list[OrderNote]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderNote.id"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderEvent.id"
    )

    __mapper_args__ = {"version_id_col": revision}

    def address(self, kind: str) -> OrderAddress | None:
        """The address of that kind (customer, billing, shipping, pickup), if any."""
        return next((a for a in self.addresses if a.kind == kind), None)


class OrderItem(db.Model):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # A snapshot of the product as sold; later catalogue edits do not change past orders.
    name: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str] = mapped_column(String(64), default="", index=True)
    ean: Mapped[str] = mapped_column(String(32), default="")
    external_item_id: Mapped[str | None] = mapped_column(String(100))
    # The platform listing it was bought from, and the catalogue product that listing is (by link, SKU, EAN).
    offer_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_net: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    unit_price_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("23"))
    discount_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))

    order: Mapped[Order] = relationship(back_populates="items")

    @property
    def total_gross(self) -> Decimal:
        return self.unit_price_gross * self.quantity - self.discount_gross

    @property
    def total_net(self) -> Decimal:
        gross = self.total_gross
        return (gross / (1 + self.vat_rate / 100)).quantize(Decimal("0.01"))


class OrderAddress(db.Model):
    __tablename__ = "order_addresses"
    __table_args__ = (UniqueConstraint("order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    vat_id: Mapped[str] = mapped_column(String(32), default="")
    street: Mapped[str] = mapped_column(String(255), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    country_code: Mapped[str] = mapped_column(String(2), default="PL")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    # For pickup points: the carrier's point id (e.g. an InPost locker code).
    point_id: Mapped[str] = mapped_column(String(60), default="")

    order: Mapped[Order] = relationship(back_populates="addresses")

    def lines(self) -> list[str]:
        """The address as printed on a label, without empty lines."""
        parts = [self.name, self.company, self.street, f"{self.postcode} {self.city}".strip(), self.country_code]
        if self.point_id:
            parts.insert(0, f"Point {self.point_id}")
        if self.vat_id:
            parts.append(f"VAT ID {self.vat_id}")
        return [p for p in parts if p]


class OrderPayment(db.Model):
    __tablename__ = "order_payments"
    # An order's first payment is read from the index alone (the dashboard's time from paid to shipped).
    __table_args__ = (Index("ix_order_payments_order_paid", "order_id", "paid_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(60), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    status: Mapped[str] = mapped_column(String(20), default="completed")
    external_payment_id: Mapped[str | None] = mapped_column(String(100))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="payments")


class OrderShipment(db.Model):
    __tablename__ = "order_shipments"
    # An order's first shipment is read from the index alone (the dashboard, the list's shipped filter).
    __table_args__ = (Index("ix_order_shipments_order_shipped", "order_id", "shipped_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(60), default="")
    service: Mapped[str] = mapped_column(String(60), default="")
    tracking_number: Mapped[str] = mapped_column(String(100), default="", index=True)
    status: Mapped[str] = mapped_column(String(20), default="created")
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="shipments")


class OrderStatusHistory(db.Model):
    __tablename__ = "order_status_history"
    __table_args__ = (Index("ix_order_status_history_order_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str] = mapped_column(String(40))
    # Who or what made the change, in words: a user's name, "API token X", "Allegro".
    changed_by: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    change_source: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")


class OrderNote(db.Model):
    __tablename__ = "order_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="notes")


class OrderEvent(db.Model):
    """Anything else that happened to an order, for its timeline (created, edited, pushed ...)."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(20), default="manual")
    # "ok", "warning" or "error": how the timeline colours the entry.
    level: Mapped[str] = mapped_column(String(10), default="ok")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")
