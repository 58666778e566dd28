"""PrestaShop webservice client (XML over HTTP, key as Basic-auth user)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import requests
from defusedxml import ElementTree

from app.integrations.base import (
    AuthenticationFailed,
    PlatformError,
    PlatformStateDTO,
    RemoteOrderState,
    send,
    with_retries,
)

ORDER_HISTORY_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><order_history>'
    "<id_order><![CDATA[{order}]]></id_order><id_order_state><![CDATA[{state}]]></id_order_state>"
    "</order_history></prestashop>"
)


def parse_errors(body: bytes | str) -> str:
    """The messages of a PrestaShop <errors> body, joined; empty if the body has none."""
    try:
        root = ElementTree.fromstring(body)
    except Exception:  # not XML at all (an HTML error page, a proxy's message)
        return ""
    messages = []
    for error in root.iter("error"):
        code = (error.findtext("code") or "").strip()
        message = (error.findtext("message") or "").strip()
        messages.append(f"{message} (code {code})" if code else message)
    return "; ".join(m for m in messages if m)


def _cdata(value: object) -> str:
    """`value` as CDATA, taken literally by the shop (a ']]>' inside is split across two sections)."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _language_text(element, language_id: str) -> str:
    if element is None:
        return ""
    languages = element.findall("language")
    if not languages:
        return (element.text or "").strip()
    for language in languages:
        if language.get("id") == str(language_id):
            return (language.text or "").strip()
    return (languages[0].text or "").strip()


