"""CSV feed reading without a database: encodings, delimiters, quoted newlines, line numbers, memory."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from app.suppliers.csv import CsvDialect, preview, read_csv, sniff_csv
from app.suppliers.parsing import FeedError

POLISH = "ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ"


def feed(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def rows_of(stream, dialect=None) -> list[tuple[int, dict, str | None]]:
    return [(row.line, row.values, row.problem) for row in read_csv(stream, dialect)]


class ForwardOnly:
    """A stream like an HTTP response: read(n) only, no seek, and it must not be closed by us."""

    def __init__(self, data: bytes) -> None:
        self._data, self.closed = io.BytesIO(data), False

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 1000) if size and size > 0 else size)  # short reads, like a socket


# --- encodings -------------------------------------------------------------------------


def test_cp1250_with_polish_letters_round_trips():
    text = f"Symbol;Nazwa produktu;Ilość\r\nKRZ-1;{POLISH};5\r\nSTÓŁ-2;Zażółć gęślą jaźń;0\r\n"

    reader = read_csv(feed(text, "cp1250"))

    assert reader.dialect == CsvDialect(encoding="cp1250", delimiter=";")
    assert reader.headers == ["Symbol", "Nazwa produktu", "Ilość"]
    assert [row.values for row in reader] == [
        {"Symbol": "KRZ-1", "Nazwa produktu": POLISH, "Ilość": "5"},
        {"Symbol": "STÓŁ-2", "Nazwa produktu": "Zażółć gęślą jaźń", "Ilość": "0"},
    ]


def test_iso_8859_2_is_told_from_cp1250():
    text = f"sku;nazwa;stan\nA;{POLISH};1\nB;Świeża śliwka źle ściśnięta;2\n"

    reader = read_csv(feed(text, "iso8859-2"))

    assert reader.dialect.encoding == "iso8859-2"
    assert [row.values["nazwa"] for row in reader] == [POLISH, "Świeża śliwka źle ściśnięta"]


def test_cp1250_typographic_quotes_without_distinguishing_letters_stay_cp1250():
    # „ ” are 0x84 0x94 in cp1250 and control characters in ISO-8859-2.
    assert sniff_csv("sku;nazwa\nA;„Łódź”\n".encode("cp1250")).encoding == "cp1250"


def test_utf8_with_bom_does_not_pollute_the_first_header():
    reader = read_csv(feed(f"sku;stan\nA;{POLISH}\n", "utf-8-sig"))

    assert reader.dialect == CsvDialect(encoding="utf-8-sig", delimiter=";", bom=True)
    assert reader.headers == ["sku", "stan"]
    assert [row.values for row in reader] == [{"sku": "A", "stan": POLISH}]


def test_utf8_without_bom_and_plain_ascii():
    assert sniff_csv(f"sku;nazwa\nA;{POLISH}\n".encode()).encoding == "utf-8"
    assert sniff_csv(b"sku,qty\nA,1\n") == CsvDialect(encoding="utf-8", delimiter=",")


def test_utf8_letter_cut_off_at_the_end_of_the_sample_is_still_utf8():
    sample = f"sku;nazwa\nA;{POLISH}".encode()[:-1]  # the last letter's second byte is missing

    assert sniff_csv(sample).encoding == "utf-8"


def test_utf16_excel_unicode_text_is_read():
    reader = read_csv(feed(f"sku\tnazwa\tstan\r\nA\t{POLISH}\t3\r\n", "utf-16"))

    assert reader.dialect.delimiter == "\t"
    assert reader.headers == ["sku", "nazwa", "stan"]
    assert next(reader).values == {"sku": "A", "nazwa": POLISH, "stan": "3"}


def test_cp1250_bytes_after_an_ascii_start_are_decoded_as_cp1250():
    # The first 64 KB are plain ASCII, so the feed is sniffed as UTF-8; a later cp1250 row
    # must still come out right rather than as replacement characters.
    head = "sku;nazwa;stan\n" + "".join(f"A{i};plain;1\n" for i in range(8000))
    data = head.encode() + f"Z-1;{POLISH};2\n".encode("cp1250")

    reader = read_csv(io.BytesIO(data))
    last = list(reader)[-1]

    assert reader.dialect.encoding == "utf-8"
    assert last.values == {"sku": "Z-1", "nazwa": POLISH, "stan": "2"}
    assert last.line == 8002


def test_undefined_cp1250_byte_is_replaced_not_fatal():
    data = "sku;nazwa;stan\nA;ą".encode("cp1250") + b"\x98" + b";1\nB;b;2\n"

    rows = rows_of(io.BytesIO(data))

    assert rows == [(2, {"sku": "A", "nazwa": "ą\ufffd", "stan": "1"}, None),
                    (3, {"sku": "B", "nazwa": "b", "stan": "2"}, None)]


# --- delimiters and quoting --------------------------------------------------------------


@pytest.mark.parametrize("text, delimiter", [
    ("sku;cena;stan\nA;12,50;1\nB;3,00;2\n", ";"),                         # decimal commas
    ('sku,name,qty\nA,"Chair, oak",1\nB,"Table; big",2\n', ","),         # quoted delimiters
    ("sku\tname\tqty\nA\tChair, oak; big\t1\nB\tTable\t2\n", "\t"),
    ("sku|name|qty\nA|Chair, oak|1\nB|Table; x|2\n", "|"),
    ('"sku";"name";"qty"\n"A";"Lamp, ""LED""";"1"\n', ";"),
])
def test_delimiter_is_detected(text, delimiter):
    reader = read_csv(feed(text))

    assert reader.dialect.delimiter == delimiter
    rows = list(reader)
    assert len(reader.headers) == 3
    assert all(row.problem is None and len(row.values) == 3 for row in rows)


