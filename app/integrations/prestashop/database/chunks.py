"""Validating and chunking availability writes, and preparing each chunk's load.

Tight on purpose: a big sync runs every write through here, 100,000 times, so the checks are
comprehensions and builtins over a whole batch rather than statements per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter

from app.integrations.base import AvailabilityWrite
from app.integrations.prestashop.database.sql import TextSet

# product_lang.available_now / available_later are varchar(255) in every PrestaShop version.
TEXT_MAX_LENGTH = 255
# stock_available.out_of_stock: 0 deny orders, 1 allow orders, 2 use the shop's default.
OUT_OF_STOCK_VALUES = (0, 1, 2)
# (id_product, id_product_attribute, out_of_stock) of a write, taken by C code rather than a slice per row.
_STOCK_FIELDS = itemgetter(0, 1, 2)


@dataclass
class Chunk:
    """Validated writes of one transaction; a product's rows never straddle two chunks."""

    stock: list[tuple[int, int, int]]
    texts: dict[int, TextSet]
    text_owners: dict[int, int]  # id_product -> the id_product_attribute of the write carrying its texts
    # Prepared by the caller's thread: the VALUES of the stock rows (with each product's text set id)
    # and the text sets first used by this chunk.
    stock_values: str = ""
    new_text_sets: list[tuple[int, TextSet]] = field(default_factory=list)
    # The product ids as a few dense (from, to) ranges, or () when they are too scattered.
    id_ranges: tuple[tuple[int, int], ...] = ()


class TextSets:
    """Numbers the distinct text sets of a whole write: each is loaded once, in the chunk that first uses it."""

    def __init__(self) -> None:
        self.ids: dict[TextSet, int] = {}

    def prepare(self, chunk: Chunk) -> Chunk:
        """Fill in the chunk's load: its stock rows with their text set ids, and the sets new to the write."""
        ids = self.ids
        set_of: dict[tuple[int, int], int] = {}  # (id_product, id_product_attribute) of the carrier -> set id
        for id_product, text_set in chunk.texts.items():
            set_id = ids.get(text_set)
            if set_id is None:
                set_id = ids[text_set] = len(ids) + 1
                chunk.new_text_sets.append((set_id, text_set))
            set_of[(id_product, chunk.text_owners[id_product])] = set_id
        chunk.stock_values = ",".join([f"({id_product},{id_attribute},{out_of_stock},"
                                       f"{set_of.get((id_product, id_attribute), 0)})"
                                       for id_product, id_attribute, out_of_stock in chunk.stock])
        chunk.id_ranges = dense_ranges(sorted(set(map(itemgetter(0), chunk.stock))))
        return chunk


# A chunk's ids are read from the shop's table as ranges when they fit in this many, with gaps
# of at most RANGE_GAP ids inside a range and at most as many ids in the ranges again as products:
# the shop's rows of ids not in the chunk are read too, and found in no temporary table.
MAX_RANGES = 64
RANGE_GAP = 16


