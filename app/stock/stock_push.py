"""Stock to the channels: every change of a linked product's sellable quantity as a `stock_update` outbox row.

Recording (in the stock change's transaction): one operation per (integration, product link), with
the absolute quantity to set; pending ones of one link collapse into the latest (subject "link:<id>").

Delivery (a worker, right after commit, then retries with backoff and jitter): one deliverer per
integration at a time (a Redis lock) takes due operations in batches, re-reads each product's
quantity right before sending (a retry never sends an older wish), and closes each operation from
the channel's own per-offer answer.

- Allegro: quantity change commands grouped by quantity, ended offers ended and resumed
  (app/stock/allegro_push.py).
- PrestaShop: stock_availables quantity through the webservice, or set-based through the database
  driver for shops with a DSN (app/integrations/prestashop/stock_quantities.py).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select

from app.catalog.models import ProductLink
from app.core.events import bus
from app.extensions import db, redis_connection
from app.integrations import services as integrations
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.prestashop import stock_quantities
from app.stock import allegro_push
from app.stock.models import StockSyncAttempt
from app.stock.push_attempts import Heartbeat, Work, attempt, config, failed
from app.stock.warehouses import STOCK_CHANGED, sellable
from app.sync import claims, outbox
from app.sync.models import SyncOperation

STOCK_UPDATE = "stock_update"
STOCK_UPDATES_RECORDED = "stock.updates_recorded"
CHANNELS = ("allegro", "prestashop")


def subject(link_id: int) -> str:
    return f"link:{link_id}"


def stock_links(product_ids: Iterable[int]) -> list[tuple[ProductLink, Integration]]:
    """The links of these products on channels that take stock from Kontor."""
    ids = sorted(set(product_ids))
    found: list[tuple[ProductLink, Integration]] = []
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(select(ProductLink, Integration).join(Integration, ProductLink.integration)
                                  .where(ProductLink.product_id.in_(ids[start:start + 5000]),
                                         Integration.kind.in_(CHANNELS))).all()
        found += [(link, integration) for link, integration in rows if _takes_stock(integration)]
    return found


def _takes_stock(integration: Integration) -> bool:
    return integration.pushes and (integration.settings or {}).get("stock_sync", True) is not False


@bus.subscribe(STOCK_CHANGED, "stock.queue_stock_updates", moment="in_transaction")
def queue_stock_updates(payload: dict) -> None:
    """Write a stock_update per linked channel offer of the changed products, in the change's transaction."""
    record_updates(payload["product_ids"], payload.get("reason", ""), payload.get("taken") or ())


def _already_taken(link: ProductLink, taken: Iterable[tuple[int, int, str]]) -> bool:
    return any(link.integration_id == integration_id and link.product_id == product_id
               and (not offer_id or link.external_product_id == offer_id) for integration_id, product_id, offer_id in taken)


def record_updates(product_ids: Iterable[int], reason: str, taken: Iterable[tuple[int, int, str]] = ()) -> int:
    """Record the current sellable quantity of each link of these products; returns how many operations.

    Offers in `taken` are left out: their platform lowered its own stock when the buyer ordered, so
    writing it back would only echo the platform's change (the 30-minute reconciliation still
    compares them and lists any difference).
    """
    taken = [tuple(t) for t in taken]
    links = [(link, integration) for link, integration in stock_links(product_ids)
             if not _already_taken(link, taken)]
    if not links:
        return 0
    quantities = sellable(sorted({link.product_id for link, _ in links}))
    outbox.record_many(STOCK_UPDATE, [(integration.id, {
        "link_id": link.id, "product_id": link.product_id, "quantity": quantities[link.product_id],
        "offer_id": link.external_product_id, "combination_id": link.external_combination_id, "reason": reason,
    }, subject(link.id)) for link, integration in links])
    integration_ids = {integration.id for _, integration in links}
    # One doorbell per integration instead of one per offer: a batch deliverer drains them all.
    bus.publish(db.session, STOCK_UPDATES_RECORDED, {"integration_ids": sorted(integration_ids)})
    return len(links)


# --- delivery -------------------------------------------------------------------------------

def lock_key(integration_id: int) -> str:
    return f"kontor:stock-sync:lock:{integration_id}"


@outbox.delivers(STOCK_UPDATE)
def deliver_stock_update(operation_id: int) -> str:
    """Deliver a stock update (and every other one due for its integration)."""
    integration_id = db.session.scalar(select(SyncOperation.integration_id).where(SyncOperation.id == operation_id))
    if integration_id is None:
        return "the operation no longer exists"
    return deliver_due(integration_id)


def deliver_due(integration_id: int, max_rounds: int = 1000) -> str:
    """Drain the integration's due stock updates in batches; one worker per integration at a time."""
    lock = redis_connection.client.lock(lock_key(integration_id), timeout=2 * claims.lease_seconds(),
                                        blocking=False)
    totals: Counter = Counter()
    for _ in range(max_rounds):
        if not lock.acquire():
            totals["left to the worker delivering now"] += 1
            break
        try:
            while True:
                operations = claims.claim_batch(STOCK_UPDATE, integration_id, int(config("BATCH")))
                if not operations:
                    break
                totals.update(deliver_batch(integration_id, operations,
                                            Heartbeat(lock, [operation.id for operation in operations])))
                lock.extend(2 * claims.lease_seconds(), replace_ttl=True)
        finally:
            try:
                lock.release()
            except Exception:  # expired under a very long batch: nothing left to release
                pass
        # Something recorded while the lock was held was refused a second job: look once more.
        if not claims.due_count(STOCK_UPDATE, integration_id):
            break
    return ", ".join(f"{count} {state}" for state, count in sorted(totals.items())) or "nothing due"




