"""Shipment push: a tracking number added to a platform order reaches that platform.

The in-transaction handler writes a `shipment_push` operation into the outbox together with the
shipment; `push_shipment` (run by a worker through the outbox's dispatcher) delivers it.

- Allegro: POST /order/checkout-forms/{id}/shipments with the carrier id (the integration's
  carrier table, then Allegro's /order/carriers by name, else OTHER with the carrier's name)
  and the checkout form's line items. A number GET …/shipments already lists counts as done.
- PrestaShop: the order's order_carrier row gets `tracking_number` by PUT, with sendemail=1
  when the integration's "e-mail the customer" switch for tracking numbers is on. The row holds
  one number, so a newer shipment of the order supersedes an older one still on its way.

Every attempt re-reads the platform before writing, so a write whose answer was lost is found
applied instead of being sent twice.
"""

from __future__ import annotations

import re
from typing import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.events import bus
from app.core.i18n import english
from app.extensions import db
from app.integrations import services as integrations
from app.integrations.base import CarrierDTO, PlatformError, ReconnectNeeded, with_retries
from app.integrations.models import Integration
from app.orders.models import Order, OrderShipment
from app.orders.services import Actor, record_event
from app.orders.shipments import SHIPMENT_ADDED
from app.sync import outbox
from app.sync.models import SyncOperation
from app.sync.push import PUSHED_SOURCES, wait_for_reconnect

SHIPMENT_PUSH = "shipment_push"
OTHER_CARRIER = "OTHER"
ALLEGRO_CARRIER_NAME_MAX = 30


@bus.subscribe(SHIPMENT_ADDED, "sync.queue_shipment_push", moment="in_transaction")
def queue_shipment_push(payload: dict) -> None:
    """Write the outbox row for a tracking number that should reach the order's platform."""
    if payload["change_source"] not in PUSHED_SOURCES or not payload.get("integration_id"):
        return
    integration = db.session.get(Integration, payload["integration_id"])
    if integration is None or not integration.pushes or integration.kind not in DELIVERIES:
        return
    # Not collapsed: every parcel's number is a wish of its own, not a newer version of the last.
    outbox.record(SHIPMENT_PUSH, integration.id, {
        "shipment_id": payload["shipment_id"], "carrier": payload["carrier"], "service": payload.get("service", ""),
        "tracking_number": payload["tracking_number"]}, order_id=payload["order_id"], collapse=False)


# --- choosing Allegro's carrier id (pure) ------------------------------------------------------