def test_doubled_quotes_inside_a_quoted_field():
    reader = read_csv(feed('"sku";"name";"qty"\n"A";"Lamp, ""LED""";"1"\n'))

    assert next(reader).values["name"] == 'Lamp, "LED"'


def test_quoted_newlines_keep_line_numbers_right():
    text = (
        "sku;opis;stan\r\n"                       # 1
        'A;"first line\r\nsecond line";1\r\n'     # 2-3
        "B;plain;2\r\n"                           # 4
        'C;"one\ntwo\nthree";3\r\n'               # 5-7
        "D;plain;4\r\n"                           # 8
    )

    rows = rows_of(feed(text, "cp1250"))

    assert [(line, values["sku"]) for line, values, _ in rows] == [(2, "A"), (4, "B"), (5, "C"), (8, "D")]
    assert rows[0][1]["opis"] == "first line\r\nsecond line"
    assert all(problem is None for _, _, problem in rows)


def test_blank_lines_are_skipped_and_counted():
    rows = rows_of(feed("\nsku;stan\n\nA;1\n;\n\nB;2\n;;\n"))

    assert [(line, values) for line, values, _ in rows] == [(4, {"sku": "A", "stan": "1"}),
                                                            (7, {"sku": "B", "stan": "2"})]


# --- malformed rows ---------------------------------------------------------------------


def test_rows_with_the_wrong_number_of_fields_are_flagged_with_their_line():
    text = "sku;ean;stan;dni;cena\nA;;1;2;3\nB;;1\nC;;1;2;3\nD;;1;2;3;x;y\nE;;1;2;3\n"

    rows = rows_of(feed(text))

    assert [(line, values["sku"], problem) for line, values, problem in rows] == [
        (2, "A", None),
        (3, "B", "3 fields where the header has 5"),
        (4, "C", None),
        (5, "D", "7 fields where the header has 5"),
        (6, "E", None),
    ]
    assert rows[3][1]["column_7"] == "y"  # the extra fields are kept for the report


def test_an_unclosed_quote_with_the_wrong_field_count_names_the_lines():
    text = 'sku;nazwa;stan\nA;"Monitor 24;1\nB;b;2\nC;c;3\n'

    (line, _, problem), = rows_of(feed(text))

    assert line == 2
    assert problem == "2 fields where the header has 3 (the record runs from line 2 to line 4: an unclosed quote?)"


def test_trailing_delimiters_are_forgiven():
    on_rows = rows_of(feed("sku;stan\nA;1;\nB;2;;\n"))
    on_header = rows_of(feed("sku;stan;\nA;1\nB;2;\n"))

    assert [(values, problem) for _, values, problem in on_rows] == [
        ({"sku": "A", "stan": "1"}, None), ({"sku": "B", "stan": "2"}, None)]
    assert [(values, problem) for _, values, problem in on_header] == [
        ({"sku": "A", "stan": "1", "column_3": ""}, None), ({"sku": "B", "stan": "2", "column_3": ""}, None)]


