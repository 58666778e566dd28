"""Stock to the channels: every change of a linked product's sellable quantity as a `stock_update` outbox row.

Recording (in the stock change's transaction): one operation per (integration, product link), with
the absolute quantity to set; pending ones of one link collapse into the latest (subject "link:<id>").

Delivery (a worker, right after commit, then retries with backoff and jitter): one deliverer per
integration at a time (a Redis lock) takes due operations in batches, re-reads each product's
quantity right before sending (a retry never sends an older wish), and closes each operation from
the channel's own per-offer answer.

- Allegro: PUT /sale/offer-quantity-change-commands/{commandId} with FIXED, one command per group of
  offers that get the same quantity (up to 1000). The command id is derived from the operations it
  carries and noted on them before sending, so a retry re-sends the same command, which Allegro
  refuses as already used (409) instead of applying twice; its tasks report closes each operation.
  An offer with nothing left to sell is ended (publication command END): Allegro takes no 0.
- PrestaShop: stock_availables quantity through the webservice, or set-based through the database
  driver for shops with a DSN (app/integrations/prestashop/stock_quantities.py).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from flask import current_app
from sqlalchemy import insert, select

from app.catalog.models import ProductLink
from app.core.events import bus
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.integrations import services as integrations
from app.integrations.allegro.offers import OFFERS_PER_COMMAND, AllegroOffers, OfferTask
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.integrations.prestashop import stock_quantities
from app.stock.models import StockSyncAttempt
from app.stock.warehouses import STOCK_CHANGED, sellable
from app.sync import outbox
from app.sync.outbox import SyncOperation

STOCK_UPDATE = "stock_update"
STOCK_UPDATES_RECORDED = "stock.updates_recorded"
CHANNELS = ("allegro", "prestashop")
COMMAND_NAMESPACE = uuid.UUID("6f1c7c36-51a5-4cde-9a39-5c7f0b7d2a10")
# Allegro's limits per client: requests per minute and offer changes per hour.
ALLEGRO_REQUESTS_PER_MINUTE = 9000
ALLEGRO_CHANGES_PER_HOUR = 250_000
TASK_WAITS = (0, 0.2, 0.5, 1.0, 2.0)  # seconds between reads of a command's report while it is NEW


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
    record_updates(payload["product_ids"], payload.get("reason", ""))


def record_updates(product_ids: Iterable[int], reason: str) -> int:
    """Record the current sellable quantity of each link of these products; returns how many operations."""
    links = stock_links(product_ids)
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

def _config(name: str) -> Any:
    return current_app.config[f"STOCK_SYNC_{name}"]


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
    lock = redis_connection.client.lock(lock_key(integration_id), timeout=2 * outbox.lease_seconds(),
                                        blocking=False)
    totals: Counter = Counter()
    for _ in range(max_rounds):
        if not lock.acquire():
            totals["left to the worker delivering now"] += 1
            break
        try:
            while True:
                operations = outbox.claim_batch(STOCK_UPDATE, integration_id, int(_config("BATCH")))
                if not operations:
                    break
                totals.update(deliver_batch(integration_id, operations))
                lock.extend(2 * outbox.lease_seconds(), replace_ttl=True)
        finally:
            try:
                lock.release()
            except Exception:  # expired under a very long batch: nothing left to release
                pass
        # Something recorded while the lock was held was refused a second job: look once more.
        if not outbox.due_count(STOCK_UPDATE, integration_id):
            break
    return ", ".join(f"{count} {state}" for state, count in sorted(totals.items())) or "nothing due"


Work = list[tuple[SyncOperation, ProductLink, int]]


def deliver_batch(integration_id: int, operations: list[SyncOperation]) -> Counter:
    """Deliver claimed operations of one integration; every one ends done, failed, skipped or rescheduled."""
    # The batch commits notes before each command; the worker holds these rows' lease, so reloading
    # thousands of them one by one after every commit would only cost time.
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        return _deliver_batch(integration_id, operations)
    finally:
        session.expire_on_commit = expire


def _deliver_batch(integration_id: int, operations: list[SyncOperation]) -> Counter:
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
            outbox.finish(operation, "skipped", f"Superseded by stock update {newest[operation.payload.get('link_id')]} "
                                                "of the same offer, which sends the quantity of now.")
            outcome["superseded"] += 1
        elif integration is None or not _takes_stock(integration):
            outbox.finish(operation, "skipped", "The integration is off or does not take stock from Kontor.")
            outcome["skipped"] += 1
        elif link is None or link.integration_id != integration_id:
            outbox.finish(operation, "skipped", "The product link was removed; nothing to update.")
            outcome["skipped"] += 1
        else:
            work.append((operation, link, quantities[link.product_id]))
    attempts: list[dict] = []
    if work:
        deliver = _allegro if integration.kind == "allegro" else _prestashop
        deliver(integration, work, attempts, outcome)
    if attempts:
        db.session.execute(insert(StockSyncAttempt), attempts)
    db.session.commit()
    return outcome


def _attempt(attempts: list[dict], integration: Integration, operation: SyncOperation, action: str, outcome: str,
             ms: int, detail: str = "") -> None:
    attempts.append({"operation_id": operation.id, "integration_id": integration.id, "action": action[:60],
                     "outcome": outcome, "milliseconds": ms, "detail": detail[:2000], "at": utcnow()})


def _retry(operation: SyncOperation, error: str) -> datetime | None:
    return outbox.retry_later(operation, error, max_attempts=int(_config("MAX_ATTEMPTS")),
                              initial=float(_config("BACKOFF_INITIAL")), cap=float(_config("BACKOFF_CAP")))


def _failed(operation: SyncOperation, error: PlatformError, outcome: Counter) -> str:
    if error.retryable and _retry(operation, error.message) is not None:
        outcome["rescheduled"] += 1
        return "retry"
    if operation.state != "failed":
        outbox.fail(operation, error.message)
    outcome["failed"] += 1
    return "failed"


# --- Allegro ----------------------------------------------------------------------------------

def command_id_for(integration_id: int, quantity: int, operations: list[tuple[int, int]]) -> str:
    """The same operations (id, generation) at the same quantity always make the same command id (a UUID)."""
    key = f"{integration_id}|{quantity}|{','.join(f'{i}.{g}' for i, g in sorted(operations))}"
    return str(uuid.uuid5(COMMAND_NAMESPACE, key))


def _allegro_budget(integration_id: int, offers: int) -> float:
    """0 if Allegro's limits allow one more command of `offers` changes now, else seconds to wait."""
    client = redis_connection.client
    now = time.time()
    minute = f"kontor:allegro:{integration_id}:requests:{int(now // 60)}"
    hour = f"kontor:allegro:{integration_id}:changes:{int(now // 3600)}"
    pipe = client.pipeline()
    pipe.incrby(minute, 2)  # the PUT and at least one read of its report
    pipe.expire(minute, 120)
    pipe.incrby(hour, offers)
    pipe.expire(hour, 7200)
    requests_now, _, changes_now, _ = pipe.execute()
    if changes_now > ALLEGRO_CHANGES_PER_HOUR:
        client.decrby(hour, offers)
        return 3600 - now % 3600 + 1
    if requests_now > ALLEGRO_REQUESTS_PER_MINUTE:
        return 60 - now % 60 + 1
    return 0


