"""A fake PrestaShop webservice (/api/...) speaking PrestaShop's XML, with fault injection.

Shapes and messages follow the recorded PrestaShop 1.6.1 bodies in
tests/fixtures/prestashop/webservice and classes/webservice/WebserviceRequest.php (auth
errors 16-21, "Id(s) not exists" 87, POST checks 41/91, XML error 127, 405 code 25, headers).
Two deliberate simplifications, both for the status push: an order_histories POST for an order
that does not exist answers 404, and one for an order state that does not exist answers 400
(a real shop fails later and less predictably on both).
"""

from __future__ import annotations

import base64
import csv
import difflib
import functools
import hashlib
import re
import time
from datetime import datetime
from http import HTTPStatus
from urllib.parse import unquote

from defusedxml import ElementTree
from werkzeug.wrappers import Request, Response

from tests.fakes import fixture_path
from tests.fakes.prestashop_orders import OrderFilter
from tests.fakes.server import FakeServer, with_retry_after

DEFAULT_API_KEY = "KONTORTESTKEY0123456789ABCDEFGHI"  # PrestaShop keys are 32 characters
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"
REALM = ('Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as the login. '
         'No password required."')
STATE_FIELDS = ("unremovable", "delivery", "hidden", "send_email", "module_name", "invoice", "color", "logable",
                "shipped", "paid", "pdf_delivery", "pdf_invoice", "deleted")
RESOURCES = {"order_states": ("GET",), "orders": ("GET",), "order_histories": ("GET", "POST"),
             "order_carriers": ("GET", "PUT"), "addresses": ("GET",), "customers": ("GET",), "currencies": ("GET",)}
# OrderCarrier's webservice fields (classes/order/OrderCarrier.php), in the order the shop lists them.
ORDER_CARRIER_FIELDS = ("id", "id_order", "id_carrier", "id_order_invoice", "weight", "shipping_cost_tax_excl",
                        "shipping_cost_tax_incl", "tracking_number", "date_add")
ORDER_CARRIER_LINKS = {"id_order": "orders", "id_carrier": "carriers"}
# Validate::isTrackingNumber; the column holds 64 characters.
TRACKING_NUMBER = re.compile(r"^[~:#,%&_=\(\)\[\]\.\? \+\-@/a-zA-Z0-9]+$")
# Other resource names a real shop lists, for its "Did you mean" message.
OTHER_RESOURCES = ("carriers", "carts", "categories", "combinations", "countries", "languages", "order_details", "order_invoices",
                   "order_payments", "products", "shops", "stock_availables")

# Test data made up for these tests, not PrestaShop's own Polish translation.
POLISH_STATE_NAMES = {
    "1": "Oczekiwanie na płatność czekiem", "2": "Płatność zaakceptowana", "3": "Przygotowanie w toku",
    "4": "Wysłane", "5": "Dostarczone", "6": "Anulowane", "7": "Zwrot pieniędzy", "8": "Błąd płatności",
    "9": "Brak towaru (opłacone)", "10": "Oczekiwanie na przelew", "11": "Płatność zdalna zaakceptowana",
    "12": "Brak towaru (nieopłacone)", "13": "Oczekiwanie na potwierdzenie płatności przy odbiorze",
}


@functools.cache
def default_states() -> tuple[dict[str, str], ...]:
    """PrestaShop's 13 default order states (order_states_default.csv), with made-up Polish names."""
    with fixture_path("prestashop", "order_states_default.csv").open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return tuple(_state_from_csv(row) for row in rows)


def _state_from_csv(row: dict[str, str]) -> dict:
    state_id = row["id_order_state"]
    state = {field: row[field] or "0" for field in STATE_FIELDS if field in row}
    state.update(id=state_id, module_name=row["module_name"], deleted="0",
                 name={"1": row["name_en"], "2": POLISH_STATE_NAMES[state_id]},
                 template={"1": row["template_en"], "2": row["template_en"]})
    return state


@functools.cache
def _order_template() -> str:
    return fixture_path("prestashop", "webservice", "order_get_5_response.ps16123-recorded.xml").read_text("utf-8")


def cdata(value: object) -> str:
    """A CDATA section holding `value` (split where the value itself contains ']]>')."""
    return "<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


