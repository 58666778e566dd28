"""Supplier XML feeds: stream the repeating item elements out as rows, with their line numbers.

Pure: a binary stream in, `FeedRow`s out. The document is fed to defusedxml's hardened expat
parser in 64 KB chunks with a parser target of our own (no element tree is built), so memory
stays flat however large the feed, and the target reads the line of each item's start tag from
expat while expat reports it (`iterparse` cannot give line numbers).

Safety: any entity declaration (the "billion laughs" and quadratic blow-ups, XXE) and any
reference to an external entity stop the parse with FeedError before anything is expanded.
A plain `<!DOCTYPE products SYSTEM "products.dtd">` is accepted (and never fetched): some
suppliers' exports carry one.

Paths: `item` is the repeating element's name, or a short path to it ("products/product",
matched against the element's closest ancestors; a leading "/" anchors it at the root).
Field paths are relative to the item: "qty", "stock/qty", "@sku" (an attribute of the item),
"stock/@qty". Names match by local name: namespace prefixes and URIs are ignored on both sides
("g:price" finds <g:price>). Only leaf elements (no child elements) have a value; when a path
repeats within an item (several <image>), the first one counts. Items are not nested: a
<product> inside an item is one of its fields.
"""

from __future__ import annotations

from contextlib import closing
from itertools import islice
from typing import BinaryIO, Iterator

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from app.suppliers.parsing import FeedError, FeedRow

__all__ = ["FeedError", "FeedRow", "read_xml", "xml_headers"]

_READ_CHUNK = 64 * 1024