def _send_and_read(offers: AllegroOffers, command_id: str, quantity: int, offer_ids: list[str]) -> tuple[bool, list[OfferTask]]:
    """(registered now, the report). A 409 means this very command was registered by an earlier attempt."""
    if quantity > 0:
        registered = offers.set_quantity(command_id, quantity, offer_ids)
    else:
        registered = offers.end_offers(command_id, offer_ids)
    tasks: list[OfferTask] = []
    for wait in TASK_WAITS:
        time.sleep(wait)
        tasks = offers.tasks(command_id, publication=quantity == 0)
        if len(tasks) >= len(set(offer_ids)) and all(task.status != "NEW" for task in tasks):
            break
    return registered, tasks


def _allegro(integration: Integration, work: Work, attempts: list[dict], outcome: Counter) -> None:
    groups: dict[tuple[int, str | None], Work] = defaultdict(list)
    for operation, link, quantity in work:
        noted = operation.payload.get("command") if operation.payload.get("command_quantity") == quantity else None
        groups[(quantity, noted)].append((operation, link, quantity))
    commands = []
    for (quantity, noted), members in groups.items():
        for start in range(0, len(members), OFFERS_PER_COMMAND):
            chunk = members[start:start + OFFERS_PER_COMMAND]
            command_id = noted or command_id_for(integration.id, quantity,
                                                 [(op.id, op.generation) for op, _, _ in chunk])
            # Noted durably before sending: a retry whose quantity is unchanged re-sends this same command.
            for operation, _, _ in chunk:
                operation.payload = {**operation.payload, "command": command_id, "command_quantity": quantity}
            commands.append((quantity, command_id, chunk))
    db.session.commit()  # once for the whole batch, before the first command leaves
    for quantity, command_id, chunk in commands:
        _allegro_command(integration, quantity, command_id, chunk, attempts, outcome)


