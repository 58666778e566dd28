"""Warehouse documents: WZ posting, storno on cancel, PZ, stock count corrections, numbering."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.orders.models import OrderEvent
from app.orders.services import ItemInput, change_status
from app.stock import documents, reservations, warehouses
from app.stock.models import OrderDocument, OrderItemReservation, StockDocument, StockLevel
from app.stock.warehouses import NotEnoughStock
from tests.factories import make_order
from tests.stock.conftest import KEEPER, stocked


def _order(sku: str, quantity: int, status: str = "paid"):
    return make_order(status, items=[ItemInput(name=f"Item {sku}", quantity=quantity,
                                               unit_price_gross=Decimal("10"), sku=sku)])


def _level(product, warehouse) -> tuple[int, int]:
    level = db.session.scalar(select(StockLevel).where(StockLevel.product_id == product.id,
                                                       StockLevel.warehouse_id == warehouse.id)
                              .execution_options(populate_existing=True))
    return level.on_hand, level.reserved


def test_posting_a_wz_lowers_on_hand_releases_the_reservation_and_is_on_the_order(app, warehouse):
    mug = stocked("KUB-350", 10, warehouse)
    order = _order("KUB-350", 3)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    wz = documents.issue_wz(order.id, KEEPER)
    assert wz.state == "posted" and wz.number.startswith("WZ/") and wz.number.endswith("/0001")
    assert _level(mug, warehouse) == (7, 0)
    assert db.session.scalar(select(OrderItemReservation.state)) == "released"
    [recorded] = db.session.scalars(select(OrderDocument)).all()
    assert (recorded.order_id, recorded.number) == (order.id, wz.number)
    assert db.session.scalar(select(OrderEvent).where(OrderEvent.kind == "document_wz",
                                                      OrderEvent.message.contains("posted")))


def test_cancelling_after_posting_puts_the_goods_back_with_a_storno(app, warehouse):
    mug = stocked("KUB-350", 5, warehouse)
    order = _order("KUB-350", 2)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    wz = documents.issue_wz(order.id, KEEPER)
    assert _level(mug, warehouse) == (3, 0)
    change_status(order.id, "cancelled", KEEPER)
    assert _level(mug, warehouse) == (5, 0)
    storno = db.session.scalar(select(StockDocument).where(StockDocument.kind == "wz_storno"))
    assert storno.reverses_id == wz.id and storno.state == "posted" and storno.number.startswith("WZK/")
    assert [line.quantity for line in storno.lines] == [2]
    assert {d.kind for d in documents.order_documents(order.id)} == {"wz", "wz_storno"}


def test_a_wz_never_issues_more_than_on_hand(app, warehouse):
    mug = stocked("KUB-350", 1, warehouse)
    order = _order("KUB-350", 3)
    wz = documents.issue_wz(order.id, KEEPER, post_now=False)
    with pytest.raises(NotEnoughStock, match="more KUB-350 than MAG has on hand"):
        documents.post(wz.id, KEEPER)
    assert _level(mug, warehouse) == (1, 0)
    db.session.refresh(wz)
    assert wz.state == "draft"
    assert [level.product_id for level in warehouses.stock_list("refused")] == [mug.id]


def test_a_wz_cannot_take_units_other_orders_hold(app, warehouse):
    mug = stocked("KUB-350", 2, warehouse)
    holder, other = _order("KUB-350", 2), _order("KUB-350", 1)
    reservations.reserve(holder.id, KEEPER)
    with pytest.raises(NotEnoughStock):
        documents.issue_wz(other.id, KEEPER)
    assert _level(mug, warehouse) == (2, 2)


def test_the_wz_is_issued_automatically_on_the_chosen_status(app, warehouse):
    mug = stocked("KUB-350", 5, warehouse)
    settings = warehouses.order_settings()
    settings.issue_wz_on = "picking"
    db.session.commit()
    order = _order("KUB-350", 2)
    change_status(order.id, "awaiting_fulfillment", KEEPER)
    change_status(order.id, "picking", KEEPER)
    assert documents.order_wz(order.id).state == "posted"
    assert _level(mug, warehouse) == (3, 0)


def test_an_automatic_wz_without_stock_stays_a_draft_and_the_status_still_changes(app, warehouse):
    stocked("KUB-350", 1, warehouse)
    settings = warehouses.order_settings()
    settings.issue_wz_on = "picking"
    settings.reserve_on_awaiting_fulfillment = False
    db.session.commit()
    order = _order("KUB-350", 2)
    change_status(order.id, "picking", KEEPER)
    db.session.refresh(order)
    assert order.status == "picking"
    assert documents.order_wz(order.id).state == "draft"
    assert db.session.scalar(select(OrderEvent).where(OrderEvent.message.contains("stays a draft")))


def test_receipt_and_correction(app, warehouse):
    mug = stocked("KUB-350", 0, warehouse)
    pz = documents.receive(warehouse.id, [(mug.id, 12)], KEEPER, note="Delivery 42")
    assert pz.number.startswith("PZ/") and _level(mug, warehouse) == (12, 0)
    correction = documents.correct(warehouse.id, mug.id, 9, KEEPER)
    assert [line.quantity for line in correction.lines] == [-3] and _level(mug, warehouse) == (9, 0)


def test_a_correction_below_what_orders_hold_is_refused(app, warehouse):
    mug = stocked("KUB-350", 5, warehouse)
    reservations.reserve(_order("KUB-350", 4).id, KEEPER)
    with pytest.raises(NotEnoughStock, match="release reservations first"):
        documents.correct(warehouse.id, mug.id, 3, KEEPER)
    assert _level(mug, warehouse) == (5, 4)


def test_numbers_count_per_series(app, warehouse):
    first, second = documents.next_number("wz"), documents.next_number("wz")
    assert first[-4:] == "0001" and second[-4:] == "0002"
    assert documents.next_number("pz")[-4:] == "0001"
