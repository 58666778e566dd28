"""Warehouse documents: WZ (goods issue) per order, its storno, PZ (goods receipt) and stock count corrections.

Numbered in a series per kind (WZ/2026/12/0001), counted like order numbers: one UPDATE ... RETURNING
takes the next number, so two workers never get the same one. Posting applies every line through
the ledger in one transaction, or refuses and changes nothing.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select, update

from app.catalog.models import Product
from app.core import params
from app.core.errors import NotFound, ValidationFailed
from app.core.i18n import CODE_LABELS
from app.core.types import utcnow
from app.core.upsert import insert_or_nothing
from app.extensions import db
from app.orders.models import Order
from app.orders.services import Actor, record_event
from app.settings import numbering
from app.stock import reservations, warehouses
from app.stock.models import DocumentSeries, OrderDocument, StockDocument, StockDocumentLine, StockLevel
from app.stock.warehouses import Movement, NotEnoughStock

SERIES = {"wz": "WZ/{YYYY}/{MM}/", "wz_storno": "WZK/{YYYY}/{MM}/", "pz": "PZ/{YYYY}/{MM}/",
          "correction": "INW/{YYYY}/{MM}/"}
REASON = {"wz": "wz", "wz_storno": "storno", "pz": "pz", "correction": "correction"}


def next_number(kind: str, today: date | None = None) -> str:
    """Take the next number of a document series inside the caller's transaction."""
    today = today or utcnow().date()
    insert_or_nothing(db.session, DocumentSeries.__table__, {
        "kind": kind, "prefix": SERIES[kind], "suffix": "", "padding": 4, "reset": "monthly", "counter": 0,
        "period": ""}, ("kind",), DocumentSeries.id)
    series = db.session.scalar(select(DocumentSeries).where(DocumentSeries.kind == kind))
    period = numbering.period_key(series.reset, today)
    counter = db.session.execute(
        update(DocumentSeries).where(DocumentSeries.id == series.id)
        .values(counter=case((DocumentSeries.period == period, DocumentSeries.counter + 1), else_=1), period=period)
        .returning(DocumentSeries.counter)).scalar_one()
    db.session.refresh(series)
    return numbering.format_number(series.prefix, counter, series.suffix, series.padding, today)


def get_document(document_id: int) -> StockDocument:
    """The document with that id, or NotFound."""
    document = db.session.get(StockDocument, document_id) if params.is_id(document_id) else None
    if document is None:
        raise NotFound(f"Document {document_id} does not exist.")
    return document


def _new(kind: str, warehouse_id: int, actor: Actor, *, order_id: int | None = None, note: str = "",
         reverses_id: int | None = None) -> StockDocument:
    document = StockDocument(kind=kind, number=next_number(kind), warehouse_id=warehouse_id, order_id=order_id,
                             note=note, created_by=actor.name[:200], reverses_id=reverses_id, state="draft")
    db.session.add(document)
    return document


def order_wz(order_id: int) -> StockDocument | None:
    """The order's WZ that is still in force (draft or posted and not reversed), if any."""
    reversed_ids = select(StockDocument.reverses_id).where(StockDocument.kind == "wz_storno",
                                                           StockDocument.reverses_id.is_not(None))
    return db.session.scalar(select(StockDocument).where(
        StockDocument.order_id == order_id, StockDocument.kind == "wz", StockDocument.state.in_(("draft", "posted")),
        StockDocument.id.not_in(reversed_ids)).order_by(StockDocument.id.desc()))


def draft_wz(order: Order, actor: Actor, warehouse_id: int | None = None) -> StockDocument:
    """The order's WZ in force, or a new draft with a line per product the order sold (caller commits)."""
    existing = order_wz(order.id)
    if existing is not None:
        return existing
    warehouse = warehouses.get_warehouse(warehouse_id) if warehouse_id else warehouses.default_warehouse()
    document = _new("wz", warehouse.id, actor, order_id=order.id)
    for item in order.items:
        product_id = reservations.product_for(item)
        if product_id is None:
            continue
        document.lines.append(StockDocumentLine(product_id=product_id, name=item.name, sku=item.sku,
                                                quantity=-item.quantity))
    if not document.lines:
        raise ValidationFailed(_l("None of the order's lines is a product in the catalogue, so there is nothing to "
                                  "issue. Link the lines' SKUs to products first."))
    db.session.flush()
    _record_on_order(order, document, _l("WZ %(number)s drafted in %(warehouse)s.", number=document.number,
                                         warehouse=warehouse.code), actor)
    return document


