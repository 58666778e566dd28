"""FakePrestaShop with stock_availables (GET with filter[...] and display=full, PUT by id).

`stock` {id: fields} holds the rows; `stock_puts` every accepted PUT ({id, quantity, at}). A PUT
replaces the resource, as the shop's does; physical_quantity follows quantity + reserved_quantity.
"""

from __future__ import annotations

import time
from defusedxml import ElementTree

from werkzeug.wrappers import Request, Response

from tests.fakes.prestashop import XML_HEAD, XML_TAIL, FakePrestaShop, cdata

STOCK_FIELDS = ("id", "id_product", "id_product_attribute", "id_shop", "id_shop_group", "quantity",
                "depends_on_stock", "out_of_stock", "location")


class FakePrestaShopStock(FakePrestaShop):
    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.stock: dict[str, dict[str, str]] = {}
        self.stock_puts: list[dict] = []

    def add_stock(self, id_product: int, id_product_attribute: int = 0, quantity: int = 0, *, id_shop: int = 1,
                  id_shop_group: int = 0, reserved: int = 0) -> str:
        with self.lock:
            row_id = str(len(self.stock) + 1)
            self.stock[row_id] = {"id": row_id, "id_product": str(id_product),
                                  "id_product_attribute": str(id_product_attribute), "id_shop": str(id_shop),
                                  "id_shop_group": str(id_shop_group), "quantity": str(quantity),
                                  "depends_on_stock": "0", "out_of_stock": "2", "location": "",
                                  "reserved_quantity": str(reserved), "physical_quantity": str(quantity + reserved)}
            return row_id

    def quantity(self, id_product: int, id_product_attribute: int = 0) -> list[int]:
        with self.lock:
            return [int(r["quantity"]) for r in self.stock.values()
                    if r["id_product"] == str(id_product) and r["id_product_attribute"] == str(id_product_attribute)]

    def _route(self, request: Request, segments: list[str], started: float) -> Response:
        if not segments or segments[0] != "stock_availables":
            return super()._route(request, segments, started)
        object_id = segments[1] if len(segments) > 1 and segments[1] else None
        if request.method == "PUT":
            return self._put_stock(request, object_id, started)
        if request.method != "GET":
            return self._errors(405, [(25, f"Method {request.method} is not allowed for the resource "
                                           "stock_availables with this authentication key")], started)
        rows = sorted(self.stock.values(), key=lambda r: int(r["id"]))
        for name in ("id_product", "id_product_attribute"):
            wanted = request.args.get(f"filter[{name}]")
            if wanted is not None:
                rows = [r for r in rows if r[name] == wanted.strip("[]")]
        if request.args.get("display") != "full":
            return self._list_links("stock_availables", "stock_available", [r["id"] for r in rows], started)
        items = "".join(self._stock_xml(r) for r in rows)
        return self._ok(XML_HEAD + f"<stock_availables>\n{items}</stock_availables>\n" + XML_TAIL, started)

    def _stock_xml(self, row: dict[str, str]) -> str:
        return "<stock_available>\n" + "".join(f"\t<{n}>{cdata(row[n])}</{n}>\n" for n in STOCK_FIELDS) + \
            "</stock_available>\n"

    def _put_stock(self, request: Request, object_id: str | None, started: float) -> Response:
        entity = ElementTree.fromstring(request.get_data(as_text=True)).find("stock_available")
        given_id = (entity.findtext("id") or "").strip() if entity is not None else ""
        if not given_id or (object_id is not None and given_id != object_id):
            return self._errors(400, [(89, "id is invalid")], started)
        row = self.stock.get(given_id)
        if row is None:
            return self._errors(404, [(87, f"Id(s) not exists: {given_id}")], started)
        quantity = (entity.findtext("quantity") or "").strip()
        if not quantity.lstrip("-").isdigit():
            return self._errors(400, [(85, 'Validation error: "Property StockAvailable->quantity is not valid"')],
                                started)
        row.update({n: (entity.findtext(n) or "").strip() for n in STOCK_FIELDS if n != "id"})
        row["physical_quantity"] = str(int(quantity) + int(row["reserved_quantity"]))
        self.stock_puts.append({"id": given_id, "quantity": int(quantity), "at": time.time()})
        return self._ok(XML_HEAD + self._stock_xml(row) + XML_TAIL, started)
