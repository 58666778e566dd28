"""FakePrestaShop's order filter: GET orders?filter[date_upd]=[from,to]&date=1&display=full&limit=offset,count,
and the addresses, customers and currencies an order names (filter[id]=[1|2|3]).

Field names follow classes/order/Order.php, Address.php and Customer.php webservice definitions, and
order rows sit under <associations><order_rows> as in order_get_5_response.ps16123-recorded.xml.
PrestaShop refuses a date filter without date=1; the fake does too (its wording is its own).
"""

from __future__ import annotations

import re
from datetime import datetime

from werkzeug.wrappers import Request, Response

ORDER_FIELDS = ("id", "id_address_delivery", "id_address_invoice", "id_cart", "id_currency", "id_lang", "id_customer",
                "id_carrier", "current_state", "module", "payment", "total_discounts_tax_incl", "total_paid",
                "total_paid_tax_incl", "total_paid_real", "total_products_wt", "total_shipping_tax_incl", "date_add",
                "date_upd", "reference", "note")
ROW_FIELDS = ("id", "product_id", "product_attribute_id", "product_quantity", "product_name", "product_reference",
              "product_ean13", "unit_price_tax_incl", "unit_price_tax_excl")
CURRENCIES = {"1": "PLN", "2": "EUR"}
RANGE = re.compile(r"^\[([^,\]]+),([^,\]]+)\]$")


def _cdata(value: object) -> str:
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


class OrderFilter:
    """Mixin of FakePrestaShop. Expects `lock`, `orders` ({id: state}), `_updated` ({id: date_upd}), `url`,
    `_ok(xml, started)` and `_errors(status, errors, started)`."""

    def _init_order_filter(self) -> None:
        self.order_data: dict[str, dict] = {}
        self.addresses: dict[str, dict[str, str]] = {}
        self.customers: dict[str, dict[str, str]] = {}

    def put_order(self, order_id: int | str, *, state: int | str = 2, date_upd: str | None = None,
                  quantity: int = 1, customer: str = "Ewa Nowak") -> str:
        """Create or change an order with one row, a customer and an address; date_upd now or given."""
        order_id = str(order_id)
        date_upd = date_upd or datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        first, _, last = customer.partition(" ")
        with self.lock:
            self.orders[order_id] = str(state)
            self._updated[order_id] = date_upd
            self.customers[order_id] = {"id": order_id, "firstname": first, "lastname": last,
                                        "email": f"{first.lower()}{order_id}@example.com", "company": ""}
            self.addresses[order_id] = {"id": order_id, "id_customer": order_id, "firstname": first, "lastname": last,
                                        "company": "", "address1": "Długa 1", "address2": "", "postcode": "00-001",
                                        "city": "Warszawa", "phone": "", "phone_mobile": "600100200",
                                        "vat_number": ""}
            self.order_data[order_id] = {
                "id_address_delivery": order_id, "id_address_invoice": order_id, "id_cart": order_id,
                "id_currency": "1", "id_lang": "1", "id_customer": order_id, "id_carrier": "2",
                "module": "ps_wirepayment", "payment": "Bank wire", "total_discounts_tax_incl": "0.000000",
                "total_paid": f"{24.6 * quantity + 10:.6f}", "total_paid_tax_incl": f"{24.6 * quantity + 10:.6f}",
                "total_paid_real": "0.000000", "total_products_wt": f"{24.6 * quantity:.6f}",
                "total_shipping_tax_incl": "10.000000", "date_add": self.order_data.get(order_id, {}).get(
                    "date_add", date_upd), "reference": f"WS{int(order_id):06d}", "note": "",
                "rows": [{"id": f"{order_id}01", "product_id": "3", "product_attribute_id": "0",
                          "product_quantity": str(quantity), "product_name": "Kubek", "product_reference": "KUB-1",
                          "product_ean13": "", "unit_price_tax_incl": "24.600000", "unit_price_tax_excl": "20.000000"}]}
        return order_id

    def _order_fields(self, order_id: str) -> dict[str, str]:
        data = self.order_data[order_id]
        return {**{k: v for k, v in data.items() if k != "rows"}, "id": order_id, "current_state": self.orders[order_id],
                "date_upd": self._updated.get(order_id, data["date_add"])}

    def _full_order_xml(self, order_id: str) -> str:
        fields = self._order_fields(order_id)
        body = "".join(f"\t<{name}>{_cdata(fields.get(name, ''))}</{name}>\n" for name in ORDER_FIELDS)
        rows = "".join("\t<order_row>" + "".join(f"<{n}>{_cdata(row.get(n, ''))}</{n}>" for n in ROW_FIELDS)
                       + "</order_row>\n" for row in self.order_data[order_id]["rows"])
        return (f"<order>\n{body}<associations>\n<order_rows nodeType=\"order_row\" virtualEntity=\"true\">\n{rows}"
                "</order_rows>\n</associations>\n</order>\n")

    def _list_orders_filtered(self, request: Request, started: float, head: str, tail: str, limited) -> Response:
        args = request.args
        with self.lock:
            ids = [i for i in self.orders if i in self.order_data]
            wanted = args.get("filter[date_upd]")
            if wanted is not None:
                if args.get("date") != "1":
                    return self._errors(400, [(1, "To filter on dates, add date=1 to the request")], started)
                match = RANGE.match(wanted)
                if not match:
                    return self._errors(400, [(2, f"Bad date filter: {wanted}")], started)
                low, high = match.groups()
                ids = [i for i in ids if low <= self._order_fields(i)["date_upd"] <= high]
            sort = args.get("sort", "[id_ASC]")
            if "date_upd" in sort:
                ids.sort(key=lambda i: (self._order_fields(i)["date_upd"], int(i)))
            else:
                ids.sort(key=int)
            ids = limited(ids, args.get("limit"))
            if args.get("display") == "full":
                items = "".join(self._full_order_xml(i) for i in ids)
            else:
                items = "".join(f'<order id="{i}" xlink:href="{self.url}/api/orders/{i}"/>\n' for i in ids)
        return self._ok(head + f"<orders>\n{items}</orders>\n" + tail, started)

    def _list_by_id(self, request: Request, started: float, plural: str, singular: str, table: dict[str, dict],
                    head: str, tail: str) -> Response:
        wanted = request.args.get("filter[id]", "")
        ids = [i for i in wanted.strip("[]").split("|") if i] if wanted else list(table)
        with self.lock:
            found = [table[i] for i in ids if i in table]
            items = "".join(f"<{singular}>" + "".join(f"<{k}>{_cdata(v)}</{k}>" for k, v in row.items())
                            + f"</{singular}>\n" for row in found)
        return self._ok(head + f"<{plural}>\n{items}</{plural}>\n" + tail, started)

    def _list_currencies(self, started: float, head: str, tail: str) -> Response:
        items = "".join(f"<currency><id>{_cdata(i)}</id><iso_code>{_cdata(code)}</iso_code></currency>\n"
                        for i, code in CURRENCIES.items())
        return self._ok(head + f"<currencies>\n{items}</currencies>\n" + tail, started)