def _allegro_command(integration: Integration, quantity: int, command_id: str, chunk: Work, attempts: list[dict],
                     outcome: Counter) -> None:
    action = f"allegro {'end offers' if quantity == 0 else f'quantity {quantity}'}"
    wait = _allegro_budget(integration.id, len(chunk))
    if wait:
        for operation, _, _ in chunk:
            operation.state, operation.locked_until = "pending", None
            operation.generation += 1
            operation.next_attempt_at = utcnow() + timedelta(seconds=wait)
            operation.attempts = max(0, operation.attempts - 1)  # not an attempt: nothing was sent
            _attempt(attempts, integration, operation, action, "throttled", 0, "Allegro's hourly or per-minute "
                     f"limit is reached; sending in {int(wait)} s.")
        outcome["throttled"] += len(chunk)
        return
    offer_ids = [link.external_product_id for _, link, _ in chunk]
    started = time.perf_counter()
    try:
        registered, tasks = integrations.call_platform(
            integration, lambda client: _send_and_read(AllegroOffers(client), command_id, quantity, offer_ids))
    except PlatformError as error:
        ms = int((time.perf_counter() - started) * 1000)
        for operation, _, _ in chunk:
            state = _failed(operation, error, outcome)
            _attempt(attempts, integration, operation, action, state, ms, error.message)
        return
    ms = int((time.perf_counter() - started) * 1000)
    by_offer = {task.offer_id: task for task in tasks}
    again = "" if registered else " (sent before; Allegro's report of that command read back)"
    for operation, link, _ in chunk:
        task = by_offer.get(link.external_product_id)
        if task is not None and task.status == "SUCCESS":
            done = f"offer ended (nothing left to sell)" if quantity == 0 else f"quantity set to {quantity}"
            outbox.finish(operation, "done", f"Allegro offer {link.external_product_id}: {done}, command "
                                             f"{command_id}{again}.")
            outcome["done"] += 1
            _attempt(attempts, integration, operation, action, "done", ms, command_id)
        elif task is not None and task.status == "FAIL":
            outbox.fail(operation, f"Allegro refused the change of offer {link.external_product_id}: "
                                   f"{task.message or 'no reason given'} (command {command_id}).")
            outcome["failed"] += 1
            _attempt(attempts, integration, operation, action, "failed", ms, task.message)
        else:
            if not registered and task is None:
                # The noted command was registered without this offer (a retry of part of a group):
                # forget it, so the next attempt sends a command of its own.
                operation.payload = {k: v for k, v in operation.payload.items()
                                     if k not in ("command", "command_quantity")}
            state = "retry" if _retry(operation, f"Allegro had not finished command {command_id} for offer "
                                                 f"{link.external_product_id}; its report is read again.") else "failed"
            outcome["rescheduled" if state == "retry" else "failed"] += 1
            _attempt(attempts, integration, operation, action, state, ms, "report not ready")


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
            state = _failed(operation, PlatformError(error.message) if not error.retryable else error.as_platform(),
                            outcome)
            _attempt(attempts, integration, operation, "prestashop database", state, ms, error.message)
        return
    ms = int((time.perf_counter() - started) * 1000)
    for operation, link, quantity in work:
        key = (int(link.external_product_id), int(link.external_combination_id or 0))
        if key in report.missing:
            outbox.fail(operation, f"PrestaShop has no stock_available row for product {key[0]} combination "
                                   f"{key[1]} in {', '.join(report.targets)}; check the link.")
            outcome["failed"] += 1
            _attempt(attempts, integration, operation, "prestashop database", "failed", ms, "missing row")
            continue
        outbox.finish(operation, "done", f"PrestaShop product {key[0]}/{key[1]}: quantity {quantity} "
                                         f"({'written' if key in report.changed else 'already so'}).")
        outcome["done"] += 1
        _attempt(attempts, integration, operation, "prestashop database", "done", ms)


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
        return "written" if changed else "already so"

    try:
        how = integrations.call_platform(integration, write)
    except PlatformError as error:
        state = _failed(operation, error, outcome)
        _attempt(attempts, integration, operation, "prestashop webservice", state,
                 int((time.perf_counter() - started) * 1000), error.message)
        return
    outbox.finish(operation, "done", f"PrestaShop product {product}/{combination}: quantity {quantity} ({how}).")
    outcome["done"] += 1
    _attempt(attempts, integration, operation, "prestashop webservice", "done",
             int((time.perf_counter() - started) * 1000))


