"""A multistore PrestaShop database holds every shop's orders: an integration imports only its own shops'."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.inbound import prestashop as importer
from app.orders.models import Order
from tests.factories import make_integration
from tests.inbound.test_prestashop_import import add_shop_order, apply_stored


def in_shop(shop_db, order_id: int, shop_id: int) -> None:
    shop_db.execute(f"UPDATE {shop_db.table('orders')} SET id_shop = :s WHERE id_order = :i",
                    {"s": shop_id, "i": order_id})


def test_only_the_chosen_shops_orders_come_in(app, prestashop_db):
    for order_id, shop_id in ((1, 1), (2, 2), (3, 3), (4, 1)):
        add_shop_order(prestashop_db, order_id, f"2026-12-01 10:00:0{order_id}")
        in_shop(prestashop_db, order_id, shop_id)
    shop = make_integration("prestashop", credentials={"db_dsn": prestashop_db.dsn},
                            settings={"shop_url": "https://sklep.example", "database": {"shop_ids": [1, 3]}})

    assert importer.import_orders(shop.id)["orders"] == 3
    apply_stored()
    assert sorted(db.session.scalars(select(Order.external_order_id))) == ["1", "3", "4"]
    # Shop 2's order is changed later: still not this integration's.
    add_shop_order(prestashop_db, 2, "2026-12-01 11:00:00")
    in_shop(prestashop_db, 2, 2)
    assert importer.import_orders(shop.id)["orders"] == 0


def test_without_chosen_shops_every_order_of_the_database_comes_in(app, prestashop_db):
    for order_id, shop_id in ((1, 1), (2, 2)):
        add_shop_order(prestashop_db, order_id, f"2026-12-01 10:00:0{order_id}")
        in_shop(prestashop_db, order_id, shop_id)
    shop = make_integration("prestashop", credentials={"db_dsn": prestashop_db.dsn})
    assert importer.import_orders(shop.id)["orders"] == 2
