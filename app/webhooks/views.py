"""The endpoints platforms call: verify the signature, store the raw delivery, answer 2xx.

No login and no CSRF token: a delivery proves itself with its signature. The work happens later,
in a job on the `orders` queue, so a platform never waits for Kontor (and never times out).
Deliveries are answered by `receiver.DeliveryReceiver` in front of Flask; the blueprint's rules
only build their addresses (`url_for("webhooks.shopify", integration_id=...)`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from flask import Blueprint, current_app

from app.core import params
from app.core.i18n import api_error
from app.extensions import db
from app.inbound import ledger
from app.integrations.models import Integration
from app.integrations.base import MalformedPayload
from app.integrations.shopify.mapping import parse_time
from app.integrations.woocommerce import mapping as woocommerce_mapping
from app.webhooks import signatures

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger("kontor.webhooks")

MAX_BODY = 1024 * 1024
WOOCOMMERCE_PING = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Incoming:
    """A delivery as it arrived: the raw body (None when over MAX_BODY), the headers as werkzeug names
    them ("X-Shopify-Topic"), and the address it came from."""

    body: bytes | None
    headers: dict[str, str]
    remote_addr: str = ""

    def header(self, name: str, default: str = "") -> str:
        """A header's value, whatever the case of `name`."""
        return self.headers.get(name.title(), default)


@dataclass(frozen=True)
class Answer:
    """What the platform is sent back: a status and a JSON body."""

    status: int
    body: bytes


def error_answer(status: int, code: str, message: str) -> Answer:
    """An error the platform is told about: {"error": {code, message, message_pl}}."""
    return Answer(status, json.dumps({"error": api_error(code, message)}).encode())


def _too_large() -> Answer:
    return error_answer(413, "too_large", f"The body is over {MAX_BODY // 1024} KB.")


@dataclass(frozen=True)
class Receiver:
    """What a delivery needs of its integration: whether it may deliver, and the secrets that sign it."""

    id: int
    kind: str
    name: str
    enabled: bool
    secrets: tuple[str, ...]


# Per process: integration id -> (read at, Receiver). A busy shop sends many deliveries a second;
# reading and decrypting the integration for each one would cost a query and a decryption.
_RECEIVERS: dict[int, tuple[float, Receiver]] = {}


def _receiver(integration_id: int) -> Receiver | None:
    """The integration as deliveries see it, read at most every WEBHOOK_CACHE_SECONDS (a switch-off or a new
    secret takes that long to apply; a rotation accepts both secrets meanwhile)."""
    if integration_id > params.ID_MAX:  # an INTEGER column: a larger id names no integration (and no query is sent)
        return None
    ttl = float(current_app.config.get("WEBHOOK_CACHE_SECONDS", 5))
    now = time.monotonic()
    cached = _RECEIVERS.get(integration_id)
    if cached and now - cached[0] < ttl:
        return cached[1]
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        return None
    credentials = integration.credentials if integration.credentials_encrypted else {}
    receiver = Receiver(integration.id, integration.kind, integration.name, integration.enabled,
                        (credentials.get("webhook_secret", ""), credentials.get("webhook_secret_previous", "")))
    db.session.rollback()  # ends the read; the delivery's INSERT starts its own transaction
    if ttl > 0:
        _RECEIVERS[integration_id] = (now, receiver)
    return receiver


def _secrets(integration: Receiver) -> list[str]:
    return list(integration.secrets)


def _integration(integration_id: int, kind: str):
    integration = _receiver(integration_id)
    if integration is None or integration.kind != kind:
        return None, error_answer(404, "not_found", f"There is no {kind} integration {integration_id} in Kontor.")
    if not integration.enabled:
        return None, error_answer(409, "disabled", f"The integration “{integration.name}” is switched off in Kontor; "
                                             "switch it on to accept deliveries again.")
    return integration, None


def _refused(integration: Receiver, incoming: Incoming, reason: str) -> Answer:
    log.warning("webhook delivery for integration %s refused from %s: %s", integration.id, incoming.remote_addr, reason)
    ledger.count_rejection(integration.id, reason)
    return error_answer(401, "bad_signature", reason)


def _stored(recorded: ledger.Recorded) -> Answer:
    # Built by hand: every delivery gets this answer, and it has three fixed fields.
    return Answer(200, f'{{"duplicate":{"true" if recorded.duplicate else "false"},'
                       f'"event_id":{int(recorded.event_id)},"received":true}}\n'.encode())


