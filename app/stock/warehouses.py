"""Warehouses, stock levels and the ledger: the one place stock changes.

Every change is a conditional UPDATE of the stock row (it only applies while available stays at
or above zero) plus a ledger row, in the caller's transaction. `stock.changed` is published in
that transaction so the stock-operation outbox records the new quantity atomically with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from app.catalog.models import Product
from app.core import params
from app.core.errors import NotFound, ValidationFailed
from app.core.events import bus
from app.core.types import utcnow
from app.core.upsert import insert_many_or_nothing, insert_or_nothing
from app.extensions import db
from app.stock.models import OrderSettings, StockLevel, StockMovement, Warehouse

STOCK_CHANGED = "stock.changed"
MAX_QUANTITY = 10_000_000


class NotEnoughStock(ValidationFailed):
    """A change would have made available stock negative; nothing was changed."""

    def __init__(self, message: str, product_ids: list[int], warehouse_id: int) -> None:
        super().__init__(message, field="quantity")
        self.product_ids, self.warehouse_id = product_ids, warehouse_id


# --- warehouses and order settings ----------------------------------------------------------

def warehouses() -> list[Warehouse]:
    """All warehouses, the default first."""
    return list(db.session.scalars(select(Warehouse).order_by(Warehouse.is_default.desc(), Warehouse.code)))


def get_warehouse(warehouse_id: int) -> Warehouse:
    """The warehouse with that id, or NotFound."""
    warehouse = db.session.get(Warehouse, warehouse_id) if params.is_id(warehouse_id) else None
    if warehouse is None:
        raise NotFound(f"Warehouse {warehouse_id} does not exist.")
    return warehouse


def add_warehouse(code: str, name: str, default: bool = False) -> Warehouse:
    """Add a warehouse; the first one becomes the default."""
    code = params.text_arg(code, "code", max_length=20, label="code").upper()
    name = params.text_arg(name, "name", max_length=120, label="name")
    if not code or not name:
        raise ValidationFailed(_l("A warehouse needs a code and a name."), field="code" if not code else "name")
    if db.session.scalar(select(Warehouse.id).where(Warehouse.code == code)):
        raise ValidationFailed(_l("There is already a warehouse %(code)s.", code=code), field="code")
    first = not db.session.scalar(select(func.count(Warehouse.id)))
    warehouse = Warehouse(code=code, name=name, is_default=default or first)
    db.session.add(warehouse)
    db.session.flush()
    if warehouse.is_default:
        _make_default(warehouse)
    db.session.commit()
    return warehouse


def _make_default(warehouse: Warehouse) -> None:
    db.session.execute(update(Warehouse).where(Warehouse.id != warehouse.id).values(is_default=False))
    warehouse.is_default = True
    settings = order_settings()
    settings.default_warehouse_id = warehouse.id


def order_settings() -> OrderSettings:
    """The one row of Settings > Orders (created on first use)."""
    settings = db.session.scalar(select(OrderSettings).order_by(OrderSettings.id))
    if settings is None:
        default = db.session.scalar(select(Warehouse.id).where(Warehouse.is_default))
        settings = OrderSettings(default_warehouse_id=default)
        db.session.add(settings)
        db.session.flush()
    return settings


ISSUE_WZ_ON = {"": _l("Never (by hand)"), "picking": _l("Picking"), "ready_for_shipment": _l("Ready for shipment")}


def update_order_settings(*, default_warehouse_id: int, reserve: bool, hours: int, issue_wz_on: str,
                          release_on_cancel: bool, seller_details: str) -> OrderSettings:
    """Save Settings > Orders."""
    warehouse = get_warehouse(default_warehouse_id)
    hours = params.int_arg(hours, "reservation_hours", minimum=0, maximum=24 * 365, label="reservation expiry")
    if issue_wz_on not in ISSUE_WZ_ON:
        raise ValidationFailed(_l("Choose when a WZ is issued from the list."), field="issue_wz_on")
    settings = order_settings()
    _make_default(warehouse)
    settings.reserve_on_awaiting_fulfillment, settings.reservation_hours = bool(reserve), hours
    settings.issue_wz_on, settings.release_on_cancel = issue_wz_on, bool(release_on_cancel)
    settings.seller_details = params.text_arg(seller_details, "seller_details", max_length=2000,
                                              label="seller's details")
    db.session.commit()
    return settings


def default_warehouse() -> Warehouse:
    """The warehouse orders take stock from, or a clear error when there is none yet."""
    settings = order_settings()
    warehouse = db.session.get(Warehouse, settings.default_warehouse_id) if settings.default_warehouse_id else None
    warehouse = warehouse or db.session.scalar(select(Warehouse).where(Warehouse.is_default))
    if warehouse is None:
        raise ValidationFailed(_l("There is no warehouse yet: add one under Stock > Warehouses."), field="warehouse")
    return warehouse


# --- stock levels and the ledger -------------------------------------------------------------

def level_id(product_id: int, warehouse_id: int) -> int:
    """The stock row of a product in a warehouse, created at zero if missing (race-safe)."""
    existing = db.session.scalar(select(StockLevel.id).where(
        StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id))
    if existing:
        return existing
    created = insert_or_nothing(db.session, StockLevel.__table__, {
        "product_id": product_id, "warehouse_id": warehouse_id, "on_hand": 0, "reserved": 0, "minimum": 0,
        "updated_at": utcnow()}, ("product_id", "warehouse_id"), StockLevel.id)
    return created or db.session.scalar(select(StockLevel.id).where(
        StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id))


@dataclass(frozen=True)
class Movement:
    product_id: int
    warehouse_id: int
    on_hand_change: int = 0
    reserved_change: int = 0


def move(movement: Movement, reason: str, *, actor: str = "", order_id: int | None = None,
         document_id: int | None = None, note: str = "", at: datetime | None = None) -> bool:
    """Apply one movement with a conditional UPDATE and a ledger row; False (nothing changed) if it
    would make available or reserved negative. The caller's transaction; the caller commits."""
    if abs(movement.on_hand_change) > MAX_QUANTITY or abs(movement.reserved_change) > MAX_QUANTITY:
        raise ValidationFailed(_l("A quantity must be at most %(most)s.", most=format(MAX_QUANTITY, ",")), field="quantity")
    row = level_id(movement.product_id, movement.warehouse_id)
    d_on_hand, d_reserved = movement.on_hand_change, movement.reserved_change
    now = at or utcnow()
    changed = db.session.execute(
        update(StockLevel)
        .where(StockLevel.id == row,
               StockLevel.on_hand + d_on_hand - (StockLevel.reserved + d_reserved) >= 0,
               StockLevel.reserved + d_reserved >= 0)
        .values(on_hand=StockLevel.on_hand + d_on_hand, reserved=StockLevel.reserved + d_reserved, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return False
    db.session.add(StockMovement(product_id=movement.product_id, warehouse_id=movement.warehouse_id,
                                 on_hand_change=d_on_hand, reserved_change=d_reserved, reason=reason,
                                 order_id=order_id, document_id=document_id, actor=actor[:200], note=note, at=now))
    db.session.flush()
    return True


def level_ids(product_ids: list[int], warehouse_id: int) -> dict[int, int]:
    """{product id: stock row id} in a warehouse, creating missing rows at zero in one statement (race-safe)."""
    wanted = sorted(set(product_ids))
    found: dict[int, int] = {}
    for start in range(0, len(wanted), 5000):
        chunk = wanted[start:start + 5000]
        found.update(db.session.execute(select(StockLevel.product_id, StockLevel.id).where(
            StockLevel.warehouse_id == warehouse_id, StockLevel.product_id.in_(chunk))).all())
        missing = [p for p in chunk if p not in found]
        if missing:
            now = utcnow()
            insert_many_or_nothing(db.session, StockLevel.__table__, [
                {"product_id": p, "warehouse_id": warehouse_id, "on_hand": 0, "reserved": 0, "minimum": 0,
                 "updated_at": now} for p in missing], ("product_id", "warehouse_id"))
            found.update(db.session.execute(select(StockLevel.product_id, StockLevel.id).where(
                StockLevel.warehouse_id == warehouse_id, StockLevel.product_id.in_(missing))).all())
    return found


def move_many(movements: list[Movement], reason: str, *, actor: str = "", order_id: int | None = None,
              document_id: int | None = None) -> Movement | None:
    """Apply movements like `move`, with the ledger rows written at once; returns the first refused one
    (the caller rolls back: then nothing of them counts), or None when all applied."""
    now = utcnow()
    rows: dict[int, dict[int, int]] = {}
    for warehouse_id in {m.warehouse_id for m in movements}:
        rows[warehouse_id] = level_ids([m.product_id for m in movements if m.warehouse_id == warehouse_id],
                                       warehouse_id)
    if any(abs(m.on_hand_change) > MAX_QUANTITY or abs(m.reserved_change) > MAX_QUANTITY for m in movements):
        raise ValidationFailed(_l("A quantity must be at most %(most)s.", most=format(MAX_QUANTITY, ",")), field="quantity")
    ledger = [{"product_id": m.product_id, "warehouse_id": m.warehouse_id, "on_hand_change": m.on_hand_change,
               "reserved_change": m.reserved_change, "reason": reason, "order_id": order_id,
               "document_id": document_id, "actor": actor[:200], "note": "", "at": now} for m in movements]
    if db.session.get_bind().dialect.name == "postgresql" and len(movements) > 1:
        refused = _move_set_based(movements, rows, now)
        if refused is None and ledger:
            db.session.execute(insert(StockMovement), ledger)
        return refused
    ledger = []
    for m in movements:
        d_on_hand, d_reserved = m.on_hand_change, m.reserved_change
        changed = db.session.execute(
            update(StockLevel)
            .where(StockLevel.id == rows[m.warehouse_id][m.product_id],
                   StockLevel.on_hand + d_on_hand - (StockLevel.reserved + d_reserved) >= 0,
                   StockLevel.reserved + d_reserved >= 0)
            .values(on_hand=StockLevel.on_hand + d_on_hand, reserved=StockLevel.reserved + d_reserved,
                    updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            return m
        ledger.append({"product_id": m.product_id, "warehouse_id": m.warehouse_id, "on_hand_change": d_on_hand,
                       "reserved_change": d_reserved, "reason": reason, "order_id": order_id,
                       "document_id": document_id, "actor": actor[:200], "note": "", "at": now})
    if ledger:
        db.session.execute(insert(StockMovement), ledger)
    return None


def _move_set_based(movements: list[Movement], rows: dict[int, dict[int, int]], now: datetime) -> Movement | None:
    """PostgreSQL: the same conditional UPDATE for thousands of rows in one statement per 5,000.

    Movements of one stock row are summed first; a row the condition refuses is missing from RETURNING,
    and the caller's rollback then undoes the rest, as with one statement per row.
    """
    totals: dict[int, list[int]] = {}
    first: dict[int, Movement] = {}
    for m in movements:
        row_id = rows[m.warehouse_id][m.product_id]
        total = totals.setdefault(row_id, [0, 0])
        total[0] += m.on_hand_change
        total[1] += m.reserved_change
        first.setdefault(row_id, m)
    items = list(totals.items())
    for start in range(0, len(items), 5000):
        chunk = items[start:start + 5000]
        # Three arrays unnested side by side: three parameters, where a VALUES list would be compiled row by row.
        changes = select(*(func.unnest(bindparam(name, values, type_=ARRAY(Integer))).label(name) for name, values in (
            ("row_id", [row_id for row_id, _ in chunk]), ("d_on_hand", [d[0] for _, d in chunk]),
            ("d_reserved", [d[1] for _, d in chunk])))).subquery("changes")
        changed = set(db.session.scalars(
            update(StockLevel)
            .where(StockLevel.id == changes.c.row_id,
                   StockLevel.on_hand + changes.c.d_on_hand - (StockLevel.reserved + changes.c.d_reserved) >= 0,
                   StockLevel.reserved + changes.c.d_reserved >= 0)
            .values(on_hand=StockLevel.on_hand + changes.c.d_on_hand,
                    reserved=StockLevel.reserved + changes.c.d_reserved, updated_at=now)
            .returning(StockLevel.id)
            .execution_options(synchronize_session=False)))
        for row_id, _ in chunk:
            if row_id not in changed:
                return first[row_id]
    return None


def announce(product_ids: set[int] | list[int], reason: str, taken: list[tuple[int, int, str]] = ()) -> None:
    """Tell the rest of Kontor (the stock-operation outbox) that these products' available quantity changed.

    `taken` names the offers whose platform already took this change itself (integration id, product
    id, offer id; an empty offer id means any offer of that product there): they get no write back.
    """
    if product_ids:
        bus.publish(db.session, STOCK_CHANGED, {"product_ids": sorted(set(product_ids)), "reason": reason,
                                                "taken": [list(t) for t in taken]})


def note_refusal(product_ids: list[int], warehouse_id: int) -> None:
    """Remember (and commit) that a change was refused for lack of stock, for the stock page's filter."""
    db.session.execute(update(StockLevel).where(StockLevel.product_id.in_(product_ids),
                                                StockLevel.warehouse_id == warehouse_id)
                       .values(refused_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()


def available(product_id: int, warehouse_id: int) -> int:
    """Available (on hand minus reserved) of a product in a warehouse, read now."""
    return int(db.session.scalar(select(StockLevel.on_hand - StockLevel.reserved).where(
        StockLevel.product_id == product_id, StockLevel.warehouse_id == warehouse_id)) or 0)


def sellable(product_ids: list[int]) -> dict[int, int]:
    """What each product can still be sold as: available summed over all warehouses, read now."""
    rows = db.session.execute(select(StockLevel.product_id, func.sum(StockLevel.on_hand - StockLevel.reserved))
                              .where(StockLevel.product_id.in_(product_ids)).group_by(StockLevel.product_id)).all()
    found = {product_id: max(0, int(total or 0)) for product_id, total in rows}
    return {product_id: found.get(product_id, 0) for product_id in product_ids}


def product_levels(product_id: int) -> list[StockLevel]:
    """A product's stock per warehouse."""
    return list(db.session.scalars(select(StockLevel).where(StockLevel.product_id == product_id)
                                   .join(StockLevel.warehouse).order_by(Warehouse.code)))


def product_movements(product_id: int, limit: int = 20) -> list[StockMovement]:
    """A product's last movements, newest first."""
    return list(db.session.scalars(select(StockMovement).where(StockMovement.product_id == product_id)
                                   .order_by(StockMovement.id.desc()).limit(limit)))


STOCK_FILTERS = {"": _l("All"), "below_minimum": _l("Below minimum"), "reserved": _l("With reservations"),
                 "refused": _l("Refused (would go negative)")}


def stock_list(filter_name: str = "", warehouse_id: int | None = None, query: str = "", limit: int = 200
               ) -> list[StockLevel]:
    """Stock rows for the stock page, filtered."""
    statement = select(StockLevel).join(StockLevel.product).join(StockLevel.warehouse)
    if warehouse_id:
        statement = statement.where(StockLevel.warehouse_id == warehouse_id)
    if filter_name == "below_minimum":
        statement = statement.where(StockLevel.on_hand - StockLevel.reserved < StockLevel.minimum)
    elif filter_name == "reserved":
        statement = statement.where(StockLevel.reserved > 0)
    elif filter_name == "refused":
        statement = statement.where(StockLevel.refused_at.is_not(None))
    if query:
        like = f"%{query}%"
        statement = statement.where(Product.sku.ilike(like) | Product.name.ilike(like) | Product.ean.ilike(like))
    return list(db.session.scalars(statement.order_by(Product.sku, Warehouse.code).limit(limit)))


def set_minimum(product_id: int, warehouse_id: int, minimum: int) -> None:
    """The level below which the stock page lists the product."""
    minimum = params.int_arg(minimum, "minimum", minimum=0, maximum=MAX_QUANTITY, label="minimum")
    row = level_id(product_id, warehouse_id)
    db.session.execute(update(StockLevel).where(StockLevel.id == row).values(minimum=minimum))
    db.session.commit()
