"""Supplier feed rows: the raw rows readers produce and the typed rows an import uses.

Pure and fast: a feed has tens of thousands of rows, so the common case of each value
(a plain integer stock, a plain EAN, a dotted price) takes a cheap path, and only the unusual
shapes go through the tolerant helpers below.

Decisions, so the invalid-rows report and the import agree:

- Every value is stripped. A row is keyed by SKU or EAN; with neither it is invalid.
- EAN: spaces and hyphens are dropped (and a spreadsheet's trailing ".0"); what is left must be
  8, 12, 13 or 14 digits (GTIN lengths; the check digit is not verified, matching is by equality
  with the catalog). An EAN that is not valid is dropped: the row is still imported by its SKU,
  and is invalid only when there is no SKU to match it by.
- Stock: integers, "12.0", "12,0", " 12 ", "1 234" are read; a fraction is rounded down (never
  promise more than there is); a negative stock becomes 0 (suppliers use -1 for "none");
  anything else ("dużo", "10+", empty, more than a 4-byte integer holds) makes the row invalid.
- Delivery days and purchase price are optional: empty means None, but a value that is present
  and cannot be read makes the row invalid (better a visible report line than a silently wrong
  promise). Delivery days accept "3", "3 dni", "2-3 dni" (the longer bound), "48h" (whole days,
  rounded up); a negative number means "unknown" (None). Prices accept a comma or a dot,
  spaces or the other mark as thousands separators ("1 234,50", "1.234,50", "1,234.50") and a
  currency ("zł", "PLN", "€" ...); a lone "1.234" is read as a decimal point. A negative price is
  invalid.
- A SKU containing U+FFFD (bytes the reader could not decode) is invalid: it would never match.
  So is a SKU with a NUL byte or longer than a product's SKU can be (64 characters): the database
  cannot store the first, and no product can have the second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Iterator

GTIN_LENGTHS = frozenset((8, 12, 13, 14))
MAX_NUMBER = 2_147_483_647  # the largest stock or delivery days a 4-byte integer column holds
REPLACEMENT_CHARACTER = "\ufffd"
MAX_SKU_LENGTH = 64  # products.sku


class FeedError(Exception):
    """The whole feed cannot be read (empty, malformed XML, refused as unsafe, too large ...)."""


@dataclass(slots=True)
class FeedRow:
    """One record of a feed as read: its line number, values by header, and what is wrong with it.

    `line` is where the record starts in the file (1-based; a CSV header is line 1). `problem`
    is set when the reader could not make a proper row of it (e.g. a wrong number of fields);
    such rows are reported as invalid with that reason. Not frozen: building a frozen dataclass
    costs about four times as much, and readers build one per row.
    """

    line: int
    values: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True)
class ColumnMapping:
    """Which feed column (header name or XML field path) holds each value; sku or ean is required."""

    sku: str | None
    ean: str | None
    stock_quantity: str
    delivery_days: str | None = None
    purchase_price: str | None = None

    def __post_init__(self) -> None:
        if not (self.sku or self.ean):
            raise ValueError("a mapping needs the SKU column, the EAN column, or both")
        if not self.stock_quantity:
            raise ValueError("a mapping needs the stock quantity column")

    @property
    def columns(self) -> list[str]:
        """The mapped column names, without repeats."""
        chosen = (self.sku, self.ean, self.stock_quantity, self.delivery_days, self.purchase_price)
        return list(dict.fromkeys(name for name in chosen if name))

    def missing_from(self, headers: Iterable[str]) -> list[str]:
        """The mapped columns the feed (its `headers`) does not have."""
        present = set(headers)
        return [name for name in self.columns if name not in present]


@dataclass(frozen=True)
class SupplierRow:
    """A feed row ready to import: key (sku and/or ean, one may be empty) and the supplier's values."""

    line: int
    sku: str
    ean: str
    stock_quantity: int
    delivery_days: int | None
    purchase_price: Decimal | None


@dataclass(frozen=True)
class InvalidRow:
    """A feed row that is not imported: where it is, why, and its values as read (for the report)."""

    line: int
    reason: str
    raw: dict[str, str] = field(default_factory=dict)


class _BadValue(ValueError):
    """A value that cannot be read; its message is the reason shown to the seller."""


def typed_rows(rows: Iterable[FeedRow], mapping: ColumnMapping) -> Iterator[SupplierRow | InvalidRow]:
    """Turn raw feed rows into SupplierRow or InvalidRow, in order, one out for each row in."""
    sku_col, ean_col, stock_col = mapping.sku, mapping.ean, mapping.stock_quantity
    days_col, price_col = mapping.delivery_days, mapping.purchase_price
    # This loop runs once per feed row, so the common shapes are handled inline (a function call
    # costs as much as the work) and everything unusual goes to the helpers below.
    gtin_lengths, replacement = GTIN_LENGTHS, REPLACEMENT_CHARACTER
    # SupplierRow(...) runs the frozen __init__: six object.__setattr__ calls, which alone took a
    # third of the time per row. The same object is made with one call, setting its __dict__.
    new, set_attribute = object.__new__, object.__setattr__
    for row in rows:
        if row.problem is not None:
            yield InvalidRow(row.line, row.problem, row.values)
            continue
        get = row.values.get  # a column that is None or absent from the row reads as empty
        try:
            sku = get(sku_col, "").strip()
            ean = get(ean_col, "")
            if ean and not (ean.isdigit() and ean.isascii() and len(ean) in gtin_lengths):
                ean = _ean(ean, sku)
            if not sku or replacement in sku or "\x00" in sku or len(sku) > MAX_SKU_LENGTH:
                _check_key(sku, ean)
            raw = get(stock_col, "")
            try:
                stock = int(raw)
            except ValueError:
                stock = _stock(raw)
            if stock < 0:
                stock = 0
            elif stock > MAX_NUMBER:
                raise _BadValue(f"stock quantity {_quoted(raw)} is too large")
            days = None
            if days_col and (raw := get(days_col)):
                try:
                    days = int(raw)
                except ValueError:
                    days = _days(raw)
                if days is not None and not 0 <= days <= MAX_NUMBER:
                    days = _days_out_of_range(raw, days)
            price = None
            if price_col and (raw := get(price_col)):
                text = raw.replace(",", ".")
                # Check the shape first: a failing Decimal() raises, which costs more than the check.
                price = Decimal(text) if text.replace(".", "", 1).isdecimal() else _price(raw)
        except _BadValue as error:
            yield InvalidRow(row.line, str(error), row.values)
            continue
        supplier_row = new(SupplierRow)
        set_attribute(supplier_row, "__dict__", {"line": row.line, "sku": sku, "ean": ean, "stock_quantity": stock,
                                                 "delivery_days": days, "purchase_price": price})
        yield supplier_row