def _record_on_order(order: Order, document: StockDocument, message, actor: Actor, level: str = "ok") -> None:
    if not db.session.scalar(select(OrderDocument.id).where(OrderDocument.order_id == order.id,
                                                            OrderDocument.document_id == document.id)):
        db.session.add(OrderDocument(order_id=order.id, document_id=document.id, kind=document.kind,
                                     number=document.number))
    record_event(order, f"document_{document.kind}", message, actor, level=level,
                 data={"document_id": document.id, "number": document.number})


def apply_document(document: StockDocument, actor: Actor, taken: list[tuple[int, int, str]] = ()) -> None:
    """Post a draft: every line through the ledger, or NotEnoughStock and nothing (the caller's transaction).

    `taken`: offers whose platform already lowered its stock for this order (see warehouses.announce).
    """
    if document.state != "draft":
        raise ValidationFailed(_l("%(number)s is %(state)s; only a draft can be posted.", number=document.number,
                                  state=CODE_LABELS.get(document.state, document.state)))
    reason = REASON[document.kind]
    movements, lines, held_left = [], {}, {}
    for line in document.lines:
        reserved = 0
        if document.kind == "wz" and document.order_id:
            if line.product_id not in held_left:
                held_left[line.product_id] = reservations.held_for(document.order_id, line.product_id,
                                                                   document.warehouse_id)
            reserved = min(held_left[line.product_id], -line.quantity)
            held_left[line.product_id] -= reserved
        movements.append(Movement(line.product_id, document.warehouse_id, on_hand_change=line.quantity,
                                  reserved_change=-reserved))
        lines.setdefault(line.product_id, line)
    refused = warehouses.move_many(movements, reason, actor=actor.name, order_id=document.order_id,
                                   document_id=document.id)
    if refused is not None:
        line = lines[refused.product_id]
        raise NotEnoughStock(f"{document.number} would issue more {line.sku or line.name} than "
                             f"{document.warehouse.code} has on hand (not reserved for other orders); "
                             "nothing was posted.", [line.product_id], document.warehouse_id)
    if document.kind == "wz" and document.order_id:
        for line in document.lines:
            reservations.consume(document.order_id, line.product_id, document.warehouse_id, -line.quantity)
    document.state, document.posted_at = "posted", utcnow()
    warehouses.announce({line.product_id for line in document.lines}, reason, taken)
    if document.order is not None:
        _record_on_order(document.order, document, _l("%(kind)s %(number)s posted.", kind=document.kind_name,
                                                      number=document.number), actor)


def post(document_id: int, actor: Actor) -> StockDocument:
    """Post a draft document by hand; a refusal changes nothing and is noted for the stock page."""
    document = get_document(document_id)
    try:
        apply_document(document, actor)
        db.session.commit()
    except NotEnoughStock as refused:
        db.session.rollback()
        warehouses.note_refusal(refused.product_ids, refused.warehouse_id)
        raise
    except Exception:
        db.session.rollback()
        raise
    return document


