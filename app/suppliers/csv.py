"""Supplier CSV feeds: detect encoding and delimiter, then stream rows with their line numbers.

Pure: a binary stream in, `FeedRow`s out; the file is never read whole (it is decoded in
chunks by `io.TextIOWrapper` and split by the stdlib `csv` reader, both in C), so memory stays
flat however large the feed.

Undecodable bytes never stop an import. In a UTF-8 feed, a line that is not valid UTF-8 is
decoded as cp1250, which is what such lines nearly always are (feeds glued together from several
sources, or whose first 64 KB were plain ASCII so the sniffer had nothing to go by); whole lines,
because cp1250 letters often form valid UTF-8 pairs ("ÓŻ" is 0xD3 0xAF) and byte-by-byte repair
would mangle them. In cp1250 feeds the five undefined bytes become U+FFFD. Rows are not flagged
for it: the damage is almost always in a name or description nobody imports, and `typed_rows`
refuses a SKU that contains U+FFFD (a stock or EAN with one is not a number anyway), so only the
rows that would import wrongly are reported.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from itertools import islice
from typing import BinaryIO, Iterator

from app.suppliers.parsing import FeedError, FeedRow

__all__ = ["CsvDialect", "CsvFeed", "FeedError", "FeedRow", "preview", "read_csv", "sniff_csv"]

SAMPLE_SIZE = 64 * 1024
DELIMITERS = (";", ",", "\t", "|")  # in order of preference when two fit equally well
SNIFF_RECORDS = 50
_READ_CHUNK = 64 * 1024

# Polish letters whose byte differs between the two encodings (ą ś ź Ą Ś Ź); the other Polish
# letters have the same byte in both. Bytes 0x80-0x9F are printable in cp1250 („ ” – š ...) but
# control characters in ISO-8859-2, so they count for cp1250 too.
_CP1250_LETTERS = bytes((0xB9, 0x9C, 0x9F, 0xA5, 0x8C, 0x8F))
_LATIN2_LETTERS = bytes((0xB1, 0xB6, 0xBC, 0xA1, 0xA6, 0xAC))
_C1_BYTES = bytes(range(0x80, 0xA0))

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_LONGEST_LINE = 1024 * 1024  # past this without a line break, a "line" is repaired in pieces


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV feed is written: its encoding (Python codec name), delimiter and quote character."""

    encoding: str
    delimiter: str
    quotechar: str = '"'
    bom: bool = False

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.encoding).name in ("utf-8", "utf-8-sig")


def sniff_csv(sample: bytes) -> CsvDialect:
    """Guess the dialect from the first bytes of a feed (64 KB is plenty)."""
    encoding, bom = _sniff_encoding(sample)
    text = sample.decode(encoding, "replace")
    return CsvDialect(encoding=encoding, delimiter=_sniff_delimiter(text), bom=bom)


def _sniff_encoding(sample: bytes) -> tuple[str, bool]:
    for mark, encoding in _BOMS:
        if sample.startswith(mark):
            return encoding, True
    try:
        # Incremental, so a multi-byte letter cut off at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    cp1250 = _count(sample, _CP1250_LETTERS) + len(sample) - len(sample.translate(None, _C1_BYTES))
    latin2 = _count(sample, _LATIN2_LETTERS)
    return ("iso8859-2" if latin2 > cp1250 else "cp1250"), False