class FakePrestaShop(OrderFilter, FakeServer):
    """A shop whose webservice serves order states, orders and order histories.

    `orders` maps order id to its current state id; every POST to order_histories lands in
    `history_posts` ({id, order_id, state_id, sendemail, at}) and, with sendemail=1 and a state that
    mails, in `emails` ({order_id, state_id, template}). Each order has an order_carrier row in
    `order_carriers` (id -> fields); every accepted PUT of one lands in `carrier_puts` ({id, order_id,
    tracking_number, sendemail, at}) and, with sendemail=1, an "in_transit" mail in `emails`.
    Read or change state under `lock`.
    """

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, version: str = "8.1.7",
                 languages: dict[str, str] | None = None, **fault_options) -> None:
        super().__init__(**fault_options)
        self.api_key = api_key
        self.version = version
        self.languages = languages or {"1": "en", "2": "pl"}
        self.states: dict[str, dict] = {state["id"]: _copy_state(state) for state in default_states()}
        self.orders: dict[str, str] = {}
        self.history_posts: list[dict] = []
        self.emails: list[dict] = []
        self.order_carriers: dict[str, dict[str, str]] = {}
        self.carrier_puts: list[dict] = []
        self._updated: dict[str, str] = {}
        self._init_order_filter()

    @property
    def url(self) -> str:
        """The shop's base URL (the webservice is under /api)."""
        return self.base_url

    def add_order(self, order_id: str | int | None = None, state: str | int = "10", *, carrier: bool = True) -> str:
        """Put an order in the shop in `state` (default 10, awaiting bank wire); returns its id.

        With `carrier` (the default) the order has an order_carrier row without a tracking number.
        """
        with self.lock:
            order_id = str(order_id or max((int(key) for key in self.orders), default=0) + 1)
            self.orders[order_id] = str(state)
            if carrier:
                row_id = str(max((int(key) for key in self.order_carriers), default=0) + 1)
                self.order_carriers[row_id] = {
                    "id": row_id, "id_order": order_id, "id_carrier": "2", "id_order_invoice": "0",
                    "weight": "0.000000", "shipping_cost_tax_excl": "7.000000", "shipping_cost_tax_incl": "8.610000",
                    "tracking_number": "", "date_add": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
            return order_id

    def tracking_numbers(self, order_id: str) -> list[str]:
        """The tracking numbers on the order's order_carrier rows (empty ones left out)."""
        with self.lock:
            return [row["tracking_number"] for row in self.order_carriers.values()
                    if row["id_order"] == str(order_id) and row["tracking_number"]]

    def add_state(self, state_id: str | int, names: dict[str, str], *, color: str = "#34209E",
                  deleted: bool = False, send_email: bool = False, template: str = "") -> None:
        """Add (or replace) an order state; `names` maps language id to name."""
        with self.lock:
            base = _copy_state(default_states()[0])
            base.update(id=str(state_id), color=color, deleted="1" if deleted else "0",
                        send_email="1" if send_email else "0", module_name="",
                        name=dict(names), template={language: template for language in names})
            self.states[str(state_id)] = base

    # --- request handling --------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        started = time.time()
        path = request.path
        if path != "/api" and not path.startswith("/api/"):
            return Response("Not Found", status=404, content_type="text/html")
        errors = self._authentication_errors(request)
        if errors:
            response = self._errors(401, errors, started, authenticated=False)
            response.headers["WWW-Authenticate"] = REALM
            return response
        return self._route(request, [unquote(part) for part in path[len("/api"):].strip("/").split("/")], started)

    def _authentication_errors(self, request: Request) -> list[tuple[int, str]]:
        key = self._key(request)
        if key is None:
            return [(16, "Please enter the authentication key as the login. No password required")]
        key = key.strip()
        if not key:
            return [(17, "Authentication key is empty")]
        if len(key) != 32:
            return [(18, "Invalid authentication key format")]
        if key != self.api_key:
            return [(20, "Authentification key is not active"), (21, "No permission for this authentication key")]
        return []

    @staticmethod
    def _key(request: Request) -> str | None:
        if "ws_key" in request.args:
            return request.args["ws_key"]
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            return base64.b64decode(header[6:]).decode("utf-8").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return None

    def _route(self, request: Request, segments: list[str], started: float) -> Response:
        resource = segments[0] if segments else ""
        if resource not in RESOURCES:
            return self._errors(400, [(27, _unknown_resource(resource))], started)
        if request.method not in RESOURCES[resource]:
            message = f"Method {request.method} is not allowed for the resource {resource} with this authentication key"
            return self._errors(405, [(25, message)], started)
        object_id = segments[1] if len(segments) > 1 and segments[1] else None
        if resource == "order_histories" and request.method == "POST":
            return self._post_order_history(request, started)
        if resource == "order_carriers" and request.method == "PUT":
            return self._put_order_carrier(request, object_id, started)
        if resource == "order_carriers":
            return self._get_order_carriers(request, object_id, started)
        if resource == "order_states":
            return self._get_states(request, object_id, started)
        if resource == "orders" and object_id:
            return self._get_order(object_id, started)
        if resource == "orders" and (self.order_data or "filter[date_upd]" in request.args):
            return self._list_orders_filtered(request, started, XML_HEAD, XML_TAIL, _limited)
        if resource == "orders":
            return self._list_links("orders", "order", self.orders, started)
        if resource == "addresses":
            return self._list_by_id(request, started, "addresses", "address", self.addresses, XML_HEAD, XML_TAIL)
        if resource == "customers":
            return self._list_by_id(request, started, "customers", "customer", self.customers, XML_HEAD, XML_TAIL)
        if resource == "currencies":
            return self._list_currencies(started, XML_HEAD, XML_TAIL)
        return self._list_links("order_histories", "order_history",
                                [str(post["id"]) for post in self.history_posts], started)

    # --- order states ------------------------------------------------------------------------

    def _get_states(self, request: Request, object_id: str | None, started: float) -> Response:
        languages = self._languages(request)
        if object_id is not None:
            state = self.states.get(object_id)
            if state is None:
                return self._errors(404, [(87, f"Id(s) not exists: {object_id}")], started)
            return self._ok(XML_HEAD + self._state_xml(state, None, languages) + XML_TAIL, started)
        states = _limited(sorted(self.states.values(), key=lambda s: int(s["id"])), request.args.get("limit"))
        display = request.args.get("display")
        if display is None:
            return self._list_links("order_states", "order_state", [s["id"] for s in states], started)
        fields = _display_fields(display)
        available = ("id", *STATE_FIELDS, "name", "template")
        unknown = [field for field in fields or () if field not in available]
        if unknown:
            message = (f'Unable to display this field "{unknown[0]}". '
                       f'However, these are available: {", ".join(available)}')
            return self._errors(400, [(35, message)], started)
        items = "".join(self._state_xml(state, fields, languages) for state in states)
        return self._ok(XML_HEAD + f"<order_states>\n{items}</order_states>\n" + XML_TAIL, started)

    def _state_xml(self, state: dict, fields: list[str] | None, languages: list[str]) -> str:
        lines = []
        for field in ("id", *STATE_FIELDS, "name", "template"):
            if fields is not None and field not in fields:
                continue
            value = state[field]
            if isinstance(value, dict):
                lines.append(f"\t<{field}>{self._languages_xml(value, languages)}</{field}>")
            else:
                lines.append(f"\t<{field}>{cdata(value) if value != '' else ''}</{field}>")
        return "<order_state>\n" + "\n".join(lines) + "\n</order_state>\n"

    def _languages_xml(self, values: dict[str, str], languages: list[str]) -> str:
        return "".join(f'<language id="{language}" xlink:href="{self.url}/api/languages/{language}">'
                       f"{cdata(values.get(language, ''))}</language>" for language in languages)

    def _languages(self, request: Request) -> list[str]:
        wanted = request.args.get("language", "")
        digits = re.fullmatch(r"\[?(\d+)\]?", wanted)
        if digits and digits.group(1) in self.languages:
            return [digits.group(1)]
        return list(self.languages)

    # --- orders ------------------------------------------------------------------------------

    def _get_order(self, order_id: str, started: float) -> Response:
        if order_id not in self.orders:
            return self._errors(404, [(87, f"Id(s) not exists: {order_id}")], started)
        return self._ok(self._order_xml(order_id), started)

    def _order_xml(self, order_id: str) -> str:
        state = self.orders[order_id]
        xml = _order_template().replace("http://172.30.0.5/api/", f"{self.url}/api/")
        xml = xml.replace("<order>\n\t<id><![CDATA[5]]></id>", f"<order>\n\t<id>{cdata(order_id)}</id>", 1)
        xml = re.sub(r"<current_state xlink:href=\"[^\"]*\">.*?</current_state>",
                     f'<current_state xlink:href="{self.url}/api/order_states/{state}">{cdata(state)}</current_state>',
                     xml, count=1)
        if order_id in self._updated:
            xml = re.sub(r"<date_upd>.*?</date_upd>", f"<date_upd>{cdata(self._updated[order_id])}</date_upd>", xml)
        return xml

    # --- order histories ---------------------------------------------------------------------

    def _post_order_history(self, request: Request, started: float) -> Response:
        body = request.form.get("xml") or request.get_data(as_text=True)
        try:
            entity = ElementTree.fromstring(body).find("order_history")
        except Exception as error:  # PrestaShop reports unreadable XML as a 500 with code 127
            message = f"XML error : {error}\nXML length : {len(body)}\nOriginal XML : {body}"
            return self._errors(500, [(127, message)], started)
        if entity is None:
            return self._errors(400, [(41, 'parameter "id_order" required')], started)
        if (entity.findtext("id") or "").strip():
            return self._errors(400, [(91, "id is forbidden when adding a new resource")], started)
        values = {name: (entity.findtext(name) or "").strip() for name in ("id_order", "id_order_state")}
        for name, value in values.items():
            if not value:
                return self._errors(400, [(41, f'parameter "{name}" required')], started)
        if values["id_order"] not in self.orders:
            return self._errors(404, [(87, f"Id(s) not exists: {values['id_order']}")], started)
        if values["id_order_state"] not in self.states:
            message = 'Validation error: "Property OrderHistory->id_order_state is not valid"'
            return self._errors(400, [(85, message)], started)
        history = self._record_history(values["id_order"], values["id_order_state"],
                                       request.args.get("sendemail", "") not in ("", "0"))
        return self._ok(self._history_xml(history), started, status=201)

    def _record_history(self, order_id: str, state_id: str, sendemail: bool) -> dict:
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        history = {"id": len(self.history_posts) + 1, "order_id": order_id, "state_id": state_id,
                   "sendemail": sendemail, "at": time.time(), "date_add": now}
        self.history_posts.append(history)
        self.orders[order_id] = state_id
        self._updated[order_id] = now
        state = self.states[state_id]
        if sendemail and state["send_email"] == "1":
            self.emails.append({"order_id": order_id, "state_id": state_id, "template": state["template"]["1"]})
        return history

    def _history_xml(self, history: dict) -> str:
        return (XML_HEAD + "<order_history>\n"
                f"\t<id>{cdata(history['id'])}</id>\n"
                f"\t<id_employee>{cdata(0)}</id_employee>\n"
                f'\t<id_order_state xlink:href="{self.url}/api/order_states/{history["state_id"]}">'
                f"{cdata(history['state_id'])}</id_order_state>\n"
                f'\t<id_order xlink:href="{self.url}/api/orders/{history["order_id"]}">'
                f"{cdata(history['order_id'])}</id_order>\n"
                f"\t<date_add>{cdata(history['date_add'])}</date_add>\n"
                "</order_history>\n" + XML_TAIL)

    # --- order carriers ----------------------------------------------------------------------

    def _get_order_carriers(self, request: Request, object_id: str | None, started: float) -> Response:
        if object_id is not None:
            row = self.order_carriers.get(object_id)
            if row is None:
                return self._errors(404, [(87, f"Id(s) not exists: {object_id}")], started)
            return self._ok(XML_HEAD + self._order_carrier_xml(row) + XML_TAIL, started)
        rows = sorted(self.order_carriers.values(), key=lambda row: int(row["id"]))
        wanted = request.args.get("filter[id_order]")
        if wanted is not None:
            rows = [row for row in rows if row["id_order"] == wanted.strip("[]")]
        if request.args.get("display") != "full":
            return self._list_links("order_carriers", "order_carrier", [row["id"] for row in rows], started)
        items = "".join(self._order_carrier_xml(row) for row in rows)
        return self._ok(XML_HEAD + f"<order_carriers>\n{items}</order_carriers>\n" + XML_TAIL, started)

    def _order_carrier_xml(self, row: dict[str, str]) -> str:
        lines = []
        for name in ORDER_CARRIER_FIELDS:
            link = ORDER_CARRIER_LINKS.get(name)
            href = f' xlink:href="{self.url}/api/{link}/{row[name]}"' if link else ""
            lines.append(f"\t<{name}{href}>{cdata(row[name])}</{name}>")
        return "<order_carrier>\n" + "\n".join(lines) + "\n</order_carrier>\n"

    def _put_order_carrier(self, request: Request, object_id: str | None, started: float) -> Response:
        body = request.get_data(as_text=True)
        try:
            entity = ElementTree.fromstring(body).find("order_carrier")
        except Exception as error:  # PrestaShop reports unreadable XML as a 500 with code 127
            message = f"XML error : {error}\nXML length : {len(body)}\nOriginal XML : {body}"
            return self._errors(500, [(127, message)], started)
        given_id = (entity.findtext("id") or "").strip() if entity is not None else ""
        if entity is None or not given_id:
            return self._errors(400, [(90, "id is required when modifying a resource")], started)
        if object_id is not None and given_id != object_id:
            return self._errors(400, [(89, "id is invalid")], started)
        row = self.order_carriers.get(given_id)
        if row is None:
            return self._errors(404, [(87, f"Id(s) not exists: {given_id}")], started)
        values = {name: (entity.findtext(name) or "").strip() for name in ORDER_CARRIER_FIELDS
                  if entity.find(name) is not None}
        for name in ("id_order", "id_carrier"):
            if not values.get(name):
                message = f'Validation error: "Property OrderCarrier->{name} is empty"'
                return self._errors(400, [(85, message)], started)
        number = values.get("tracking_number", "")
        if number and (len(number) > 64 or not TRACKING_NUMBER.match(number)):
            message = 'Validation error: "Property OrderCarrier->tracking_number is not valid"'
            return self._errors(400, [(85, message)], started)
        # A PUT replaces the resource: fields left out are emptied, as the shop's update does.
        row.update({name: values.get(name, "") for name in ORDER_CARRIER_FIELDS if name != "id"})
        sendemail = request.args.get("sendemail", "") not in ("", "0")
        self.carrier_puts.append({"id": given_id, "order_id": row["id_order"], "tracking_number": number,
                                  "sendemail": sendemail, "at": time.time()})
        if sendemail:
            self.emails.append({"order_id": row["id_order"], "state_id": None, "template": "in_transit",
                                "tracking_number": number})
        return self._ok(XML_HEAD + self._order_carrier_xml(row) + XML_TAIL, started)

    # --- responses ---------------------------------------------------------------------------

    def _list_links(self, plural: str, singular: str, ids, started: float) -> Response:
        items = "".join(f'<{singular} id="{i}" xlink:href="{self.url}/api/{plural}/{i}"/>\n' for i in ids)
        return self._ok(XML_HEAD + f"<{plural}>\n{items}</{plural}>\n" + XML_TAIL, started)

    def _ok(self, xml: str, started: float, status: int = 200) -> Response:
        response = self._xml_response(xml, status, started, authenticated=True)
        response.headers["Content-Sha1"] = hashlib.sha1(xml.encode("utf-8")).hexdigest()
        return response

    def _errors(self, status: int, errors: list[tuple[int, str]], started: float, *,
                authenticated: bool = True) -> Response:
        return self._xml_response(error_xml(errors), status, started, authenticated=authenticated)

    def _xml_response(self, xml: str, status: int, started: float, *, authenticated: bool) -> Response:
        response = Response(xml, status=status, content_type="text/xml;charset=utf-8")
        response.headers.update({"Access-Time": str(int(time.time())), "X-Powered-By": "PrestaShop Webservice",
                                 "Execution-Time": f"{time.time() - started:.3f}"})
        if authenticated:  # PrestaShop reveals its version to authenticated callers only
            response.headers["PSWS-Version"] = self.version
        return response

    def error_response(self, status: int, retry_after: float | str | None) -> Response:
        """A 500 from PHP as webservice XML; other statuses as the web server's HTML page."""
        if status == 500:
            response = Response(error_xml([(2, "[PHP Error #1] Injected failure (FakePrestaShop)")]), status=500,
                                content_type="text/xml;charset=utf-8")
        else:
            title = f"{status} {HTTPStatus(status).phrase}"
            page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>"
                    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
            response = Response(page, status=status, content_type="text/html")
        return with_retry_after(response, retry_after)


def error_xml(errors: list[tuple[int, str]]) -> str:
    """PrestaShop's <errors> body."""
    items = "".join(f"<error>\n<code>{cdata(code)}</code>\n<message>{cdata(message)}</message>\n</error>\n"
                    for code, message in errors)
    return XML_HEAD + f"<errors>\n{items}</errors>\n" + XML_TAIL


def _copy_state(state: dict) -> dict:
    return {key: dict(value) if isinstance(value, dict) else value for key, value in state.items()}


def _unknown_resource(resource: str) -> str:
    names = sorted([*RESOURCES, *OTHER_RESOURCES])
    closest = (difflib.get_close_matches(resource, names, n=1, cutoff=0) or names[:1])[0]
    full_list = '", "'.join(names)
    return f'Resource of type "{resource}" does not exists. Did you mean: "{closest}"? The full list is: "{full_list}"'


def _display_fields(display: str) -> list[str] | None:
    """None for display=full; the field names for display=[a,b]."""
    if display == "full":
        return None
    return [field.strip() for field in display.strip("[]").split(",") if field.strip()]


def _limited(items: list, limit: str | None) -> list:
    if not limit:
        return items
    parts = [int(part) for part in limit.split(",") if part.strip().isdigit()]
    offset, count = (parts[0], parts[1]) if len(parts) == 2 else (0, parts[0] if parts else len(items))
    return items[offset:offset + count]