def _check_key(sku: str, ean: str) -> None:
    """Refuse a row that cannot be matched: no key at all, or a SKU with undecodable bytes."""
    if not sku and not ean:
        raise _BadValue("no SKU and no EAN")
    if REPLACEMENT_CHARACTER in sku:
        raise _BadValue(f"SKU {_quoted(sku)} has characters that could not be decoded "
                        f"(is the feed's encoding right?)")
    if "\x00" in sku:
        raise _BadValue(f"SKU {_quoted(sku.replace(chr(0), REPLACEMENT_CHARACTER))} contains a NUL byte, "
                        f"which cannot be stored")
    if len(sku) > MAX_SKU_LENGTH:
        raise _BadValue(f"SKU {_quoted(sku)} is longer than {MAX_SKU_LENGTH} characters: no product has it")


def _quoted(value: str, limit: int = 40) -> str:
    """A value as shown in a reason: in quotes, shortened if long."""
    value = value.strip()
    return f"“{value if len(value) <= limit else value[:limit - 1] + '…'}”"


def _ean(raw: str, sku: str) -> str:
    """The EAN's digits, or "" when it is not a valid EAN (invalid only if there is no SKU either)."""
    digits = raw.strip().replace(" ", "").replace("-", "")
    if digits.endswith(".0"):  # a spreadsheet that took the EAN for a number
        digits = digits[:-2]
    if digits.isascii() and digits.isdigit() and len(digits) in GTIN_LENGTHS:
        return digits
    if not digits or sku:
        return ""
    raise _BadValue(f"EAN {_quoted(raw)} is not a valid EAN (8, 12, 13 or 14 digits) and there is no SKU")


def _stock(raw: str) -> int:
    """Stock from the shapes int() refuses: "12.0", "12,5", "1 234"; a fraction rounds down."""
    if not raw.strip():
        raise _BadValue("no stock quantity")
    number = _number(raw)
    if number is None:
        raise _BadValue(f"stock quantity {_quoted(raw)} is not a number")
    return int(number)  # int() of a Decimal truncates towards zero: 12.9 -> 12, -0.5 -> 0


# Thousands separators people and spreadsheets put into numbers: space, no-break spaces, apostrophe.
_THOUSANDS = str.maketrans("", "", " \u00a0\u202f\u2009'")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_CURRENCIES = ("pln", "zł", "zl", "eur", "€", "usd", "$", "gbp", "£", "czk", "kč")


def _number(raw: str) -> Decimal | None:
    """A decimal number written with a comma or a dot and any thousands separators, else None."""
    text = raw.strip().lower().rstrip(".")  # "12 zł." and "12." alike
    for currency in _CURRENCIES:
        if text.endswith(currency):
            text = text[: -len(currency)].rstrip()
        elif text.startswith(currency):
            text = text[len(currency):].lstrip()
    text = text.translate(_THOUSANDS)
    if "," in text and "." in text:
        # Both marks: the last one is the decimal mark ("1.234,50" or "1,234.50").
        text = (text.replace(".", "").replace(",", ".") if text.rfind(",") > text.rfind(".")
                else text.replace(",", ""))
    elif "," in text:
        text = text.replace(",", ".") if text.count(",") == 1 else text.replace(",", "")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    return Decimal(text)


_DAYS = re.compile(
    r"(?:do|up to|max\.?)?\s*(\d+)(?:[.,]0+)?(?:\s*[-–]\s*(\d+))?\s*"
    r"(?P<unit>d|dni|dnia|dzień|dzien|day|days|dni robocze|business days|h|godz|godzin|godziny|hours?)?\.?"
)


def _days(raw: str) -> int | None:
    """Delivery days from what int() refuses: "3 dni", "2-3 dni" (the longer), "48h" (whole days, up)."""
    text = raw.strip().lower()
    if not text:
        return None
    match = _DAYS.fullmatch(text)
    if match is None:
        raise _BadValue(f"delivery days {_quoted(raw)} is not a number of days")
    days = int(match.group(2) or match.group(1))
    if (match.group("unit") or "").startswith(("h", "godz")):
        days = -(-days // 24)
    return days


def _days_out_of_range(raw: str, days: int) -> None:
    """A negative number of days means "unknown"; an enormous one is a mistake."""
    if days > MAX_NUMBER:
        raise _BadValue(f"delivery days {_quoted(raw)} is too large")
    return None


def _price(raw: str) -> Decimal | None:
    """A purchase price in any spelling _number reads; never negative."""
    if not raw.strip():
        return None
    price = _number(raw)
    if price is None:
        raise _BadValue(f"purchase price {_quoted(raw)} is not a number")
    if price < 0:
        raise _BadValue(f"purchase price {_quoted(raw)} is negative")
    return price
