"""Processing stored deliveries: read the raw body, apply it, close the ledger row in the same transaction."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.extensions import db
from app.inbound import apply, generic, ledger
from app.inbound.allegro import FORM_TOPIC as ALLEGRO_FORM
from app.inbound.models import InboundEvent
from app.inbound.polling import POLL_TOPIC
from app.integrations import services as integrations
from app.integrations.allegro import mapping as allegro
from app.integrations.base import MalformedPayload
from app.integrations.prestashop.mapping import order_from_prestashop
from app.integrations.shopify import mapping as shopify
from app.integrations.woocommerce import mapping as woocommerce

log = logging.getLogger("kontor.inbound")


def _json(event: InboundEvent) -> Any:
    try:
        return json.loads(event.body)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedPayload(f"The body is not valid JSON ({error}).") from error


def _apply(event: InboundEvent) -> apply.Applied:
    integration = event.integration
    topic = event.topic
    if event.kind == "shopify":
        if topic in shopify.ORDER_TOPICS or topic == POLL_TOPIC:
            return apply.apply_order(integration, shopify.order_from_shopify(_json(event)), event.occurred_at)
        if topic in shopify.REFUND_TOPICS:
            return apply.apply_refund(integration, shopify.refund_from_shopify(_json(event)))
    elif event.kind == "woocommerce":
        if topic == "order.deleted":
            return apply.apply_deletion(integration, woocommerce.deletion_from_woocommerce(_json(event)))
        if topic in woocommerce.TOPICS or topic == POLL_TOPIC:
            return apply.apply_order(integration, woocommerce.order_from_woocommerce(_json(event)), event.occurred_at)
    elif event.kind == "allegro":
        if topic == ALLEGRO_FORM:
            return apply.apply_order(integration, allegro.order_from_allegro(_json(event)))
        if topic in allegro.EVENT_TYPES and event.resource_id:
            # A journal event whose run did not fetch its form (it died, or the list missed it): read it alone.
            form = integrations.call_platform(integration, lambda client: client.checkout_form(event.resource_id))
            return apply.apply_order(integration, allegro.order_from_allegro(form))
    elif event.kind == "prestashop":
        return apply.apply_order(integration, order_from_prestashop(_json(event)))
    elif event.kind == "generic":
        kind, data = generic.unwrap(_json(event))
        if kind == "order.deleted":
            return apply.apply_deletion(integration, generic.deletion(data))
        return apply.apply_order(integration, generic.order_from_api_shape(data), event.occurred_at)
    return apply.Applied("skipped", f"Kontor does not handle “{topic or event.kind}” deliveries; kept for reference.")


def process_event(event_id: int, early: bool = False) -> str:
    """Apply one stored delivery; returns what happened in words. Safe to run twice, in any order.

    `early`: the batch job a run handed the delivery to takes it before the sweeper's time.
    """
    event = ledger.claim(event_id, early)
    if event is None:
        return "not due or already handled"
    try:
        applied = _apply(event)
        ledger.close(event, applied.ledger_state, applied.message, applied.order_id)
        db.session.commit()
        return applied.message
    except MalformedPayload as error:
        # Trying again cannot help: the body will not change. Reprocess stays possible.
        ledger.fail(event_id, f"Cannot read the delivery: {error}", retry=False)
        return f"failed: {error}"
    except Exception as error:  # a database or programming error: keep the delivery and try again later
        log.exception("inbound event %s could not be processed", event_id)
        failed = ledger.fail(event_id, f"{type(error).__name__}: {error}", retry=True)
        return f"failed (attempt {failed.attempts}): {error}"
