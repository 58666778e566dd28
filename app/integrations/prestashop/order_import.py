"""Reading changed orders straight from a PrestaShop database: read-only, set-based, by date_upd then id.

One page is five queries whatever its size: the orders after the (date_upd, id_order) cursor, then
their rows, addresses, customers, state names and last history entries, each with one IN list.
The session is read-only, so nothing here can change the shop. Orders come out in the plain shape
app.integrations.prestashop.mapping reads (the webservice reader produces the same).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.integrations.prestashop.database import PrestaShopDatabase, PrestaShopDatabaseError

ORDER_COLUMNS = ("id_order", "reference", "current_state", "id_customer", "id_address_delivery", "id_address_invoice",
                 "payment", "module", "total_paid", "total_paid_tax_incl", "total_paid_real",
                 "total_shipping_tax_incl", "total_discounts_tax_incl", "date_add", "date_upd", "note")
ROW_COLUMNS = ("id_order_detail", "id_order", "product_id", "product_attribute_id", "product_name", "product_quantity",
               "product_reference", "product_ean13", "unit_price_tax_incl", "tax_rate")
ADDRESS_COLUMNS = ("id_address", "company", "firstname", "lastname", "address1", "address2", "postcode", "city",
                   "phone", "phone_mobile", "vat_number")
CUSTOMER_COLUMNS = ("id_customer", "firstname", "lastname", "email", "company")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _select(conn: sa.Connection, table: str, columns: tuple[str, ...], key: str, ids: set) -> list[dict[str, str]]:
    if not ids:
        return []
    statement = sa.text(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN :ids").bindparams(
        sa.bindparam("ids", expanding=True))
    return [{k: _text(v) for k, v in row.items()} for row in conn.execute(statement, {"ids": sorted(ids)}).mappings()]


def changed_orders(shop: PrestaShopDatabase, after_date: str, after_id: int, limit: int = 500,
                   language_id: int | None = None, shop_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The next `limit` orders changed after (date_upd, id_order), oldest change first, with everything attached.

    With `shop_ids`, only those shops' orders (a multistore database holds every shop's).
    """
    in_shops = f" AND id_shop IN ({', '.join(str(int(s)) for s in shop_ids)})" if shop_ids else ""
    try:
        with shop.engine.connect() as conn:
            conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            orders = [{k: _text(v) for k, v in row.items()} for row in conn.execute(sa.text(
                f"SELECT {', '.join(ORDER_COLUMNS)} FROM {shop.table('orders')}"
                " WHERE (date_upd > :after_date OR (date_upd = :after_date AND id_order > :after_id))"
                f"{in_shops} ORDER BY date_upd, id_order LIMIT :limit"),
                {"after_date": after_date, "after_id": after_id, "limit": limit}).mappings()]
            if not orders:
                return []
            ids = {int(o["id_order"]) for o in orders}
            rows = _select(conn, shop.table("order_detail"), ROW_COLUMNS, "id_order", ids)
            addresses = {a["id_address"]: a for a in _select(
                conn, shop.table("address"), ADDRESS_COLUMNS, "id_address",
                {int(o[k]) for o in orders for k in ("id_address_delivery", "id_address_invoice") if o[k] not in ("", "0")})}
            customers = {c["id_customer"]: c for c in _select(
                conn, shop.table("customer"), CUSTOMER_COLUMNS, "id_customer",
                {int(o["id_customer"]) for o in orders if o["id_customer"] not in ("", "0")})}
            history = _select(conn, shop.table("order_history"), ("id_order_history", "id_order", "id_order_state",
                                                                   "date_add"), "id_order", ids)
            language = language_id or int(conn.execute(sa.text(
                f"SELECT value FROM {shop.table('configuration')} WHERE name = 'PS_LANG_DEFAULT' LIMIT 1")).scalar() or 1)
            last_state = {}
            for entry in sorted(history, key=lambda h: (h["date_add"], int(h["id_order_history"]))):
                last_state[entry["id_order"]] = entry["id_order_state"]
            states = {o["current_state"] if o["current_state"] not in ("", "0") else last_state.get(o["id_order"], "")
                      for o in orders}
            names = dict(conn.execute(sa.text(
                f"SELECT id_order_state, name FROM {shop.table('order_state_lang')}"
                " WHERE id_lang = :lang AND id_order_state IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                {"lang": language, "ids": sorted(int(s) for s in states if s) or [0]}).all())
    except sa.exc.DBAPIError as error:
        raise PrestaShopDatabaseError(f"Reading orders from the shop's database failed: {error.orig}") from error
    by_order: dict[str, list[dict[str, str]]] = {}
    for row in sorted(rows, key=lambda r: int(r["id_order_detail"])):
        by_order.setdefault(row["id_order"], []).append({**row, "id": row["id_order_detail"]})
    documents = []
    for order in orders:
        state = order["current_state"] if order["current_state"] not in ("", "0") else last_state.get(order["id_order"], "")
        documents.append({
            "order": {**order, "id": order["id_order"], "current_state": state},
            "rows": by_order.get(order["id_order"], []), "delivery": addresses.get(order["id_address_delivery"]),
            "invoice": addresses.get(order["id_address_invoice"]), "customer": customers.get(order["id_customer"]),
            "state_name": names.get(int(state)) if state.isdigit() else "",
        })
    return documents