def issue_wz(order_id: int, actor: Actor, *, post_now: bool = True) -> StockDocument:
    """Create (and post) the order's WZ by hand."""
    order = db.session.get(Order, order_id, with_for_update=True) if params.is_id(order_id) else None
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    try:
        document = draft_wz(order, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if post_now and document.state == "draft":
        return post(document.id, actor)
    return document


def storno_of(document: StockDocument, actor: Actor) -> StockDocument:
    """A posted WZ reversed: a storno document that puts the goods back, posted at once (caller commits)."""
    if document.kind != "wz" or document.state != "posted":
        raise ValidationFailed(_l("Only a posted WZ can be reversed."))
    storno = _new("wz_storno", document.warehouse_id, actor, order_id=document.order_id, reverses_id=document.id,
                  note=f"Storno of {document.number}")
    for line in document.lines:
        storno.lines.append(StockDocumentLine(product_id=line.product_id, name=line.name, sku=line.sku,
                                              quantity=-line.quantity))
    db.session.flush()
    apply_document(storno, actor)
    return storno


def discard_draft(document: StockDocument, actor: Actor) -> None:
    """Cancel a draft that was never posted (the caller's transaction)."""
    if document.state == "draft":
        document.state = "cancelled"
        if document.order is not None:
            record_event(document.order, "document_cancelled",
                         _l("%(number)s cancelled (never posted).", number=document.number), actor)


def receive(warehouse_id: int, lines: list[tuple[int, int]], actor: Actor, note: str = "") -> StockDocument:
    """A goods receipt (PZ) by hand, posted at once: (product id, units) per line."""
    warehouse = warehouses.get_warehouse(warehouse_id)
    if not lines or any(units <= 0 for _, units in lines):
        raise ValidationFailed(_l("A receipt needs at least one line with a positive quantity."), field="quantity")
    wanted = sorted({product_id for product_id, _ in lines})
    products = {}
    for start in range(0, len(wanted), 5000):  # one query, not one per line (a receipt may hold thousands)
        products.update({p.id: p for p in db.session.scalars(select(Product).where(
            Product.id.in_(wanted[start:start + 5000])))})
    missing = [product_id for product_id in wanted if product_id not in products]
    if missing:
        raise ValidationFailed(_l("Product %(id)s does not exist.", id=missing[0]), field="product")
    document = _new("pz", warehouse.id, actor, note=note)
    with db.session.no_autoflush:
        for product_id, units in lines:
            product = products[product_id]
            document.lines.append(StockDocumentLine(product_id=product_id, name=product.name, sku=product.sku,
                                                    quantity=units))
    try:
        db.session.flush()
        apply_document(document, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return document


def correct(warehouse_id: int, product_id: int, counted: int, actor: Actor, note: str = "") -> StockDocument:
    """A stock count correction: on hand becomes what was counted (never below what orders hold)."""
    warehouse = warehouses.get_warehouse(warehouse_id)
    product = db.session.get(Product, product_id)
    if product is None:
        raise ValidationFailed(_l("Product %(id)s does not exist.", id=product_id), field="product")
    counted = params.int_arg(counted, "counted", minimum=0, maximum=warehouses.MAX_QUANTITY, label="counted quantity")
    row = db.session.get(StockLevel, warehouses.level_id(product_id, warehouse.id), with_for_update=True)
    change = counted - row.on_hand
    if change == 0:
        db.session.rollback()
        raise ValidationFailed(_l("%(warehouse)s already has %(counted)s of %(product)s.", warehouse=warehouse.code,
                                  counted=counted, product=product.sku or product.name),
                               field="counted")
    document = _new("correction", warehouse.id, actor, note=note)
    document.lines.append(StockDocumentLine(product_id=product_id, name=product.name, sku=product.sku,
                                            quantity=change))
    try:
        db.session.flush()
        apply_document(document, actor)
        db.session.commit()
    except NotEnoughStock:
        db.session.rollback()
        warehouses.note_refusal([product_id], warehouse.id)
        raise NotEnoughStock(f"{counted} is less than orders hold of {product.sku or product.name} in "
                             f"{warehouse.code}; release reservations first.", [product_id], warehouse.id)
    except Exception:
        db.session.rollback()
        raise
    return document


def order_documents(order_id: int) -> list[OrderDocument]:
    """Documents recorded on an order, oldest first."""
    return list(db.session.scalars(select(OrderDocument).where(OrderDocument.order_id == order_id)
                                   .order_by(OrderDocument.id)))


def recent_documents(limit: int = 50) -> list[StockDocument]:
    """The latest documents for the documents page."""
    return list(db.session.scalars(select(StockDocument).order_by(StockDocument.id.desc()).limit(limit)))