def dense_ranges(ids: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """The sorted ids as (from, to) ranges, or () when they take too many ranges or too wide ones."""
    if not ids:
        return ()
    ranges = []
    low = high = ids[0]
    for value in ids:
        if value - high > RANGE_GAP:
            ranges.append((low, high))
            if len(ranges) >= MAX_RANGES:
                return ()
            low = value
        high = value
    ranges.append((low, high))
    span = sum(high - low + 1 for low, high in ranges)
    return tuple(ranges) if span <= 2 * len(ids) else ()


def in_chunks(writes: Sequence[AvailabilityWrite], shop_ids: Sequence[int], language_ids: Sequence[int],
            chunk_size: int) -> Iterator[Chunk]:
    """Validated writes in id order, about chunk_size rows each, never splitting a product."""
    stock, texts, owners = validated(writes, shop_ids, language_ids)
    chunk = Chunk([], {}, {})
    for row in stock:
        id_product = row[0]
        if len(chunk.stock) >= chunk_size and id_product != chunk.stock[-1][0]:
            yield chunk
            chunk = Chunk([], {}, {})
        chunk.stock.append(row)
        if id_product in texts:
            chunk.texts[id_product] = texts[id_product]
            chunk.text_owners[id_product] = owners[id_product]
    if chunk.stock:
        yield chunk


def chunk_of(writes: Sequence[AvailabilityWrite], shop_ids: Sequence[int], language_ids: Sequence[int],
              seen: set[tuple[int, int]]) -> Chunk:
    """One batch of whole products, validated, as one chunk; `seen` holds the rows of earlier batches."""
    stock, texts, owners = validated(writes, shop_ids, language_ids, seen)
    return Chunk(stock, texts, owners)


def validated(writes: Sequence[AvailabilityWrite], shop_ids: Sequence[int], language_ids: Sequence[int],
               seen: set[tuple[int, int]] | None = None
               ) -> tuple[list[tuple[int, int, int]], dict[int, TextSet], dict[int, int]]:
    """(id_product, id_product_attribute, out_of_stock) sorted, each product's texts per shop and
    language, and which combination's write carried them; `seen`, if given, holds rows written
    before (a row in it is refused as listed twice) and takes these.

    Tight on purpose: it runs once per write, 100,000 times in a big sync, so every check is a
    comprehension or a builtin over all rows rather than statements per row. Writes share their
    texts objects (one per decision), so each distinct pair is expanded and checked once.
    """
    if set(map(type, chain.from_iterable(map(_STOCK_FIELDS, writes)))) - {int}:
        writes = _normalised(writes)
    stock = sorted(map(_STOCK_FIELDS, writes))
    if stock and (stock[0][0] <= 0 or min(stock, key=itemgetter(1))[1] < 0):
        bad = next(row for row in stock if row[0] <= 0 or row[1] < 0)
        raise ValueError(f"Not a PrestaShop product/combination id: {bad[0]}/{bad[1]}.")
    keys = _refuse_duplicates(stock, seen)
    if seen is not None:
        seen |= keys
    carriers = [w for w in writes if w[3] is not None]
    if not carriers:
        return stock, {}, {}
    shops = list(dict.fromkeys(int(shop) for shop in shop_ids))
    languages = sorted({int(language) for language in language_ids})
    # (id(texts), id(shop_texts)) -> text set; the writes keep those objects alive, so ids are stable.
    expanded: dict[tuple[int, int], TextSet] = {}
    for w in {(id(w[3]), id(w[4])): w for w in carriers}.values():
        chosen = expanded[(id(w[3]), id(w[4]))] = _text_set(w[3], w[4] or {}, shops, languages)
        _check_texts(chosen, w[0])
    texts = {w[0]: expanded[(id(w[3]), id(w[4]))] for w in carriers}
    owners = {w[0]: w[1] for w in carriers}
    if len(texts) < len(carriers):  # a product carries texts on several writes: the same, and the first's
        owners = {w[0]: w[1] for w in reversed(carriers)}
        for w in carriers:
            if expanded[(id(w[3]), id(w[4]))] != texts[w[0]]:
                raise ValueError(f"Product {w[0]} is given two different availability texts.")
    if () in expanded.values():
        texts = {id_product: chosen for id_product, chosen in texts.items() if chosen}
        owners = {id_product: owners[id_product] for id_product in texts}
    return stock, texts, owners


def _normalised(writes: Sequence[AvailabilityWrite]) -> list[AvailabilityWrite]:
    """The writes with int ids and out_of_stock (the slow path, for writes built from other types)."""
    normalised = []
    for id_product, id_attribute, out_of_stock, by_language, by_shop in writes:
        if out_of_stock not in OUT_OF_STOCK_VALUES:
            raise ValueError(f"out_of_stock must be 0, 1 or 2, not {out_of_stock!r} (product {id_product}).")
        normalised.append(AvailabilityWrite(int(id_product), int(id_attribute), int(out_of_stock),
                                            by_language, by_shop))
    return normalised


def _text_set(by_language: dict, by_shop: dict, shops: list[int], languages: list[int]) -> TextSet:
    """(id_shop, id_lang, available_now, available_later) for each configured shop and language:
    the shop's own texts where it has them, else the texts for every shop."""
    entries = []
    for shop in shops:
        own = by_shop.get(shop) or {}
        for language in languages:
            pair = own.get(language) or by_language.get(language)
            if pair is not None:
                entries.append((shop, language, *pair))
    return tuple(entries)


def _refuse_duplicates(stock: list[tuple[int, int, int]], seen: set[tuple[int, int]] | None) -> set[tuple[int, int]]:
    """The (product, combination) keys of the sorted rows; refuses a key listed twice or in `seen`,
    and an out_of_stock that is not one PrestaShop knows."""
    values = {row[2] for row in stock}
    if not values <= set(OUT_OF_STOCK_VALUES):
        bad = next(row for row in stock if row[2] not in OUT_OF_STOCK_VALUES)
        raise ValueError(f"out_of_stock must be 0, 1 or 2, not {bad[2]!r} (product {bad[0]}).")
    keys = {row[:2] for row in stock}
    if len(keys) < len(stock):
        for previous, row in zip(stock, stock[1:]):
            if previous[:2] == row[:2]:
                raise ValueError(f"Product {row[0]} combination {row[1]} is listed twice.")
    if seen and not seen.isdisjoint(keys):
        p, a = min(seen & keys)
        raise ValueError(f"Product {p} combination {a} is listed twice.")
    return keys


def _check_texts(texts: TextSet, id_product: int) -> None:
    for _, _, *pair in texts:
        for text in pair:
            if text is not None and not isinstance(text, str):
                raise ValueError(f"Availability texts must be strings (product {id_product}): {text!r}.")
            if text is not None and len(text) > TEXT_MAX_LENGTH:
                raise ValueError(f"Availability text longer than {TEXT_MAX_LENGTH} characters "
                                 f"(product {id_product}): {text[:40]!r}…")