class PrestaShopWebservice:
    """Calls to one shop's webservice."""

    def __init__(self, shop_url: str, api_key: str, *, language_id: str | int = 1, send_email: bool = False,
                 session: requests.Session | None = None) -> None:
        self.base = shop_url.rstrip("/") + "/api"
        self.language_id = str(language_id)
        self.send_email = send_email
        self.session = session or requests.Session()
        self.session.auth = (api_key, "")
        self.session.headers.update({"Accept": "application/xml", "User-Agent": "Kontor"})

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call, not retried."""
        response = send(self.session, method, f"{self.base}/{path.lstrip('/')}", allow_redirects=False, **kwargs)
        if response.is_redirect:
            # requests would replay a redirected POST as a GET, and its 200 would pass for success.
            raise PlatformError(f"PrestaShop redirected the call to {response.headers.get('Location')}; "
                                "set the shop URL to the address it redirects to.", response.status_code)
        if response.status_code == 401:
            detail = parse_errors(response.content)
            raise AuthenticationFailed(
                f"PrestaShop refused the webservice key (HTTP 401){': ' + detail if detail else ''}.", 401)
        if response.status_code >= 400:
            detail = parse_errors(response.content) or response.reason or "no details"
            raise PlatformError(f"PrestaShop answered HTTP {response.status_code}: {detail}", response.status_code)
        return response

    _call = with_retries(_request)

    def _xml(self, response: requests.Response):
        try:
            return ElementTree.fromstring(response.content)
        except Exception as error:
            raise PlatformError(f"PrestaShop sent something that is not webservice XML ({error}).") from error

    def check_connection(self) -> str:
        """Describe the shop if the key works."""
        response = self._call("GET", "order_states", params={"display": "[id]", "limit": "1"})
        self._xml(response)
        version = response.headers.get("PSWS-Version")
        return f"Connected to PrestaShop{' ' + version if version else ''}; the key may read order states."

    def fetch_states(self) -> list[PlatformStateDTO]:
        """The shop's order states, named in the configured language; deleted ones left out."""
        root = self._xml(self._call("GET", "order_states", params={"display": "full"}))
        states = []
        for node in root.iter("order_state"):
            if (node.findtext("deleted") or "0").strip() == "1":
                continue
            state_id = (node.findtext("id") or "").strip()
            if not state_id:
                continue
            name = _language_text(node.find("name"), self.language_id) or f"State {state_id}"
            states.append(PlatformStateDTO(state_id, name, (node.findtext("color") or "").strip()))
        return sorted(states, key=lambda s: int(s.external_id) if s.external_id.isdigit() else 0)

    def fetch_order_state(self, external_order_id: str) -> RemoteOrderState:
        """The order's current state id in the shop."""
        root = self._xml(self._call("GET", f"orders/{external_order_id}"))
        state = (root.findtext("order/current_state") or "").strip()
        if not state:
            raise PlatformError(f"PrestaShop order {external_order_id} has no current_state.")
        return RemoteOrderState(state)

    def set_order_state(self, external_order_id: str, state_id: str, revision: str | None = None) -> None:
        """Add an order history row, which moves the order to `state_id` (and e-mails if switched on)."""
        body = ORDER_HISTORY_BODY.format(order=escape(str(external_order_id)), state=escape(str(state_id)))
        params = {"sendemail": "1"} if self.send_email else None
        # Not retried here: when the answer is lost the shop may have added the row (and mailed the
        # customer) already. The push retries the whole read-then-write, so it reads the state first.
        self._request("POST", "order_histories", params=params, data=body.encode(),
                      headers={"Content-Type": "application/xml"})

    # --- orders coming in -------------------------------------------------------------------

    ORDERS_PAGE = 100

    def changed_orders(self, since: str, until: str, offset: int = 0,
                       count: int = ORDERS_PAGE) -> list[dict[str, Any]]:
        """A page of orders whose date_upd is in [since, until] (shop time), oldest change first, with their rows."""
        root = self._xml(self._call("GET", "orders", params={
            "filter[date_upd]": f"[{since},{until}]", "date": "1", "display": "full",
            "sort": "[date_upd_ASC,id_ASC]", "limit": f"{offset},{count}"}))
        orders = []
        for node in root.iter("order"):
            fields = {child.tag: (child.text or "").strip() for child in node
                      if child.tag != "associations" and len(child) == 0}
            rows = [{field.tag: (field.text or "").strip() for field in row} for row in node.iter("order_row")]
            orders.append({"order": fields, "rows": rows})
        return orders

    def _by_id(self, resource: str, singular: str, ids: set[str], display: str) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        wanted = sorted(i for i in ids if i.isdigit() and i != "0")
        for start in range(0, len(wanted), 100):
            root = self._xml(self._call("GET", resource, params={
                "filter[id]": "[" + "|".join(wanted[start:start + 100]) + "]", "display": display}))
            for node in root.iter(singular):
                values = {child.tag: (child.text or "").strip() for child in node if len(child) == 0}
                found[values.get("id", "")] = values
        return found

    def addresses(self, ids: set[str]) -> dict[str, dict[str, str]]:
        """The addresses with these ids, by id (100 a request)."""
        return self._by_id("addresses", "address", ids, "full")

    def customers(self, ids: set[str]) -> dict[str, dict[str, str]]:
        """The customers with these ids (name, e-mail, company only), by id."""
        return self._by_id("customers", "customer", ids, "[id,firstname,lastname,email,company]")

    def currencies(self) -> dict[str, str]:
        """The shop's currencies: id to ISO code."""
        root = self._xml(self._call("GET", "currencies", params={"display": "[id,iso_code]"}))
        return {(n.findtext("id") or "").strip(): (n.findtext("iso_code") or "").strip() for n in root.iter("currency")}

    # --- stock and catalogue (availability sync and autolink without database access) -----------

    STOCK_FIELDS = ("id", "id_product", "id_product_attribute", "id_shop", "id_shop_group", "quantity",
                    "depends_on_stock", "out_of_stock", "location")

    def stock_availables(self, id_product: int, id_product_attribute: int) -> list[dict[str, str]]:
        """The stock_available rows (one per shop or shared group) of a product or combination."""
        root = self._xml(self._call("GET", "stock_availables", params={
            "filter[id_product]": f"[{id_product}]", "filter[id_product_attribute]": f"[{id_product_attribute}]",
            "display": "full"}))
        return [{name: (node.findtext(name) or "").strip() for name in self.STOCK_FIELDS
                 if node.find(name) is not None} for node in root.iter("stock_available")]

    def put_stock_available(self, values: dict[str, str]) -> None:
        """Write back a whole stock_available resource (the webservice's PUT replaces it)."""
        fields = "".join(f"<{name}><![CDATA[{escape(str(value))}]]></{name}>" for name, value in values.items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'
                f"<stock_available>{fields}</stock_available></prestashop>")
        self._request("PUT", f"stock_availables/{values['id']}", data=body.encode(),
                      headers={"Content-Type": "application/xml"})

    def catalogue(self) -> list[tuple[str, str, str, str, str]]:
        """(id_product, id_product_attribute, reference, ean13, name) of every product and combination."""
        items = []
        products = self._xml(self._call("GET", "products", params={"display": "[id,reference,ean13,name]"}))
        for node in products.iter("product"):
            items.append(((node.findtext("id") or "").strip(), "0", (node.findtext("reference") or "").strip(),
                          (node.findtext("ean13") or "").strip(), _language_text(node.find("name"), self.language_id)))
        combinations = self._xml(self._call("GET", "combinations",
                                            params={"display": "[id,id_product,reference,ean13]"}))
        for node in combinations.iter("combination"):
            items.append(((node.findtext("id_product") or "").strip(), (node.findtext("id") or "").strip(),
                          (node.findtext("reference") or "").strip(), (node.findtext("ean13") or "").strip(), ""))
        return items

    # --- tracking numbers -----------------------------------------------------------------------

    ORDER_CARRIER_FIELDS = ("id", "id_order", "id_carrier", "id_order_invoice", "weight", "shipping_cost_tax_excl",
                            "shipping_cost_tax_incl", "tracking_number", "date_add")

    def order_carriers(self, external_order_id: str) -> list[dict[str, str]]:
        """The order's order_carrier rows (carrier, weight, tracking number), oldest first."""
        root = self._xml(self._call("GET", "order_carriers", params={
            "filter[id_order]": f"[{external_order_id}]", "display": "full"}))
        rows = [{name: (node.findtext(name) or "").strip() for name in self.ORDER_CARRIER_FIELDS
                 if node.find(name) is not None} for node in root.iter("order_carrier")]
        return sorted(rows, key=lambda row: int(row["id"]) if row.get("id", "").isdigit() else 0)

    def put_order_carrier(self, values: dict[str, str], *, send_email: bool = False) -> None:
        """Write back a whole order_carrier row; with `send_email` the shop mails the customer "in transit".

        Not retried here: a lost answer may hide an applied write (and a sent e-mail); the caller
        re-reads the row before trying again.
        """
        fields = "".join(f"<{name}>{_cdata(value)}</{name}>" for name, value in values.items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'
                f"<order_carrier>{fields}</order_carrier></prestashop>")
        self._request("PUT", f"order_carriers/{values['id']}", params={"sendemail": "1"} if send_email else None,
                      data=body.encode(), headers={"Content-Type": "application/xml"})