def _count(data: bytes, values: bytes) -> int:
    return sum(data.count(value) for value in (bytes((b,)) for b in values))


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header and the rows after it into the same number of fields.

    Each candidate is tried with the csv reader itself, so quoted parts (decimal commas,
    semicolons in names, newlines) are ignored as they will be when reading.
    """
    last_break = max(text.rfind("\n"), text.rfind("\r"))
    if 0 < last_break < len(text) - 1:
        text = text[: last_break + 1]  # the last line may be cut off by the sample's end: drop it
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in islice(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter),
                                         SNIFF_RECORDS) if r]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        rows = records[1:]
        consistency = sum(len(r) == width for r in rows) / len(rows) if rows else 1.0
        if (consistency, width) > best_score:  # strict: the earlier delimiter wins a tie
            best, best_score = delimiter, (consistency, width)
    return best


class _Replayed(io.RawIOBase):
    """The caller's stream with its already-read sample put back in front.

    Lets `read_csv` sniff a stream that cannot seek (an HTTP response). Also keeps our text
    wrapper from closing the caller's stream when it is garbage collected.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._prefix = memoryview(b"")

    def sample(self, size: int) -> bytes:
        """Read up to `size` bytes (fewer only at the end of the stream) to be read again later."""
        parts, total = [], 0
        while total < size:
            data = self._stream.read(size - total)
            if not data:
                break
            parts.append(data)
            total += len(data)
        sample = bytes(self._prefix) + b"".join(parts)
        self._prefix = memoryview(sample)
        return sample

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


class _Utf8Repaired(io.RawIOBase):
    """The bytes of a UTF-8 feed, with each line that is not valid UTF-8 converted from cp1250.

    Works on whole chunks while they are valid UTF-8 (nearly always: one C-speed check each),
    and line by line only in a chunk that is not.
    """

    def __init__(self, source: io.RawIOBase) -> None:
        self._source = source
        self._pending = b""           # the start of a line continued in the next chunk
        self._out = memoryview(b"")   # repaired bytes not yet handed out
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            if self._eof:
                return 0
            self._out = memoryview(_as_utf8(self._next_lines()))
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _next_lines(self) -> bytes:
        """The next run of whole lines (or the rest of the stream, or an overlong line's piece)."""
        while True:
            data = self._source.read(_READ_CHUNK)
            if not data:
                self._eof = True
                rest, self._pending = self._pending, b""
                return rest
            chunk = self._pending + data
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            if not cut and len(chunk) < _LONGEST_LINE:
                self._pending = chunk
                continue
            cut = cut or len(chunk)
            self._pending = chunk[cut:]
            return chunk[:cut]


def _as_utf8(chunk: bytes) -> bytes:
    try:
        chunk.decode("utf-8")
        return chunk
    except UnicodeDecodeError:
        return b"\n".join(_line_as_utf8(line) for line in chunk.split(b"\n"))


def _line_as_utf8(line: bytes) -> bytes:
    try:
        line.decode("utf-8")
        return line
    except UnicodeDecodeError:
        return line.decode("cp1250", "replace").encode("utf-8")


