"""Stock updates to Allegro: quantity change commands grouped by quantity, offers ended at 0 and resumed.

PUT /sale/offer-quantity-change-commands/{commandId} with FIXED, one command per group of offers that
get the same quantity (up to 1000). The command id is derived from the operations it carries and
noted on them before sending, so a retry re-sends the same command, which Allegro refuses as already
used (409) instead of applying twice; its tasks report closes each operation.

Allegro takes no FIXED 0 ("stock > 0"); setting 0 ends an offer. So an offer with nothing left to
sell is ended with a publication command END, and an offer that ended because its stock reached 0
(ended by Kontor, or seen ENDED with nothing available by the reconciliation) is resumed with a
publication command ACTIVATE once Kontor has set a positive quantity on it: Allegro activates an
offer only while its stock is above 0, so the quantity goes first. The ACTIVATE command's id is
derived from the quantity command's, so a retry is again the same command; its own tasks report
says per offer whether it was resumed.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

from flask_babel import lazy_gettext as _l

from app.catalog.models import ProductLink
from app.core import ratelimit
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.integrations import services as integrations
from app.integrations.allegro.offers import OFFERS_PER_COMMAND, AllegroOffers, OfferTask
from app.integrations.base import PlatformError
from app.integrations.models import Integration
from app.stock.push_attempts import Heartbeat, Work, attempt, failed, retry
from app.sync import outbox

COMMAND_NAMESPACE = uuid.UUID("6f1c7c36-51a5-4cde-9a39-5c7f0b7d2a10")
# Allegro's limits: requests per minute per client; offer changes per minute and per hour per user (the spec).
REQUESTS_PER_MINUTE = ratelimit.Limit("requests", 9000, window=60, bucket=1)
CHANGES_PER_MINUTE = ratelimit.Limit("changes-minute", 9000, window=60, bucket=1)
CHANGES_PER_HOUR = ratelimit.Limit("changes-hour", 250_000, window=3600, bucket=60)
# A wait this short is sat out inside the batch (its claim kept alive), so the offers go the moment the
# window has room; a longer one (the hourly limit) parks the operations until then.
SHORT_WAIT_SECONDS = 65
TASK_WAITS = (0, 0.2, 0.5, 1.0, 2.0)  # seconds between reads of a command's report while it is NEW
ENDED = "allegro_ended"  # ProductLink.meta key: the offer ended because its stock reached 0


def note_allegro_ended(link: ProductLink, ended: bool, by: str = "empty stock") -> None:
    """Remember (or forget) on the link that its offer ended for lack of stock, to resume it later."""
    meta = dict(link.meta or {})
    if ended:
        meta.setdefault(ENDED, by)
    else:
        meta.pop(ENDED, None)
    if meta != (link.meta or {}):
        link.meta = meta


def activation_id_for(command_id: str) -> str:
    """The ACTIVATE command that follows a quantity command: derived from it, so a retry is the same one."""
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"activate|{command_id}"))


def command_id_for(integration_id: int, quantity: int, operations: list[tuple[int, int]]) -> str:
    """The same operations (id, generation) at the same quantity always make the same command id (a UUID)."""
    key = f"{integration_id}|{quantity}|{','.join(f'{i}.{g}' for i, g in sorted(operations))}"
    return str(uuid.uuid5(COMMAND_NAMESPACE, key))


def _budget(integration_id: int, offers: int) -> float:
    """0 if Allegro's limits allow one more command of `offers` changes now, else seconds to wait.

    The spec limits these commands to 9,000 offer changes a minute and 250,000 an hour per user, on top of
    the 9,000 requests a minute every client has (a command is its PUT and a read of its report).
    """
    return ratelimit.spend(redis_connection.client, f"kontor:allegro:{integration_id}", time.time(),
                           [(REQUESTS_PER_MINUTE, 2), (CHANGES_PER_MINUTE, offers), (CHANGES_PER_HOUR, offers)])


def _send_and_read(offers: AllegroOffers, command_id: str, action: str, offer_ids: list[str],
                   quantity: int = 0) -> tuple[bool, list[OfferTask]]:
    """(registered now, the report) of a quantity (FIXED), END or ACTIVATE command.

    A 409 means this very command was registered by an earlier attempt.
    """
    if action == "FIXED":
        registered = offers.set_quantity(command_id, quantity, offer_ids)
    elif action == "END":
        registered = offers.end_offers(command_id, offer_ids)
    else:
        registered = offers.activate_offers(command_id, offer_ids)
    tasks: list[OfferTask] = []
    for wait in TASK_WAITS:
        time.sleep(wait)
        tasks = offers.tasks(command_id, publication=action != "FIXED")
        if len(tasks) >= len(set(offer_ids)) and all(task.status != "NEW" for task in tasks):
            break
    return registered, tasks


def deliver(integration: Integration, work: Work, attempts: list[dict], outcome: Counter,
            heartbeat: Heartbeat | None = None) -> None:
    """Deliver a batch of Allegro stock updates: grouped commands, then each offer closed from its task."""
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
        if heartbeat is not None:
            heartbeat.beat()
        _command(integration, quantity, command_id, chunk, attempts, outcome, heartbeat)


def _sit_out(seconds: float, heartbeat: Heartbeat | None) -> None:
    """Wait for Allegro's window to have room, keeping the batch's claim alive meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 5.0))
        if heartbeat is not None:
            heartbeat.beat()