def _folded(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def allegro_carrier(carrier: str, table: dict[str, str], carriers: Callable[[], list[CarrierDTO]]) -> tuple[str, str]:
    """(carrierId, carrierName) for a Kontor carrier name.

    The integration's table wins; then Allegro's own list, matched on id or name ignoring case,
    spaces and punctuation; anything else is OTHER with the name (Allegro takes 30 characters).
    `carriers` is only called when the table has no answer.
    """
    wanted = _folded(carrier)
    for name, carrier_id in table.items():
        if _folded(name) == wanted:
            return carrier_id, ""
    for known in carriers():
        if known.id != OTHER_CARRIER and wanted in (_folded(known.id), _folded(known.name)):
            return known.id, ""
    return OTHER_CARRIER, carrier[:ALLEGRO_CARRIER_NAME_MAX].strip()


# --- delivery per platform -----------------------------------------------------------------------

@with_retries
def _deliver_allegro(client, external_order_id: str, shipment: dict, table: dict[str, str],
                     before_write: Callable[[], None]) -> tuple[bool, str]:
    """(already there, carrier id used). Transient failures retry the whole read-then-write."""
    number = shipment["tracking_number"]
    if any(listed.waybill.strip() == number for listed in client.fetch_shipments(external_order_id)):
        return True, ""
    carrier_id, carrier_name = allegro_carrier(shipment["carrier"], table, client.fetch_carriers)
    line_items = client.fetch_line_item_ids(external_order_id)
    before_write()
    client.add_shipment(external_order_id, carrier_id, number, carrier_name=carrier_name, line_item_ids=line_items)
    return False, carrier_id if carrier_id != OTHER_CARRIER else f"OTHER “{carrier_name}”"


@with_retries
def _deliver_prestashop(client, external_order_id: str, shipment: dict, send_email: bool,
                        before_write: Callable[[], None]) -> tuple[bool, str]:
    """(already there, what was written). Transient failures retry the whole read-then-write."""
    number = shipment["tracking_number"]
    rows = client.order_carriers(external_order_id)
    if not rows:
        raise PlatformError(f"PrestaShop order {external_order_id} has no carrier (no order_carriers row), "
                            "so there is nowhere to put a tracking number.")
    row = rows[-1]  # the order's current carrier: the latest row
    if row.get("tracking_number", "") == number:
        return True, ""
    before_write()
    client.put_order_carrier({**row, "tracking_number": number}, send_email=send_email)
    return False, "the shop asked to e-mail the customer" if send_email else "no e-mail to the customer"


def _via_allegro(integration: Integration, order: Order, payload: dict, before_write) -> tuple[bool, str]:
    table = dict(integration.settings.get("carriers") or {})
    return integrations.call_platform(integration, lambda client: _deliver_allegro(
        client, order.external_order_id, payload, table, before_write))


def _via_prestashop(integration: Integration, order: Order, payload: dict, before_write) -> tuple[bool, str]:
    send_email = bool(integration.settings.get("tracking_email"))
    return integrations.call_platform(integration, lambda client: _deliver_prestashop(
        client, order.external_order_id, payload, send_email, before_write))


DELIVERIES = {"allegro": _via_allegro, "prestashop": _via_prestashop}


# --- the operation ---------------------------------------------------------------------------

def _actor(integration: Integration) -> Actor:
    return Actor(f"Sync to {integration.name}", "automation")


@outbox.delivers(SHIPMENT_PUSH)
def push_shipment(operation_id: int) -> str:
    """Deliver one tracking number; returns the outcome in words. Safe to run twice."""
    return outbox.deliver_in_turn(operation_id, _push)


def _push(operation: SyncOperation) -> str:
    order, integration = operation.order, operation.integration
    payload = dict(operation.payload)
    number, name = payload.get("tracking_number", ""), integration.name
    actor = _actor(integration)

    def close(state: str, message, level: str = "ok") -> str:
        text = english(message)
        outbox.finish(operation, state, message)
        if order is not None:
            record_event(order, f"shipment_push_{state}", message, actor, level=level, data=_data(operation))
        db.session.commit()
        return text

    if order is None:
        return close("skipped", _l("The order no longer exists."))
    if not integration.pushes:
        return close("skipped", _l("Tracking %(number)s not sent to %(name)s: the integration is off or does not push.",
                                   number=number, name=name), "warning")
    shipment = db.session.get(OrderShipment, payload.get("shipment_id"))
    if shipment is None or shipment.order_id != order.id:
        return close("skipped", _l("Tracking %(number)s not sent to %(name)s: the shipment was removed.",
                                   number=number, name=name))
    if not order.external_order_id:
        return close("skipped", _l("Tracking %(number)s not sent to %(name)s: the order has no id on the platform.",
                                   number=number, name=name), "warning")
    if integration.connection_state == integrations.RECONNECT_NEEDED:
        return wait_for_reconnect(operation, order, integration, actor, announce=False)
    deliver = DELIVERIES.get(integration.kind)
    if deliver is None:
        return close("skipped", _l("Tracking %(number)s not sent: %(platform)s does not take tracking numbers from "
                                   "Kontor.", number=number, platform=integration.kind_name), "warning")
    one_number = integration.kind == "prestashop"
    order_id, shipment_id = order.id, shipment.id

    def superseded(newer: str) -> str:
        return close("superseded", _l("Tracking %(number)s not sent to %(name)s: tracking %(newer)s was added after "
                                      "it, and PrestaShop keeps one number per order.", number=number, name=name,
                                      newer=newer))

    newer = _newer_tracking_number(order_id, shipment_id) if one_number else ""
    if newer:
        return superseded(newer)

    def before_write() -> None:
        if one_number:
            db.session.commit()  # end the snapshot: see a shipment added since the attempt began
            newer = _newer_tracking_number(order_id, shipment_id)
            if newer:
                raise _Superseded(newer)
        # Noted durably before the write, so a later attempt that finds the number there knows
        # it is most likely this write, applied although its answer never arrived.
        if not operation.payload.get("write_sent"):
            operation.payload = {**operation.payload, "write_sent": True}
            db.session.commit()

    try:
        already, how = deliver(integration, order, payload, before_write)
    except _Superseded as overtaken:
        return superseded(overtaken.newer)
    except ReconnectNeeded as error:
        return wait_for_reconnect(operation, order, integration, actor, error.message)
    except PlatformError as error:
        return _failed(operation, order, integration, error, actor)
    if already and operation.payload.get("write_sent"):
        message = _l("Tracking %(number)s sent to %(name)s: confirmed on the platform after an unanswered write.",
                     number=number, name=name)
    elif already:
        message = _l("%(name)s already had tracking %(number)s; nothing sent.", name=name, number=number)
    else:
        message = _l("Tracking %(number)s sent to %(name)s (%(how)s).", number=number, name=name, how=how)
    return close("done", message)


class _Superseded(Exception):
    """A newer tracking number of the order arrived while this one was on its way."""

    def __init__(self, newer: str) -> None:
        super().__init__(newer)
        self.newer = newer


def _newer_tracking_number(order_id: int, shipment_id: int) -> str:
    """The latest tracking number added to the order after this shipment, if any."""
    return db.session.scalar(select(OrderShipment.tracking_number).where(
        OrderShipment.order_id == order_id, OrderShipment.id > shipment_id, OrderShipment.tracking_number != "")
        .order_by(OrderShipment.id.desc()).limit(1)) or ""


def _data(operation: SyncOperation) -> dict:
    return {"operation_id": operation.id, "integration_id": operation.integration_id}


def _failed(operation: SyncOperation, order: Order, integration: Integration, error: PlatformError,
            actor: Actor) -> str:
    number = operation.payload.get("tracking_number", "")
    name = integration.name
    if error.retryable:
        next_at = outbox.retry_later(operation, error.message)
        if next_at is not None:
            message = _l("Sending tracking %(number)s to %(name)s failed (attempt %(attempt)s): %(error)s Retrying at "
                         "%(at)s UTC.", number=number, name=name, attempt=operation.attempts, error=error.message,
                         at=next_at.strftime("%H:%M:%S"))
            record_event(order, "shipment_push_retry", message, actor, level="warning", data=_data(operation))
            db.session.commit()
            return english(message)
    else:
        outbox.fail(operation, error.message)
    if operation.attempts >= outbox.MAX_ATTEMPTS and error.retryable:
        message = _l("Sending tracking %(number)s to %(name)s failed: %(error)s (gave up after %(attempts)s attempts)",
                     number=number, name=name, error=error.message, attempts=operation.attempts)
    else:
        message = _l("Sending tracking %(number)s to %(name)s failed: %(error)s", number=number, name=name,
                     error=error.message)
    record_event(order, "shipment_push_failed", message, actor, level="error", data=_data(operation))
    db.session.commit()
    return english(message)


def order_shipment_pushes(order: Order, limit: int = 10) -> list[SyncOperation]:
    """The latest shipment push of each of the order's shipments, newest first (for the order page)."""
    operations = db.session.scalars(select(SyncOperation).where(
        SyncOperation.order_id == order.id, SyncOperation.kind == SHIPMENT_PUSH)
        .order_by(SyncOperation.id.desc()).limit(limit * 3)).all()
    latest: dict[object, SyncOperation] = {}
    for operation in operations:
        latest.setdefault(operation.payload.get("shipment_id"), operation)
    return list(latest.values())[:limit]
