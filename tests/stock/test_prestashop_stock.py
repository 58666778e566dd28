"""Stock quantities into PrestaShop: set-based through the database driver, shared stock honoured."""

from __future__ import annotations

from app.integrations.prestashop import stock_quantities
from tests.fakes.prestashop_db import INDEPENDENT_SHOP, SHARED_GROUP


def _row(db, product: int, attribute: int, shop: int, group: int) -> dict:
    [row] = db.rows("stock_available", "id_product = :p AND id_product_attribute = :a AND id_shop = :s"
                    " AND id_shop_group = :g", {"p": product, "a": attribute, "s": shop, "g": group})
    return row


def test_quantities_land_in_each_shop_row_prestashop_reads_with_physical_quantity_in_step(prestashop_db):
    report = stock_quantities.set_quantities(prestashop_db.dsn, "ps_", [1, 2], {(1, 0): 7, (2, 1): 0, (9, 5): 3})
    for shop, group in ((INDEPENDENT_SHOP, 0), (0, SHARED_GROUP)):
        row = _row(prestashop_db, 1, 0, shop, group)
        assert (row["quantity"], row["physical_quantity"]) == (7, 7 + row["reserved_quantity"])
        assert _row(prestashop_db, 2, 1, shop, group)["quantity"] == 0
    # Rows left from before the group shared stock are not PrestaShop's: untouched.
    assert _row(prestashop_db, 1, 0, 2, 0)["quantity"] == 10
    assert report.missing == {(9, 5)}  # the independent shop has no row for this combination
    assert (1, 0) in report.changed
    again = stock_quantities.set_quantities(prestashop_db.dsn, "ps_", [1, 2], {(1, 0): 7})
    assert again.changed == set() and again.rows_written == 0


def test_quantities_read_back_for_reconciliation(prestashop_db):
    stock_quantities.set_quantities(prestashop_db.dsn, "ps_", [1], {(1, 0): 4})
    assert stock_quantities.read_quantities(prestashop_db.dsn, "ps_", [1], [(1, 0), (2, 2)]) == {(1, 0): 4, (2, 2): 22}


def test_an_unknown_shop_is_refused_in_words(prestashop_db):
    try:
        stock_quantities.set_quantities(prestashop_db.dsn, "ps_", [42], {(1, 0): 1})
    except stock_quantities.StockWriteError as error:
        assert "Shop 42 does not exist" in error.message and not error.retryable
    else:
        raise AssertionError("an unknown shop was accepted")