def _command(integration: Integration, quantity: int, command_id: str, chunk: Work, attempts: list[dict],
             outcome: Counter, heartbeat: Heartbeat | None = None) -> None:
    action = f"allegro {'end offers' if quantity == 0 else f'quantity {quantity}'}"
    wait, asked_at = _budget(integration.id, len(chunk)), time.perf_counter()
    while 0 < wait <= SHORT_WAIT_SECONDS:
        _sit_out(wait, heartbeat)
        wait = _budget(integration.id, len(chunk))
    if (waited := time.perf_counter() - asked_at) >= 1:
        for operation, _, _ in chunk:  # the seller's answer to "why did it take a minute?"
            attempt(attempts, integration, operation, action, "throttled", int(waited * 1000),
                    f"Waited {waited:.0f} s for room in Allegro's limit of 9,000 offer changes a minute.")
    if wait:
        for operation, _, _ in chunk:
            operation.state, operation.locked_until = "pending", None
            operation.generation += 1
            operation.next_attempt_at = utcnow() + timedelta(seconds=wait)
            operation.attempts = max(0, operation.attempts - 1)  # not an attempt: nothing was sent
            attempt(attempts, integration, operation, action, "throttled", 0, "Allegro's hourly limit of offer "
                     f"changes is reached; sending in {int(wait)} s.")
        outcome["throttled"] += len(chunk)
        return
    offer_ids = [link.external_product_id for _, link, _ in chunk]
    started = time.perf_counter()
    try:
        registered, tasks = integrations.call_platform(
            integration, lambda client: _send_and_read(AllegroOffers(client), command_id,
                                                       "FIXED" if quantity > 0 else "END", offer_ids, quantity))
    except PlatformError as error:
        ms = int((time.perf_counter() - started) * 1000)
        for operation, _, _ in chunk:
            state = failed(operation, error, outcome)
            attempt(attempts, integration, operation, action, state, ms, error.message)
        return
    ms = int((time.perf_counter() - started) * 1000)
    by_offer = {task.offer_id: task for task in tasks}
    again = "" if registered else _l(" (sent before; Allegro's report of that command read back)")
    resume: Work = []
    for operation, link, _ in chunk:
        task = by_offer.get(link.external_product_id)
        if task is not None and task.status == "SUCCESS" and quantity > 0 and ENDED in (link.meta or {}):
            resume.append((operation, link, quantity))
            attempt(attempts, integration, operation, action, "done", ms, command_id)
        elif task is not None and task.status == "SUCCESS":
            done = (_l("offer ended (nothing left to sell)") if quantity == 0
                    else _l("quantity set to %(quantity)s", quantity=quantity))
            if quantity == 0:
                note_allegro_ended(link, True, "Kontor")
            outbox.finish(operation, "done", _l("Allegro offer %(offer)s: %(done)s, command %(command)s%(again)s.",
                                                offer=link.external_product_id, done=done, command=command_id,
                                                again=again))
            outcome["done"] += 1
            attempt(attempts, integration, operation, action, "done", ms, command_id)
        elif task is not None and task.status == "FAIL":
            outbox.fail(operation, _l("Allegro refused the change of offer %(offer)s: %(reason)s (command "
                                      "%(command)s).", offer=link.external_product_id,
                                      reason=task.message or _l("no reason given"), command=command_id))
            outcome["failed"] += 1
            attempt(attempts, integration, operation, action, "failed", ms, task.message)
        else:
            if not registered and task is None:
                # The noted command was registered without this offer (a retry of part of a group):
                # forget it, so the next attempt sends a command of its own.
                operation.payload = {k: v for k, v in operation.payload.items()
                                     if k not in ("command", "command_quantity")}
            state = "retry" if retry(operation, _l("Allegro had not finished command %(command)s for offer "
                                                    "%(offer)s; its report is read again.", command=command_id,
                                                    offer=link.external_product_id)) else "failed"
            outcome["rescheduled" if state == "retry" else "failed"] += 1
            attempt(attempts, integration, operation, action, state, ms, "report not ready")
    if resume:
        _activate(integration, quantity, command_id, resume, attempts, outcome)


