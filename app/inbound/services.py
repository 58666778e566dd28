"""Processing stored deliveries: read the raw body, apply it, close the ledger row in the same transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask_babel import LazyString, lazy_gettext as _l

from app.core.i18n import english
from app.extensions import db
from app.inbound import apply, batch, checks, generic, ledger
from app.inbound.allegro import FORM_TOPIC as ALLEGRO_FORM
from app.inbound.models import InboundEvent
from app.inbound.polling import POLL_TOPIC
from app.integrations import services as integrations
from app.integrations.allegro import mapping as allegro
from app.integrations.base import MalformedPayload, PlatformOrder
from app.integrations.prestashop.mapping import order_from_prestashop
from app.integrations.shopify import mapping as shopify
from app.integrations.woocommerce import mapping as woocommerce

log = logging.getLogger("kontor.inbound")


def _json(event: InboundEvent) -> Any:
    try:
        return json.loads(event.body)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedPayload(_l("The body is not valid JSON (%(error)s).", error=str(error))) from error
    except RecursionError as error:
        raise MalformedPayload(_l("The body nests arrays or objects too deeply to read.")) from error


# What a mapping raises when a payload breaks the platform's documented types ({"customer": "x"},
# "quantity": "abc"): the delivery cannot be read, which no retry changes.
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError)


def read(mapper: Callable[..., Any], *args: Any) -> Any:
    """A mapping's result; MalformedPayload, in words, when the payload does not have the documented shape."""
    try:
        return mapper(*args)
    except MalformedPayload:
        raise
    except ArithmeticError as error:
        raise MalformedPayload(_l("A number in it is not finite or too large to keep.")) from error
    except SHAPE_ERRORS as error:
        raise MalformedPayload(_l("A value in it does not have the type the platform documents (%(error)s).",
                                   error=str(error))) from error


def incoming_order(event: InboundEvent) -> tuple[PlatformOrder, datetime | None] | None:
    """The platform order a stored delivery carries (and when it was sent), or None if it carries something else.

    Raises MalformedPayload when the body cannot be read or holds values Kontor cannot keep.
    """
    carried = read(_carried_order, event)
    return None if carried is None else (checks.checked_order(carried[0]), carried[1])


def _carried_order(event: InboundEvent) -> tuple[PlatformOrder, datetime | None] | None:
    topic = event.topic
    if event.kind == "shopify" and (topic in shopify.ORDER_TOPICS or topic == POLL_TOPIC):
        return shopify.order_from_shopify(_json(event)), event.occurred_at
    if event.kind == "woocommerce" and topic != "order.deleted" and (topic in woocommerce.TOPICS
                                                                      or topic == POLL_TOPIC):
        return woocommerce.order_from_woocommerce(_json(event)), event.occurred_at
    if event.kind == "allegro" and topic == ALLEGRO_FORM:
        return allegro.order_from_allegro(_json(event)), None
    if event.kind == "prestashop":
        return order_from_prestashop(_json(event)), None
    if event.kind == "generic":
        kind, data = generic.unwrap(_json(event))
        if kind != "order.deleted":
            return generic.order_from_api_shape(data), event.occurred_at
    return None


def _apply(event: InboundEvent) -> apply.Applied:
    integration = event.integration
    topic = event.topic
    carried = incoming_order(event)
    if carried is not None:
        return apply.apply_order(integration, *carried)
    if event.kind == "shopify" and topic in shopify.REFUND_TOPICS:
        refund = read(lambda: shopify.refund_from_shopify(_json(event)))
        return apply.apply_refund(integration, checks.checked_refund(refund))
    if event.kind == "woocommerce" and topic == "order.deleted":
        return apply.apply_deletion(integration, read(lambda: woocommerce.deletion_from_woocommerce(_json(event))))
    if event.kind == "allegro" and topic in allegro.EVENT_TYPES and event.resource_id:
        # A journal event whose run did not fetch its form (it died, or the list missed it): read it alone.
        form = integrations.call_platform(integration, lambda client: client.checkout_form(event.resource_id))
        return apply.apply_order(integration, checks.checked_order(read(allegro.order_from_allegro, form)))
    if event.kind == "generic":
        return apply.apply_deletion(integration, read(lambda: generic.deletion(generic.unwrap(_json(event))[1])))
    return apply.Applied("skipped", _l("Kontor does not handle “%(topic)s” deliveries; kept for reference.",
                                       topic=topic or event.kind))


def process_event(event_id: int, early: bool = False) -> str:
    """Apply one stored delivery; returns what happened in words. Safe to run twice, in any order.

    `early`: the batch job a run handed the delivery to takes it before the sweeper's time.
    """
    event = ledger.claim(event_id, early)
    if event is None:
        return "not due or already handled"
    return _process_claimed(event)


def _process_claimed(event: InboundEvent) -> str:
    event_id = event.id
    try:
        applied = _apply(event)
        ledger.close(event, applied.ledger_state, applied.message, applied.order_id, applied.outcome)
        db.session.commit()
        return english(applied.message)
    except MalformedPayload as error:
        # Trying again cannot help: the body will not change. Reprocess stays possible.
        reason = error.args[0] if error.args and isinstance(error.args[0], LazyString) else str(error)
        ledger.fail(event_id, _l("Cannot read the delivery: %(reason)s", reason=reason), retry=False,
                    outcome="malformed")
        return f"failed: {error}"
    except Exception as error:  # a database or programming error: keep the delivery and try again later
        log.exception("inbound event %s could not be processed", event_id)
        failed = ledger.fail(event_id, f"{type(error).__name__}: {error}", retry=True)
        return f"failed (attempt {failed.attempts}): {error}"


def process_batch(event_ids: list[int]) -> dict[str, int]:
    """Apply a batch job's stored deliveries: the orders they carry set-based, one commit; the rest one by one.

    Deliveries another worker holds are left to it. When the set-based apply cannot finish (another
    worker created one of the orders meanwhile, or a database error), it is rolled back and every
    delivery is applied alone, so each one still ends processed, ignored or failed with its reason.
    """
    events = ledger.claim_many(event_ids)
    by_integration: dict[int, list[batch.Message]] = {}
    alone: list[InboundEvent] = []
    for event in events:
        try:
            carried = incoming_order(event)
        except MalformedPayload:
            carried = None  # applied alone, which records why it cannot be read
        if carried is None:
            alone.append(event)
        else:
            by_integration.setdefault(event.integration_id, []).append(batch.Message(event.id, *carried))
    by_id = {event.id: event for event in events}
    outcomes: dict[int, apply.Applied] | None = {}
    try:
        for messages in by_integration.values():
            applied = batch.apply_orders(by_id[messages[0].key].integration, messages)
            if applied is None:
                outcomes = None
                break
            outcomes.update(applied)
        if outcomes is not None:
            for event_id, applied in outcomes.items():
                ledger.close(by_id[event_id], applied.ledger_state, applied.message, applied.order_id,
                             applied.outcome)
            db.session.commit()
    except Exception:  # noqa: BLE001 - every delivery is applied alone below, which records its error
        log.warning("batch of %s deliveries could not be applied together; applying them one by one",
                    len(by_id), exc_info=True)
        outcomes = None
    if outcomes is None:
        db.session.rollback()
        alone = events
    results = [_process_claimed(db.session.get(InboundEvent, event.id, populate_existing=True)) for event in alone]
    failed = sum(1 for result in results if result.startswith("failed"))
    return {"processed": len(events) - failed, "failed": failed, "skipped": len(event_ids) - len(events)}
