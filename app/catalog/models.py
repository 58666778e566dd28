"""Products and integration product links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.types import UTCDateTime, utcnow
from app.extensions import db
from app.integrations.models import Integration


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not unique: real catalogues repeat SKUs; matching treats a repeated one as ambiguous.
    sku: Mapped[str] = mapped_column(String(64), default="", index=True)
    ean: Mapped[str] = mapped_column(String(32), default="", index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    links: Mapped[list[ProductLink]] = relationship(back_populates="product", cascade="all, delete-orphan",
                                                    order_by="ProductLink.id")


class ProductLink(db.Model):
    """A Kontor product as one product or combination in one integration's shop.

    `supplier_availability` is what the last supplier feed said: {contractor_id, stock_quantity,
    delivery_days, purchase_price}; `meta` keeps what was last written to the shop.
    """

    __tablename__ = "integration_product_links"
    __table_args__ = (
        UniqueConstraint("integration_id", "external_product_id", "external_combination_id"),
        Index("ix_integration_product_links_product", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    external_product_id: Mapped[str] = mapped_column(String(64))
    # PrestaShop id_product_attribute; 0 for the product itself.
    external_combination_id: Mapped[str] = mapped_column(String(64), default="0")
    supplier_availability: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    supplier_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="links")
    integration: Mapped[Integration] = relationship()