def deliver_batch(integration_id: int, operations: list[SyncOperation],
                  heartbeat: Heartbeat | None = None) -> Counter:
    """Deliver claimed operations of one integration; every one ends done, failed, skipped or rescheduled."""
    # The batch commits notes before each command; the worker holds these rows' lease, so reloading
    # thousands of them one by one after every commit would only cost time.
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        return _deliver_batch(integration_id, operations, heartbeat or Heartbeat(None, []))
    finally:
        session.expire_on_commit = expire


def _deliver_batch(integration_id: int, operations: list[SyncOperation], heartbeat: Heartbeat) -> Counter:
    integration = db.session.get(Integration, integration_id)
    outcome: Counter = Counter()
    link_ids = [op.payload.get("link_id") for op in operations]
    links = {link.id: link for link in db.session.scalars(select(ProductLink).where(ProductLink.id.in_(
        [i for i in link_ids if isinstance(i, int)])))}
    quantities = sellable(sorted({link.product_id for link in links.values()}))
    work: Work = []
    newest = {op.payload.get("link_id"): op.id for op in operations}  # operations come oldest first
    for operation in operations:
        link = links.get(operation.payload.get("link_id"))
        if newest.get(operation.payload.get("link_id")) != operation.id:
            outbox.finish(operation, "skipped", _l("Superseded by stock update %(id)s of the same offer, which sends "
                                                   "the quantity of now.", id=newest[operation.payload.get("link_id")]))
            outcome["superseded"] += 1
        elif integration is None or not _takes_stock(integration):
            outbox.finish(operation, "skipped", _l("The integration is off or does not take stock from Kontor."))
            outcome["skipped"] += 1
        elif link is None or link.integration_id != integration_id:
            outbox.finish(operation, "skipped", _l("The product link was removed; nothing to update."))
            outcome["skipped"] += 1
        else:
            work.append((operation, link, quantities[link.product_id]))
    attempts: list[dict] = []
    if work:
        if integration.kind == "allegro":
            allegro_push.deliver(integration, work, attempts, outcome, heartbeat)
        else:
            _prestashop(integration, work, attempts, outcome)
    if attempts:
        db.session.execute(insert(StockSyncAttempt), attempts)
    db.session.commit()
    return outcome


# --- PrestaShop -------------------------------------------------------------------------------

def _prestashop(integration: Integration, work: Work, attempts: list[dict], outcome: Counter) -> None:
    dsn = integration.credentials.get("db_dsn") if integration.credentials_encrypted else None
    if dsn:
        _prestashop_database(integration, dsn, work, attempts, outcome)
    else:
        for item in work:
            _prestashop_webservice(integration, item, attempts, outcome)


def _prestashop_database(integration: Integration, dsn: str, work: Work, attempts: list[dict],
                         outcome: Counter) -> None:
    settings = integration.settings.get("database") or {}
    wanted = {(int(link.external_product_id), int(link.external_combination_id or 0)): quantity
              for _, link, quantity in work}
    started = time.perf_counter()
    try:
        report = stock_quantities.set_quantities(dsn, settings.get("prefix", "ps_"),
                                                 settings.get("shop_ids") or [1], wanted)
    except stock_quantities.StockWriteError as error:
        ms = int((time.perf_counter() - started) * 1000)
        for operation, _, _ in work:
            state = failed(operation, PlatformError(error.message) if not error.retryable else error.as_platform(),
                            outcome)
            attempt(attempts, integration, operation, "prestashop database", state, ms, error.message)
        return
    ms = int((time.perf_counter() - started) * 1000)
    for operation, link, quantity in work:
        key = (int(link.external_product_id), int(link.external_combination_id or 0))
        if key in report.missing:
            outbox.fail(operation, _l("PrestaShop has no stock_available row for product %(product)s combination "
                                      "%(combination)s in %(targets)s; check the link.", product=key[0],
                                      combination=key[1], targets=", ".join(report.targets)))
            outcome["failed"] += 1
            attempt(attempts, integration, operation, "prestashop database", "failed", ms, "missing row")
            continue
        how = _l("written") if key in report.changed else _l("already so")
        outbox.finish(operation, "done", _l("PrestaShop product %(product)s/%(combination)s: quantity %(quantity)s "
                                            "(%(how)s).", product=key[0], combination=key[1], quantity=quantity,
                                            how=how))
        outcome["done"] += 1
        attempt(attempts, integration, operation, "prestashop database", "done", ms)


def _prestashop_webservice(integration: Integration, item: tuple[SyncOperation, ProductLink, int],
                           attempts: list[dict], outcome: Counter) -> None:
    operation, link, quantity = item
    product, combination = int(link.external_product_id), int(link.external_combination_id or 0)
    started = time.perf_counter()

    def write(client) -> str:
        rows = client.stock_availables(product, combination)
        if not rows:
            raise PlatformError(f"PrestaShop has no stock_available for product {product} combination "
                                f"{combination}; check the link.")
        changed = [row for row in rows if row.get("quantity") != str(quantity)]
        for row in changed:
            client.put_stock_available({**row, "quantity": str(quantity)})
        return _l("written") if changed else _l("already so")

    try:
        how = integrations.call_platform(integration, write)
    except PlatformError as error:
        state = failed(operation, error, outcome)
        attempt(attempts, integration, operation, "prestashop webservice", state,
                 int((time.perf_counter() - started) * 1000), error.message)
        return
    outbox.finish(operation, "done", _l("PrestaShop product %(product)s/%(combination)s: quantity %(quantity)s "
                                        "(%(how)s).", product=product, combination=combination, quantity=quantity,
                                        how=how))
    outcome["done"] += 1
    attempt(attempts, integration, operation, "prestashop webservice", "done",
             int((time.perf_counter() - started) * 1000))


