"""XML feed reading without a database: items, nested fields, attributes, namespaces, refused documents."""

from __future__ import annotations

import io
import tracemalloc

import pytest

from app.suppliers.parsing import FeedError
from app.suppliers.xml import read_xml, xml_headers

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<offers>
  <meta><generated>2024-05-01</generated></meta>
  <products>
    <product sku="KRZ-1">
      <ean>5901234123457</ean>
      <name><![CDATA[Krzesło „Łódź” & stół]]></name>
      <stock warehouse="W1"><qty>12</qty></stock>
      <price currency="PLN">12,50</price>
      <image>a.jpg</image>
      <image>b.jpg</image>
    </product>
    <product sku="STO-2">
      <ean/>
      <stock warehouse="W2">
        <qty>3</qty>
      </stock>
    </product>
  </products>
</offers>
"""

FIELDS = {"sku": "@sku", "ean": "ean", "qty": "stock/qty", "warehouse": "stock/@warehouse", "price": "price"}


def xml(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def test_items_with_nested_fields_and_attributes_are_read_with_their_lines():
    rows = list(read_xml(xml(FEED), "product", FIELDS))

    assert [(row.line, row.values, row.problem) for row in rows] == [
        (5, {"sku": "KRZ-1", "ean": "5901234123457", "qty": "12", "warehouse": "W1", "price": "12,50"}, None),
        (13, {"sku": "STO-2", "ean": "", "qty": "3", "warehouse": "W2", "price": ""}, None),
    ]


def test_without_fields_every_leaf_and_attribute_is_a_value_by_its_path():
    first = next(read_xml(xml(FEED), "product"))

    assert first.values == {
        "@sku": "KRZ-1", "ean": "5901234123457", "name": "Krzesło „Łódź” & stół",
        "stock/@warehouse": "W1", "stock/qty": "12", "price/@currency": "PLN", "price": "12,50",
        "image": "a.jpg",  # a repeated path: the first one counts
    }


def test_xml_headers_lists_the_paths_seen_in_the_first_items():
    assert xml_headers(xml(FEED), "product") == [
        "@sku", "ean", "name", "stock/@warehouse", "stock/qty", "price/@currency", "price", "image"]


def test_item_paths_match_the_closest_ancestors_or_from_the_root():
    doc = ("<root><products><product><id>1</id></product></products>"
           "<related><product><id>2</id></product></related></root>")

    assert [r.values["id"] for r in read_xml(xml(doc), "product")] == ["1", "2"]
    assert [r.values["id"] for r in read_xml(xml(doc), "products/product")] == ["1"]
    assert [r.values["id"] for r in read_xml(xml(doc), "/root/related/product")] == ["2"]
    assert list(read_xml(xml(doc), "/products/product")) == []


def test_items_are_not_nested():
    doc = "<products><product><id>1</id><variants><product><id>9</id></product></variants></product></products>"

    (row,) = read_xml(xml(doc), "product")

    assert row.values == {"id": "1", "variants/product/id": "9"}


def test_namespaces_match_by_local_name():
    doc = """<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">
<channel xmlns="http://example.com/default">
  <item>
    <g:id>A-1</g:id>
    <g:gtin>5901234123457</g:gtin>
    <g:availability g:qty="4">in stock</g:availability>
  </item>
</channel>
</rss>"""

    (row,) = read_xml(xml(doc), "channel/item", {"sku": "g:id", "ean": "gtin", "qty": "availability/@g:qty"})

    assert (row.line, row.values) == (4, {"sku": "A-1", "ean": "5901234123457", "qty": "4"})


def test_a_windows_1250_document_keeps_its_polish_letters():
    doc = '<?xml version="1.0" encoding="windows-1250"?>\n<p><i><n>Zażółć gęślą jaźń ĄŚŹ</n></i></p>'

    (row,) = read_xml(xml(doc, "cp1250"), "i")

    assert row.values == {"n": "Zażółć gęślą jaźń ĄŚŹ"}


def test_an_external_dtd_is_accepted_and_never_fetched():
    doc = '<?xml version="1.0"?>\n<!DOCTYPE products SYSTEM "http://127.0.0.1:9/products.dtd">\n' \
          "<products><product><id>1</id></product></products>"

    assert [row.values for row in read_xml(xml(doc), "product")] == [{"id": "1"}]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<products><product><sku>&lol9;</sku><qty>1</qty></product></products>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE products [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<products><product><sku>&secret;</sku><qty>1</qty></product></products>
"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE products [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<products><product><sku>A</sku></product></products>
"""


@pytest.mark.parametrize("doc, words", [
    (BILLION_LAUGHS, "declares the entity “lol”"),
    (XXE, "declares the entity “secret” from file:///etc/passwd"),
    (PARAMETER_ENTITY, "declares the entity “remote”"),
])
def test_entity_documents_are_refused_before_anything_is_expanded(doc, words):
    tracemalloc.start()
    try:
        with pytest.raises(FeedError, match="refused") as refused:
            list(read_xml(xml(doc), "product"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert words in str(refused.value)
    assert peak < 5 * 1024 * 1024  # nothing was expanded


def test_a_malformed_document_fails_with_its_position():
    doc = "<products>\n<product><sku>A</sku></product>\n<product><sku>B</product>\n</products>"

    with pytest.raises(FeedError, match="malformed at line 3"):
        list(read_xml(xml(doc), "product"))


@pytest.mark.parametrize("doc", ["", "not xml at all", "<products><product>"])
def test_empty_or_truncated_documents_fail(doc):
    with pytest.raises(FeedError, match="malformed"):
        list(read_xml(xml(doc), "product"))


@pytest.mark.parametrize("item", ["", " / ", "product/@sku"])
def test_an_item_that_is_not_an_element_path_is_refused_at_once(item):
    with pytest.raises(FeedError, match="not an element path"):
        read_xml(xml(FEED), item)


def test_a_large_feed_is_streamed_with_flat_memory():
    item = "<product sku='S{0}'><ean>5901234123457</ean><name>Zażółć gęślą jaźń {0}</name>" \
           "<stock><qty>{0}</qty></stock></product>\n"
    count = 40_000

    def chunks():
        yield b"<?xml version='1.0' encoding='UTF-8'?>\n<products>\n"
        for start in range(0, count, 1000):
            yield "".join(item.format(i) for i in range(start, start + 1000)).encode()
        yield b"</products>\n"

    class Generated(io.RawIOBase):
        """A 5 MB document made as it is read, so only the reader's memory is measured."""

        def __init__(self):
            self._parts, self._buffer = chunks(), b""

        def readable(self):
            return True

        def read(self, size=-1):
            while len(self._buffer) < size and (part := next(self._parts, None)) is not None:
                self._buffer += part
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data

    tracemalloc.start()
    try:
        seen, last = 0, None
        for last in read_xml(Generated(), "product", {"sku": "@sku", "qty": "stock/qty"}):
            seen += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert seen == count and last.values == {"sku": f"S{count - 1}", "qty": str(count - 1)}
    assert last.line == count + 2
    assert peak < 3 * 1024 * 1024