def _activate(integration: Integration, quantity: int, command_id: str, chunk: Work, attempts: list[dict],
              outcome: Counter) -> None:
    """Resume offers that ended at 0 now that their quantity is positive; each closes from its own task."""
    activation = activation_id_for(command_id)
    offer_ids = [link.external_product_id for _, link, _ in chunk]
    started = time.perf_counter()
    try:
        registered, tasks = integrations.call_platform(
            integration, lambda client: _send_and_read(AllegroOffers(client), activation, "ACTIVATE", offer_ids))
    except PlatformError as error:
        ms = int((time.perf_counter() - started) * 1000)
        for operation, _, _ in chunk:  # the quantity stays noted: a retry re-reads it (409) and activates again
            state = failed(operation, error, outcome)
            attempt(attempts, integration, operation, "allegro activate", state, ms, error.message)
        return
    ms = int((time.perf_counter() - started) * 1000)
    by_offer = {task.offer_id: task for task in tasks}
    for operation, link, _ in chunk:
        task = by_offer.get(link.external_product_id)
        if task is not None and task.status == "SUCCESS":
            note_allegro_ended(link, False)
            outbox.finish(operation, "done", _l("Allegro offer %(offer)s: quantity set to %(quantity)s (command "
                                                "%(command)s) and the ended offer resumed (command %(activation)s).",
                                                offer=link.external_product_id, quantity=quantity,
                                                command=command_id, activation=activation))
            outcome["done"] += 1
            outcome["resumed"] += 1
            attempt(attempts, integration, operation, "allegro activate", "done", ms, activation)
        elif task is not None and task.status == "FAIL":
            outbox.fail(operation, _l("Allegro offer %(offer)s: quantity set to %(quantity)s, but Allegro did not "
                                      "resume the ended offer: %(reason)s (command %(activation)s).",
                                      offer=link.external_product_id, quantity=quantity,
                                      reason=task.message or _l("no reason given"), activation=activation))
            outcome["failed"] += 1
            attempt(attempts, integration, operation, "allegro activate", "failed", ms, task.message)
        else:
            state = "retry" if retry(operation, _l("Allegro had not finished resuming offer %(offer)s (command "
                                                    "%(activation)s); its report is read again.",
                                                    offer=link.external_product_id, activation=activation)) else "failed"
            outcome["rescheduled" if state == "retry" else "failed"] += 1
            attempt(attempts, integration, operation, "allegro activate", state, ms, "report not ready")
