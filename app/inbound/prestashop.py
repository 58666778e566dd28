"""PrestaShop orders coming in: every 10 minutes, the orders changed since the last one seen.

Through the webservice: `filter[date_upd]=[from,to]&date=1&display=full`, paged with
`limit=offset,count`, from the last seen date_upd minus a 5-minute overlap (a change saved while
the last import ran is not missed); addresses and customers are read 100 a request. From the
database (shops that gave a DSN): the same orders, set-based, after the last (date_upd, id_order).
Each order is stored raw in the inbound ledger, deduplicated by (integration, id, date_upd), and
applied by batch jobs; the cursor moves only once the orders are stored.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l

from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.inbound import ledger, runs
from app.integrations import progress, services as integrations
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.prestashop import order_import
from app.integrations.prestashop.database import PrestaShopDatabase
from app.integrations.prestashop.webservice import PrestaShopWebservice

KIND = "prestashop"
TOPIC = "order"
CURSOR = "prestashop_orders_date_upd"  # "<date_upd>|<id_order>" of the last order stored
OVERLAP = timedelta(minutes=5)
DEFAULT_DAYS_BACK = 7
SHOP_TIME = "%Y-%m-%d %H:%M:%S"
DB_PAGE = 500


def _shop_time(value: object) -> bool:
    """Whether a date_upd is a real shop time (not garbled, not PrestaShop's zero date)."""
    try:
        return datetime.strptime(str(value), SHOP_TIME).year > 1
    except ValueError:
        return False


def _cursor(integration: Integration, since: datetime | None) -> tuple[str, int]:
    if since is not None:
        return since.astimezone(timezone.utc).strftime(SHOP_TIME), 0
    value = progress.cursors(integration.id).get(CURSOR)
    if value:
        date_upd, _, order_id = value.partition("|")
        return date_upd, int(order_id or 0)
    days = int((integration.settings or {}).get("import_days") or DEFAULT_DAYS_BACK)
    return (utcnow() - timedelta(days=days)).strftime(SHOP_TIME), 0


def _store(integration: Integration, documents: list[dict], counts: dict[str, int], run_id: int) -> None:
    deliveries = [ledger.Delivery(f"order:{d['order']['id']}:{d['order'].get('date_upd', '')}", json.dumps(d).encode(),
                                  topic=TOPIC, resource_id=str(d["order"]["id"])) for d in documents]
    new = ledger.record_many(integration.id, KIND, deliveries, hold=timedelta(minutes=2), batch=True, run_id=run_id)
    counts["orders"] += len(documents)
    counts["new"] += len(new)
    counts["known"] += len(documents) - len(new)


def _through_webservice(integration: Integration, date_upd: str, counts: dict[str, int], run_id: int) -> str:
    since = (datetime.strptime(date_upd, SHOP_TIME) - OVERLAP).strftime(SHOP_TIME)
    until = (utcnow() + timedelta(days=2)).strftime(SHOP_TIME)  # the shop's clock may run hours ahead of UTC
    latest = date_upd

    def read(client: PrestaShopWebservice) -> None:
        nonlocal latest
        currencies = client.currencies()
        offset = 0
        while True:
            page = client.changed_orders(since, until, offset)
            if not page:
                return
            read_count = len(page)
            page = [d for d in page if isinstance(d.get("order"), dict) and str(d["order"].get("id") or "").strip()]
            if len(page) < read_count:  # an order without its id cannot be told apart from another
                counts["skipped"] = counts.get("skipped", 0) + read_count - len(page)
            addresses = client.addresses({d["order"].get(k, "") for d in page
                                          for k in ("id_address_delivery", "id_address_invoice")})
            customers = client.customers({d["order"].get("id_customer", "") for d in page})
            for document in page:
                order = document["order"]
                document.update(delivery=addresses.get(order.get("id_address_delivery", "")),
                                invoice=addresses.get(order.get("id_address_invoice", "")),
                                customer=customers.get(order.get("id_customer", "")),
                                currency=currencies.get(order.get("id_currency", ""), ""))
                if _shop_time(order.get("date_upd")):  # a garbled date must not become the cursor
                    latest = max(latest, order["date_upd"])
            _store(integration, page, counts, run_id)
            db.session.commit()
            if read_count < client.ORDERS_PAGE:
                return
            offset += read_count

    integrations.call_platform(integration, read)
    return f"{latest}|0"


def _through_database(integration: Integration, dsn: str, date_upd: str, order_id: int,
                      counts: dict[str, int], run_id: int) -> str:
    settings = integration.settings or {}
    currency = settings.get("currency") or "PLN"
    database = settings.get("database") or {}
    with PrestaShopDatabase(dsn, database.get("prefix") or "ps_") as shop:
        while True:
            page = order_import.changed_orders(shop, date_upd, order_id, DB_PAGE, shop_ids=database.get("shop_ids"))
            if not page:
                break
            for document in page:
                document["currency"] = currency
            _store(integration, page, counts, run_id)
            date_upd, order_id = page[-1]["order"]["date_upd"], int(page[-1]["order"]["id"])
            # The cursor moves with each stored page: a run that dies goes on from here next time.
            progress.set_cursor(integration.id, CURSOR, f"{date_upd}|{order_id}")
            db.session.commit()
            if len(page) < DB_PAGE:
                break
    return f"{date_upd}|{order_id}"


def import_orders(integration_id: int, since: datetime | None = None) -> dict[str, int]:
    """Store every order the shop changed since the last import (or `since`) in the ledger; the counts."""
    integration = integrations.get_integration(integration_id)
    if integration.kind != "prestashop":
        raise ValidationFailed(_l("%(name)s is not a PrestaShop shop.", name=integration.name))
    started = utcnow()
    counts = {"orders": 0, "new": 0, "known": 0}
    date_upd, order_id = _cursor(integration, since)
    dsn = integration.credentials.get("db_dsn")
    run = runs.start(integration.id, "order_import", started)
    try:
        if dsn:
            cursor = _through_database(integration, dsn, date_upd, order_id, counts, run.id)
        else:
            cursor = _through_webservice(integration, date_upd, counts, run.id)
    except (PlatformError, ValueError) as error:
        db.session.rollback()
        message = getattr(error, "message", str(error))
        run.ok, run.finished_at, run.counts = False, utcnow(), counts
        run.say(message)
        db.session.commit()
        raise error if isinstance(error, PlatformError) else PlatformError(message)
    if since is None or cursor > progress.cursors(integration.id).get(CURSOR, ""):
        progress.set_cursor(integration.id, CURSOR, cursor)
    run.counts, run.finished_at = counts, utcnow()
    said = {"orders": counts["orders"], "since": date_upd, "new": counts["new"], "skipped": (
        _l("; %(skipped)s skipped: the shop sent them without an order id", skipped=counts["skipped"])
        if counts.get("skipped") else "")}
    if dsn:
        run.say(_l("%(orders)s orders changed since %(since)s (shop time) read from the database, %(new)s new to "
                   "Kontor%(skipped)s", **said))
    else:
        run.say(_l("%(orders)s orders changed since %(since)s (shop time) read from the webservice, %(new)s new to "
                   "Kontor%(skipped)s", **said))
    db.session.commit()
    return runs.RunCounts(run.id, counts)


def import_all() -> dict[str, str]:
    """Import the changed orders of every enabled PrestaShop shop; one shop's failure stops no other."""
    outcomes = {}
    for integration in integrations.list_integrations():
        if integration.kind != "prestashop" or not integration.enabled:
            continue
        try:
            counts = import_orders(integration.id)
            outcomes[integration.name] = f"{counts['orders']} changed, {counts['new']} new"
        except PlatformError as error:
            outcomes[integration.name] = f"failed: {error.message}"
    return outcomes