def _fallback_id(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


def _parse_or_none(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return None


def shopify(integration_id: int, incoming: Incoming) -> Answer:
    """A Shopify webhook (orders/*, refunds/create)."""
    integration, failure = _integration(integration_id, "shopify")
    if failure:
        return failure
    body = incoming.body
    if body is None:
        return _too_large()
    reason = signatures.check_base64_hmac(body, incoming.header("X-Shopify-Hmac-Sha256"), _secrets(integration),
                                          "X-Shopify-Hmac-SHA256")
    if reason:
        return _refused(integration, incoming, reason)
    topic = incoming.header("X-Shopify-Topic", "")
    delivery_id = (incoming.header("X-Shopify-Webhook-Id") or incoming.header("X-Shopify-Event-Id")
                   or _fallback_id(topic, body))
    try:
        triggered_at = parse_time(incoming.header("X-Shopify-Triggered-At"))
    except MalformedPayload:
        triggered_at = None
    data = _parse_or_none(body)
    resource = str(data.get("id") or "") if isinstance(data, dict) else ""
    if topic.startswith("refunds/") and isinstance(data, dict):
        resource = str(data.get("order_id") or resource)
    return _stored(ledger.store_delivery(integration.id, "shopify", delivery_id, body, incoming.headers, topic=topic,
                                         resource_id=resource, occurred_at=triggered_at))


def woocommerce(integration_id: int, incoming: Incoming) -> Answer:
    """A WooCommerce webhook (order.created, order.updated, order.deleted), or the ping sent on creation."""
    integration, failure = _integration(integration_id, "woocommerce")
    if failure:
        return failure
    body = incoming.body
    if body is None:
        return _too_large()
    signature = incoming.header("X-WC-Webhook-Signature")
    if not signature and WOOCOMMERCE_PING.match(body.strip()):
        # WooCommerce checks the URL with an unsigned "webhook_id=N" form post when a webhook is saved.
        return Answer(200, b'{"ping":true,"received":true}\n')
    reason = signatures.check_base64_hmac(body, signature, _secrets(integration), "X-WC-Webhook-Signature")
    if reason:
        return _refused(integration, incoming, reason)
    topic = incoming.header("X-WC-Webhook-Topic", "")
    data = _parse_or_none(body)
    resource = str(data.get("id") or "") if isinstance(data, dict) else ""
    modified = ""
    if isinstance(data, dict):
        modified = str(data.get("date_modified_gmt") or data.get("date_modified") or "")
    # The delivery id changes with every attempt, so the same change is recognised by what it says.
    if resource:
        delivery_id = f"{topic}:{resource}:{modified or _fallback_id(body)}"
    else:
        delivery_id = _fallback_id(topic, incoming.header("X-WC-Webhook-Delivery-ID", ""), body)
    try:
        occurred_at = woocommerce_mapping.modified_at(data) if isinstance(data, dict) else None
    except MalformedPayload:
        occurred_at = None  # stored anyway; processing says what is wrong with it
    return _stored(ledger.store_delivery(integration.id, "woocommerce", delivery_id, body, incoming.headers,
                                         topic=topic, resource_id=resource, occurred_at=occurred_at))


def generic(integration_id: int, incoming: Incoming) -> Answer:
    """Any other shop or middleware, signed the Standard Webhooks way, orders in API v1's detail shape."""
    integration, failure = _integration(integration_id, "generic")
    if failure:
        return failure
    body = incoming.body
    if body is None:
        return _too_large()
    headers = {key.lower(): value for key, value in incoming.headers.items()}
    reason = signatures.check_standard(body, headers, _secrets(integration), time.time())
    if reason:
        return _refused(integration, incoming, reason)
    data = _parse_or_none(body)
    topic, resource = "order.updated", ""
    if isinstance(data, dict):
        topic = str(data.get("type") or topic) if isinstance(data.get("data"), dict) else topic
        order = data["data"] if isinstance(data.get("data"), dict) else data
        resource = str(order.get("external_order_id") or order.get("id") or "")
    occurred_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    return _stored(ledger.store_delivery(integration.id, "generic", headers["webhook-id"], body, incoming.headers,
                                         topic=topic, resource_id=resource, occurred_at=occurred_at))


RECEIVERS: dict[str, Callable[[int, Incoming], Answer]] = {"shopify": shopify, "woocommerce": woocommerce,
                                                            "generic": generic}
for _kind in RECEIVERS:
    bp.add_url_rule(f"/{_kind}/<int:integration_id>", endpoint=_kind, build_only=True)
