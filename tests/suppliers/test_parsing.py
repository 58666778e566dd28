"""Typed supplier rows without a database: keys, EANs, stock, delivery days, prices, invalid rows."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import pytest

from app.suppliers.csv import read_csv
from app.suppliers.parsing import ColumnMapping, FeedRow, InvalidRow, SupplierRow, typed_rows

MAPPING = ColumnMapping(sku="sku", ean="ean", stock_quantity="stan", delivery_days="dni", purchase_price="cena")


def typed(line: int = 2, **values: str) -> SupplierRow | InvalidRow:
    row = {"sku": "A-1", "ean": "", "stan": "1", "dni": "", "cena": ""}
    row.update(values)
    (result,) = typed_rows([FeedRow(line, row)], MAPPING)
    return result


def reason(**values: str) -> str:
    result = typed(**values)
    assert isinstance(result, InvalidRow), result
    return result.reason


def test_a_plain_row():
    row = typed(sku=" KRZ-1 ", ean="5901234123457", stan="12", dni="3", cena="12.50")

    assert row == SupplierRow(line=2, sku="KRZ-1", ean="5901234123457", stock_quantity=12,
                              delivery_days=3, purchase_price=Decimal("12.50"))


def test_rows_are_ordinary_frozen_dataclasses():
    row = typed()

    assert row == SupplierRow(2, "A-1", "", 1, None, None)
    assert hash(row) == hash(SupplierRow(2, "A-1", "", 1, None, None))
    assert dataclasses.asdict(row)["stock_quantity"] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.stock_quantity = 5


# --- keys -------------------------------------------------------------------------------


def test_a_row_without_sku_or_ean_is_invalid():
    assert reason(sku=" ", ean="") == "no SKU and no EAN"


def test_ean_alone_is_a_key():
    assert typed(sku="", ean="5901234123457").ean == "5901234123457"


@pytest.mark.parametrize("raw, ean", [
    ("5901234123457", "5901234123457"),
    (" 590 1234 123457 ", "5901234123457"),
    ("590-1234-123457", "5901234123457"),
    ("5901234123457.0", "5901234123457"),   # a spreadsheet took it for a number
    ("96385074", "96385074"),                # EAN-8
    ("036000291452", "036000291452"),        # UPC-A
    ("15901234123454", "15901234123454"),    # GTIN-14
    ("12345", ""),
    ("5.90123E+12", ""),
    ("brak", ""),
])
def test_ean_is_normalised_and_an_invalid_one_dropped_when_there_is_a_sku(raw, ean):
    row = typed(ean=raw)

    assert isinstance(row, SupplierRow) and row.ean == ean


def test_an_invalid_ean_without_a_sku_makes_the_row_invalid():
    assert reason(sku="", ean="12345") == "EAN “12345” is not a valid EAN (8, 12, 13 or 14 digits) and there is no SKU"


def test_a_sku_with_undecodable_bytes_is_invalid():
    assert "could not be decoded" in reason(sku="KRZ-\ufffd1")


def test_a_mapping_without_sku_or_ean_columns_still_works_with_the_other():
    mapping = ColumnMapping(sku=None, ean="ean", stock_quantity="stan")

    (row,) = typed_rows([FeedRow(2, {"ean": "5901234123457", "stan": "4"})], mapping)

    assert (row.sku, row.ean, row.stock_quantity, row.delivery_days, row.purchase_price) == (
        "", "5901234123457", 4, None, None)


# --- stock ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, stock", [
    ("12", 12), (" 12 ", 12), ("+12", 12), ("12.0", 12), ("12,0", 12), ("12,00", 12),
    ("1 234", 1234), ("1\u00a0234", 1234), ("12.9", 12),   # a fraction rounds down
    ("0", 0), ("-1", 0), ("-5.0", 0),                    # negative stock means none
])
def test_stock_shapes(raw, stock):
    assert typed(stan=raw).stock_quantity == stock


@pytest.mark.parametrize("raw, words", [
    ("dużo", "stock quantity “dużo” is not a number"),
    ("10+", "stock quantity “10+” is not a number"),
    (">10", "stock quantity “>10” is not a number"),
    ("", "no stock quantity"),
    ("   ", "no stock quantity"),
])
def test_stock_that_is_not_a_number_makes_the_row_invalid(raw, words):
    assert reason(stan=raw) == words


def test_a_missing_stock_column_reads_as_empty():
    (row,) = typed_rows([FeedRow(7, {"sku": "A"})], MAPPING)

    assert row == InvalidRow(7, "no stock quantity", {"sku": "A"})


# --- delivery days and price ---------------------------------------------------------------


@pytest.mark.parametrize("raw, days", [
    ("", None), ("  ", None), ("3", 3), (" 3 ", 3), ("3.0", 3), ("3 dni", 3), ("2-3 dni", 3),
    ("2 – 4 days", 4), ("do 7 dni", 7), ("48h", 2), ("36 h", 2), ("-1", None),
])
def test_delivery_days(raw, days):
    assert typed(dni=raw).delivery_days == days


def test_unreadable_delivery_days_make_the_row_invalid():
    assert reason(dni="na zamówienie") == "delivery days “na zamówienie” is not a number of days"


@pytest.mark.parametrize("raw, price", [
    ("", None), ("12.50", Decimal("12.50")), ("12,50", Decimal("12.50")), (" 7 ", Decimal("7")),
    ("1 234,50", Decimal("1234.50")), ("1.234,50", Decimal("1234.50")), ("1,234.50", Decimal("1234.50")),
    ("1\u00a0234,5", Decimal("1234.5")), ("12,50 zł", Decimal("12.50")), ("12.50 PLN", Decimal("12.50")),
    ("PLN 12.50", Decimal("12.50")), ("€9,99", Decimal("9.99")), ("0.0125", Decimal("0.0125")), ("0", Decimal("0")),
])
def test_purchase_price(raw, price):
    assert typed(cena=raw).purchase_price == price


@pytest.mark.parametrize("raw, words", [
    ("tanio", "purchase price “tanio” is not a number"),
    ("NaN", "purchase price “NaN” is not a number"),
    ("1.2.3,4,5", "purchase price “1.2.3,4,5” is not a number"),
    ("-5,00", "purchase price “-5,00” is negative"),
])
def test_an_unreadable_or_negative_price_makes_the_row_invalid(raw, words):
    assert words in reason(cena=raw)


def test_a_long_value_is_shortened_in_the_reason():
    words = reason(stan="x" * 100)

    assert words == f"stock quantity “{'x' * 39}…” is not a number"


# --- rows from a reader -------------------------------------------------------------------


def test_rows_flagged_by_the_reader_stay_invalid_with_their_reason():
    raw = FeedRow(9, {"sku": "A"}, "2 fields where the header has 5")

    assert list(typed_rows([raw], MAPPING)) == [InvalidRow(9, "2 fields where the header has 5", {"sku": "A"})]


def test_a_malformed_cp1250_feed_reports_bad_rows_with_line_numbers_and_imports_the_rest():
    text = (
        "sku;ean;stan;dni;cena\r\n"           # 1
        "KRZ-1;5901234123457;12;2;12,50\r\n"  # 2
        "KRZ-2;;dużo;1;1\r\n"                 # 3 stock is not a number
        ";;7;1;1\r\n"                         # 4 no key
        '"ŁÓŻKO\r\nduże";;3;1;1\r\n'          # 5-6 quoted newline, fine
        "KRZ-3;;1\r\n"                        # 7 too few fields
        "KRZ-4;;-2;;\r\n"                     # 8 negative stock -> 0
        "KRZ-5;;5;jutro;1\r\n"                # 9 delivery days unreadable
        "KRZ-6;;5;1;1 234,50 zł\r\n"          # 10
    )

    results = list(typed_rows(read_csv(io.BytesIO(text.encode("cp1250"))), MAPPING))

    assert [(r.line, r.reason) for r in results if isinstance(r, InvalidRow)] == [
        (3, "stock quantity “dużo” is not a number"),
        (4, "no SKU and no EAN"),
        (7, "3 fields where the header has 5"),
        (9, "delivery days “jutro” is not a number of days"),
    ]
    assert [(r.line, r.sku, r.stock_quantity, r.purchase_price) for r in results if isinstance(r, SupplierRow)] == [
        (2, "KRZ-1", 12, Decimal("12.50")),
        (5, "ŁÓŻKO\r\nduże", 3, Decimal("1")),
        (8, "KRZ-4", 0, None),
        (10, "KRZ-6", 5, Decimal("1234.50")),
    ]
    assert results[1].raw == {"sku": "KRZ-2", "ean": "", "stan": "dużo", "dni": "1", "cena": "1"}


# --- the mapping ----------------------------------------------------------------------------


def test_a_mapping_needs_a_key_and_the_stock_column():
    with pytest.raises(ValueError):
        ColumnMapping(sku=None, ean="", stock_quantity="stan")
    with pytest.raises(ValueError):
        ColumnMapping(sku="sku", ean=None, stock_quantity="")


def test_a_mapping_names_its_columns_and_those_a_feed_lacks():
    mapping = ColumnMapping(sku="kod", ean="kod", stock_quantity="stan", purchase_price="cena")

    assert mapping.columns == ["kod", "stan", "cena"]
    assert mapping.missing_from(["kod", "stan", "nazwa"]) == ["cena"]


def test_numbers_too_large_for_the_database_make_the_row_invalid():
    assert reason(stan="99999999999") == "stock quantity “99999999999” is too large"
    assert reason(dni="99999999999") == "delivery days “99999999999” is too large"