class CsvFeed:
    """An open CSV feed: `.headers`, `.dialect`, `.header_line`, and an iterator of `FeedRow`.

    Rows come in file order; `line` is the physical line where the record starts, right even
    after quoted fields with newlines. Blank lines are skipped. A record with the wrong number
    of fields is still yielded, with `problem` saying so; so is one the csv module cannot read.
    Two forgiving cases are not problems: extra fields that are all empty (a trailing delimiter
    on the rows) and missing fields under unnamed trailing header columns (a trailing delimiter
    on the header).
    """

    def __init__(self, source: _Replayed, dialect: CsvDialect) -> None:
        self.dialect = dialect
        raw = _Utf8Repaired(source) if dialect.is_utf8 else source
        self._text = io.TextIOWrapper(io.BufferedReader(raw, _READ_CHUNK), encoding=dialect.encoding,
                                      errors="replace", newline="")
        self._text._CHUNK_SIZE = _READ_CHUNK  # fewer, larger decode calls
        self._reader = csv.reader(self._text, delimiter=dialect.delimiter, quotechar=dialect.quotechar,
                                  doublequote=True, strict=False)
        raw_headers, self.header_line = self._header()
        self.headers = _clean_headers(raw_headers)
        # How many fields a row needs: trailing header cells without a name may be missing.
        self._required = max((i + 1 for i, name in enumerate(raw_headers) if name.strip(" \ufeff")), default=0)
        self._rows = self._iterate()

    def _header(self) -> tuple[list[str], int]:
        try:
            for fields in self._reader:
                if any(field.strip() for field in fields):
                    return fields, self._reader.line_num
        except csv.Error as error:
            raise FeedError(f"The feed's header row cannot be read: {error}.") from error
        raise FeedError("The feed is empty: there is no header row.")

    def __iter__(self) -> Iterator[FeedRow]:
        return self._rows  # the generator itself, so `for` loops run without an extra call per row

    def __next__(self) -> FeedRow:
        return next(self._rows)

    def __enter__(self) -> CsvFeed:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading; the caller's stream stays open (it is the caller's to close)."""
        self._rows.close()
        self._text.close()

    def _iterate(self) -> Iterator[FeedRow]:
        reader, headers = self._reader, self.headers
        width = len(headers)
        start = reader.line_num + 1
        while True:
            try:
                for fields in reader:
                    if len(fields) == width:
                        if any(fields):  # "" in every field: an empty spreadsheet row
                            yield FeedRow(start, dict(zip(headers, fields)))
                    elif fields:  # [] is a blank line
                        row = self._odd_row(start, fields)
                        if row is not None:
                            yield row
                    start = reader.line_num + 1
                return
            except csv.Error as error:
                # The reader starts afresh on the next line, so one bad record costs one row.
                problem = f"the record cannot be read: {error}"
                if reader.line_num > start:
                    problem += f" (it runs from line {start} to line {reader.line_num}: an unclosed quote?)"
                yield FeedRow(start, {}, problem)
                start = reader.line_num + 1

    def _odd_row(self, start: int, fields: list[str]) -> FeedRow | None:
        """A record whose field count differs from the header's: forgive, skip, or flag it."""
        headers, width = self.headers, len(self.headers)
        if not any(field.strip() for field in fields):
            return None
        if len(fields) > width and not any(field.strip() for field in fields[width:]):
            return FeedRow(start, dict(zip(headers, fields)))
        if self._required <= len(fields) < width:
            return FeedRow(start, dict(zip(headers, fields + [""] * (width - len(fields)))))
        values = dict(zip(headers, fields))
        values.update((f"column_{i + 1}", field) for i, field in enumerate(fields) if i >= width)
        problem = f"{len(fields)} fields where the header has {width}"
        end = self._reader.line_num
        if end > start:
            problem += f" (the record runs from line {start} to line {end}: an unclosed quote?)"
        return FeedRow(start, values, problem)


def _clean_headers(raw: list[str]) -> list[str]:
    """Header names stripped (of a stray BOM and NUL bytes too), blanks named column_N, repeats made unique."""
    headers: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(raw, start=1):
        # A NUL byte cannot be stored with the headers in PostgreSQL, nor chosen in a form.
        name = " ".join(name.replace("\ufeff", "").replace("\x00", "").split()) or f"column_{position}"
        unique, n = name, 2
        while unique in seen:
            unique, n = f"{name}_{n}", n + 1
        seen.add(unique)
        headers.append(unique)
    return headers


def read_csv(stream: BinaryIO, dialect: CsvDialect | None = None) -> CsvFeed:
    """Open a CSV feed for reading; the dialect is sniffed from the first 64 KB unless given.

    The stream only needs `read(n)`; it is read forward once, never seeked and never closed.
    Raises FeedError if there is no header row.
    """
    source = _Replayed(stream)
    if dialect is None:
        dialect = sniff_csv(source.sample(SAMPLE_SIZE))
    return CsvFeed(source, dialect)


def preview(stream: BinaryIO, dialect: CsvDialect | None = None,
            limit: int = 20) -> tuple[CsvDialect, list[str], list[FeedRow]]:
    """The dialect, headers and first `limit` rows of a feed, exactly as an import will read them."""
    with read_csv(stream, dialect) as feed:
        return feed.dialect, feed.headers, list(islice(feed, limit))
