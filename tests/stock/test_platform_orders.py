"""An imported order whose platform already took the stock: Kontor records it and tells the other channels.

The Allegro order comes the way a real one does: the fake's order journal read by poll_journal, its
events applied from the inbound ledger. Then the stock updates are delivered to the fakes.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.inbound import allegro as journal
from app.inbound import services as inbound
from app.inbound.models import InboundEvent
from app.integrations.progress import set_cursor
from app.orders.models import Order
from app.stock import stock_push, warehouses
from app.stock.models import OrderItemReservation, StockDocument, StockLevel, StockMovement
from app.sync.models import SyncOperation
from tests.fakes.allegro_stock import FakeAllegroStock
from tests.fakes.prestashop_stock import FakePrestaShopStock
from tests.factories import make_integration
from tests.stock.conftest import stocked
from tests.stock.test_stock_push import allegro_account, link, updates

SOLD_OFFER = "3213213"  # the offer of the line item in Allegro's checkout-form example


def _import_one_allegro_order(fake: FakeAllegroStock, integration) -> Order:
    set_cursor(integration.id, journal.CURSOR, journal.START)
    db.session.commit()
    fake.put_form(form_status="READY_FOR_PROCESSING", event="READY_FOR_PROCESSING")
    journal.poll_journal(integration.id)
    event_ids = list(db.session.scalars(select(InboundEvent.id).where(InboundEvent.state == "received")))
    assert event_ids
    inbound.process_batch(event_ids)
    [order] = db.session.scalars(select(Order)).all()
    return order


def _channels(warehouse):
    allegro, shop = FakeAllegroStock(), FakePrestaShopStock()
    allegro.__enter__()
    shop.__enter__()
    account = allegro_account(allegro)
    presta = make_integration("prestashop", name="Sklep", settings={"shop_url": shop.url, "language_id": 1},
                              credentials={"api_key": shop.api_key})
    mug = stocked("KUB-350", 5, warehouse)
    allegro.add_offer(SOLD_OFFER, 5)
    allegro.add_offer("3213299", 5)  # a second offer of the same mug on the same account: not lowered by the sale
    link(mug, account, SOLD_OFFER)
    link(mug, account, "3213299")
    shop.add_stock(11, 0, 5)
    link(mug, presta, "11")
    for operation in updates():  # the receipt's own updates: delivered, so only the sale's remain
        db.session.delete(operation)
    db.session.commit()
    return allegro, shop, account, presta, mug


def test_an_allegro_sale_is_reserved_in_kontor_and_only_the_other_offers_get_the_new_quantity(app, warehouse):
    settings = warehouses.order_settings()
    settings.reserve_on_awaiting_fulfillment = True
    db.session.commit()
    allegro, shop, account, presta, mug = _channels(warehouse)
    try:
        allegro.offers[SOLD_OFFER]["available"] = 4  # Allegro lowered its stock when the buyer bought
        order = _import_one_allegro_order(allegro, account)
        [reservation] = db.session.scalars(select(OrderItemReservation)).all()
        assert (reservation.order_id, reservation.product_id, reservation.reserved_quantity) == (order.id, mug.id, 1)
        level = db.session.scalar(select(StockLevel).where(StockLevel.product_id == mug.id))
        assert (level.on_hand, level.reserved) == (5, 1)
        ledger = db.session.scalar(select(StockMovement).where(StockMovement.order_id == order.id))
        assert (ledger.reason, ledger.reserved_change, ledger.on_hand_change) == ("reservation", 1, 0)
        # Written in the import's transaction: the PrestaShop product and the other Allegro offer, not the sold one.
        recorded = {(op.integration_id, op.payload["offer_id"], op.payload["quantity"]) for op in updates()}
        assert recorded == {(presta.id, "11", 4), (account.id, "3213299", 4)}

        stock_push.deliver_due(presta.id)
        stock_push.deliver_due(account.id)
        assert shop.quantity(11) == [4]
        assert allegro.available("3213299") == 4 and allegro.available(SOLD_OFFER) == 4
        assert [offer for _, offer, _ in allegro.applied] == ["3213299"]  # no echo to the offer that sold
        assert {op.state for op in updates()} == {"done"}
        assert allegro.spec_violations == [] and allegro.handler_errors == [] and shop.handler_errors == []

        # Applying the same order again (a repeated event) takes nothing more.
        inbound.process_batch(list(db.session.scalars(select(InboundEvent.id))))
        assert db.session.scalar(select(StockLevel.reserved).where(StockLevel.product_id == mug.id)) == 1
    finally:
        allegro.__exit__(None, None, None)
        shop.__exit__(None, None, None)


def test_without_automatic_reservations_the_sale_is_issued_on_a_wz_at_once(app, warehouse):
    settings = warehouses.order_settings()
    settings.reserve_on_awaiting_fulfillment = False
    db.session.commit()
    allegro, shop, account, presta, mug = _channels(warehouse)
    try:
        order = _import_one_allegro_order(allegro, account)
        [wz] = db.session.scalars(select(StockDocument).where(StockDocument.order_id == order.id)).all()
        assert (wz.kind, wz.state) == ("wz", "posted")
        level = db.session.scalar(select(StockLevel).where(StockLevel.product_id == mug.id))
        assert (level.on_hand, level.reserved) == (4, 0)
        assert {(op.integration_id, op.payload["offer_id"], op.payload["quantity"])
                for op in updates()} == {(presta.id, "11", 4), (account.id, "3213299", 4)}
        assert not db.session.scalars(select(SyncOperation).where(
            SyncOperation.payload["offer_id"].as_string() == SOLD_OFFER)).all()
    finally:
        allegro.__exit__(None, None, None)
        shop.__exit__(None, None, None)


def test_an_order_from_a_shop_kontor_keeps_no_stock_for_changes_nothing(app):
    with FakeAllegroStock() as allegro:
        account = allegro_account(allegro)
        order = _import_one_allegro_order(allegro, account)
        assert order.number and not db.session.scalars(select(StockMovement)).all()