def read_xml(stream: BinaryIO, item: str, fields: dict[str, str] | None = None) -> Iterator[FeedRow]:
    """Stream the feed's items as FeedRows, in document order.

    With `fields` ({header: path}) each row has exactly those headers ("" for a path the item
    lacks); without, each row has every leaf element and attribute of the item, keyed by its
    path. `line` is the line of the item's start tag. Raises FeedError at once for an `item`
    that is not an element path, and while reading when the document is refused (entities)
    or turns out malformed, possibly after some rows were yielded.
    """
    segments = _path(item)
    if not segments or any(part.startswith("@") for part in segments):
        # A setting the seller chose, so FeedError: shown in words rather than crashing the page.
        raise FeedError(f"“{item}” is not an element path: give the repeating element's name, "
                        f"e.g. product or products/product.")
    targets: dict[str, list[str]] | None = None
    if fields is not None:
        targets = {}
        for header, path in fields.items():
            targets.setdefault("/".join(_path(path)), []).append(header)
    collector = _ItemCollector(tuple(segments), item.strip().startswith("/"), targets)
    parser = DefusedXMLParser(target=collector, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    collector.locator = parser.parser  # the expat parser: its line is the one being reported
    return _parse(stream, parser, collector)


def xml_headers(stream: BinaryIO, item: str, sample_items: int = 50) -> list[str]:
    """The field paths found in the first `sample_items` items, in the order first seen."""
    seen: dict[str, None] = {}
    with closing(read_xml(stream, item)) as rows:
        for row in islice(rows, sample_items):
            seen.update(dict.fromkeys(row.values))
    return list(seen)


def _parse(stream: BinaryIO, parser: DefusedXMLParser, collector: _ItemCollector) -> Iterator[FeedRow]:
    try:
        while chunk := stream.read(_READ_CHUNK):
            parser.feed(chunk)
            if collector.rows:
                yield from collector.take()
        parser.close()
        yield from collector.take()
    except DefusedXmlException as error:
        raise FeedError(_refusal(error)) from error
    except ParseError as error:
        line, column = getattr(error, "position", ("?", "?"))
        raise FeedError(f"The XML feed is malformed at line {line}, column {column}: "
                        f"{str(error).split(':')[0]}.") from error


def _refusal(error: DefusedXmlException) -> str:
    """Why a document was refused, in words."""
    name = getattr(error, "name", None)
    what = f"declares the entity “{name}”" if name else "references an external entity"
    system_id = getattr(error, "sysid", None)
    source = f" from {system_id}" if system_id else ""
    return (f"The XML feed was refused: it {what}{source}. Entities are never expanded or fetched "
            f"(they can blow up to gigabytes or read files); ask the supplier for a feed without them.")


def _path(path: str) -> list[str]:
    """A path's parts by local name: "./g:stock/@qty" -> ["stock", "@qty"]."""
    parts = []
    for part in path.strip().strip("/").split("/"):
        if part in ("", "."):
            continue
        attribute = part.startswith("@")
        name = _local(part.lstrip("@")).rpartition(":")[2]
        parts.append("@" + name if attribute else name)
    return parts


def _local(name: str) -> str:
    """"{uri}name" -> "name" (how the parser spells a namespaced element or attribute)."""
    return name.rpartition("}")[2]


class _ItemCollector:
    """Parser target: keeps a path of open elements, and turns each item into a FeedRow.

    Called by the parser for every element, so it does as little as it can outside items.
    """

    def __init__(self, segments: tuple[str, ...], anchored: bool, targets: dict[str, list[str]] | None) -> None:
        self.rows: list[FeedRow] = []
        self.locator = None
        self._segments, self._anchored, self._targets = segments, anchored, targets
        self._header_count = sum(map(len, targets.values())) if targets is not None else 0
        self._names: dict[str, str] = {}  # "{uri}local" -> "local", memoised: tags repeat
        self._outer: list[str] = []       # local names of the open elements outside the item
        self._inner: list[str] = []       # paths (relative to the item) of the open elements inside it
        self._line = 0
        self._values: dict[str, str] = {}
        self._text: list[str] = []
        self._leaf = False
        self._bare = True

    def take(self) -> list[FeedRow]:
        rows, self.rows = self.rows, []
        return rows

    def _name(self, tag: str) -> str:
        name = self._names.get(tag)
        if name is None:
            name = self._names[tag] = _local(tag)
        return name

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._text.clear()
        self._leaf = True
        self._bare = not attrib  # an empty <warehouse id="W1"/> has no value of its own, only @id
        name = self._name(tag)
        inner = self._inner
        if inner:
            parent = inner[-1]
            path = f"{parent}/{name}" if parent else name
            inner.append(path)
        elif self._is_item(name):
            self._line, self._values, path = self.locator.CurrentLineNumber, {}, ""
            inner.append(path)
        else:
            self._outer.append(name)
            return
        for key, value in attrib.items():
            self._store(f"{path}/@{self._name(key)}" if path else f"@{self._name(key)}", value)

    def _is_item(self, name: str) -> bool:
        segments, outer = self._segments, self._outer
        if name != segments[-1]:
            return False
        if self._anchored:
            return len(outer) == len(segments) - 1 and tuple(outer) == segments[:-1]
        return len(segments) == 1 or tuple(outer[-(len(segments) - 1):]) == segments[:-1]

    def data(self, text: str) -> None:
        self._text.append(text)

    def end(self, tag: str) -> None:
        inner = self._inner
        if not inner:
            self._outer.pop()
            return
        path = inner.pop()
        if self._leaf and path:
            text = "".join(self._text)
            if text or self._bare:
                self._store(path, text)
        self._leaf = False  # the element that ends next has had a child: this one
        self._text.clear()
        if not inner:
            self.rows.append(FeedRow(self._line, self._row()))

    def _store(self, path: str, value: str) -> None:
        if self._targets is None:
            self._values.setdefault(path, value)
        else:
            for header in self._targets.get(path, ()):
                self._values.setdefault(header, value)

    def _row(self) -> dict[str, str]:
        values = self._values
        if len(values) < self._header_count:  # fill in the fields this item lacks
            for headers in self._targets.values():
                for header in headers:
                    values.setdefault(header, "")
        return values

    def close(self) -> None:
        return None