def test_headers_are_cleaned_named_and_made_unique():
    reader = read_csv(feed(' SKU ;;EAN;EAN;"Cena\nnetto";\ufeffstan\nA;x;1;2;3;4\n'))

    assert reader.headers == ["SKU", "column_2", "EAN", "EAN_2", "Cena netto", "stan"]
    assert next(reader).values["EAN_2"] == "2"


def test_a_feed_without_a_header_row_is_refused():
    with pytest.raises(FeedError, match="empty"):
        read_csv(feed(""))
    with pytest.raises(FeedError, match="empty"):
        read_csv(feed("\n\n  \n"))


def test_a_header_only_feed_has_no_rows():
    reader = read_csv(feed("sku;stan\n"))

    assert reader.headers == ["sku", "stan"]
    assert list(reader) == []


# --- streams ----------------------------------------------------------------------------


def test_a_forward_only_stream_is_sniffed_read_whole_and_left_open():
    text = "sku;stan\n" + "".join(f"S{i};{i}\n" for i in range(20000))
    stream = ForwardOnly(text.encode())

    reader = read_csv(stream)
    rows = list(reader)

    assert len(rows) == 20000 and rows[-1].line == 20001 and rows[-1].values == {"sku": "S19999", "stan": "19999"}
    assert not stream.closed


def test_reading_does_not_close_the_callers_stream():
    stream = feed("sku;stan\nA;1\n")

    with read_csv(stream) as reader:
        list(reader)

    assert not stream.closed


def test_an_explicit_dialect_skips_sniffing():
    reader = read_csv(feed("sku,stan;x\nA,1;y\n", "cp1250"), CsvDialect(encoding="cp1250", delimiter=";"))

    assert reader.headers == ["sku,stan", "x"]


def test_preview_gives_the_first_rows_as_they_will_be_read():
    text = "sku;stan\n" + "A;1;2\n" + "".join(f"S{i};{i}\n" for i in range(50))

    dialect, headers, rows = preview(feed(text, "cp1250"))

    assert dialect.delimiter == ";" and headers == ["sku", "stan"]
    assert len(rows) == 20
    assert rows[0].line == 2 and rows[0].problem == "3 fields where the header has 2"
    assert rows[19].values == {"sku": "S18", "stan": "18"}


def test_a_50_mb_feed_is_streamed_with_flat_memory(tmp_path):
    path = tmp_path / "big.csv"
    description = (POLISH + " opis, długi; ") * 12
    row = f'"SKU-{{:07d}}";5901234123457;"{description}\nw dwóch liniach";17;3;1 234,50\r\n'
    rows = 130_000
    with open(path, "w", encoding="cp1250", newline="") as out:
        out.write("sku;ean;opis;stan;dni;cena\r\n")
        out.writelines(row.format(i) for i in range(rows))
    size = path.stat().st_size
    assert size > 50 * 1024 * 1024

    tracemalloc.start()
    try:
        with open(path, "rb") as stream:
            count, last = 0, None
            for last in read_csv(stream):
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == rows
    assert last.line == 2 + 2 * (rows - 1) and last.values["sku"] == f"SKU-{rows - 1:07d}"
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while reading a {size / 1e6:.0f} MB feed"


def test_a_one_line_feed_without_a_final_line_break():
    reader = read_csv(feed("sku;stan"))

    assert reader.dialect.delimiter == ";" and reader.headers == ["sku", "stan"] and list(reader) == []


def test_a_last_row_without_a_line_break_is_read():
    assert rows_of(feed("sku|stan\r\nA|1\r\nB|2")) == [(2, {"sku": "A", "stan": "1"}, None),
                                                       (3, {"sku": "B", "stan": "2"}, None)]


def test_a_record_the_csv_module_cannot_read_is_one_problem_and_reading_goes_on():
    text = "sku;nazwa;stan\nA;a;1\nB;" + "x" * 200_000 + ";1\nC;c;3\n"

    rows = rows_of(feed(text))

    assert rows[0] == (2, {"sku": "A", "nazwa": "a", "stan": "1"}, None)
    assert rows[1][0] == 3 and rows[1][2].startswith("the record cannot be read: field larger than field limit")
    assert rows[-1] == (4, {"sku": "C", "nazwa": "c", "stan": "3"}, None)
