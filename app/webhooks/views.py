"""The endpoints platforms call: verify the signature, store the raw delivery, answer 2xx.

No login and no CSRF token: a delivery proves itself with its signature. The work happens later,
in a job on the `orders` queue, so a platform never waits for Kontor (and never times out).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request

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


def _error(status: int, code: str, message: str):
    return jsonify(error=api_error(code, message)), status


def _read_body() -> bytes | None:
    """The raw body, or None when it is over the limit (whatever Content-Length claims)."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    body = request.stream.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


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
        return None, _error(404, "not_found", f"There is no {kind} integration {integration_id} in Kontor.")
    if not integration.enabled:
        return None, _error(409, "disabled", f"The integration “{integration.name}” is switched off in Kontor; "
                                             "switch it on to accept deliveries again.")
    return integration, None


def _headers() -> dict[str, str]:
    return {key: value for key, value in request.headers.items()}


def _refused(integration: Receiver, reason: str):
    log.warning("webhook delivery for integration %s refused from %s: %s", integration.id, request.remote_addr, reason)
    ledger.count_rejection(integration.id, reason)
    return _error(401, "bad_signature", reason)


def _stored(recorded: ledger.Recorded):
    # Built by hand, not by jsonify: every delivery gets this answer, and it has three fixed fields.
    body = f'{{"duplicate":{"true" if recorded.duplicate else "false"},"event_id":{int(recorded.event_id)},' \
           '"received":true}\n'
    return current_app.response_class(body, status=200, mimetype="application/json")


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


@bp.post("/shopify/<int:integration_id>")
def shopify(integration_id: int):
    """A Shopify webhook (orders/*, refunds/create)."""
    integration, failure = _integration(integration_id, "shopify")
    if failure:
        return failure
    body = _read_body()
    if body is None:
        return _error(413, "too_large", f"The body is over {MAX_BODY // 1024} KB.")
    reason = signatures.check_base64_hmac(body, request.headers.get("X-Shopify-Hmac-Sha256"), _secrets(integration),
                                          "X-Shopify-Hmac-SHA256")
    if reason:
        return _refused(integration, reason)
    topic = request.headers.get("X-Shopify-Topic", "")
    delivery_id = (request.headers.get("X-Shopify-Webhook-Id") or request.headers.get("X-Shopify-Event-Id")
                   or _fallback_id(topic, body))
    try:
        triggered_at = parse_time(request.headers.get("X-Shopify-Triggered-At"))
    except MalformedPayload:
        triggered_at = None
    data = _parse_or_none(body)
    resource = str(data.get("id") or "") if isinstance(data, dict) else ""
    if topic.startswith("refunds/") and isinstance(data, dict):
        resource = str(data.get("order_id") or resource)
    return _stored(ledger.store_delivery(integration.id, "shopify", delivery_id, body, _headers(), topic=topic,
                                         resource_id=resource, occurred_at=triggered_at))


@bp.post("/woocommerce/<int:integration_id>")
def woocommerce(integration_id: int):
    """A WooCommerce webhook (order.created, order.updated, order.deleted), or the ping sent on creation."""
    integration, failure = _integration(integration_id, "woocommerce")
    if failure:
        return failure
    body = _read_body()
    if body is None:
        return _error(413, "too_large", f"The body is over {MAX_BODY // 1024} KB.")
    signature = request.headers.get("X-WC-Webhook-Signature")
    if not signature and WOOCOMMERCE_PING.match(body.strip()):
        # WooCommerce checks the URL with an unsigned "webhook_id=N" form post when a webhook is saved.
        return jsonify(received=True, ping=True), 200
    reason = signatures.check_base64_hmac(body, signature, _secrets(integration), "X-WC-Webhook-Signature")
    if reason:
        return _refused(integration, reason)
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    data = _parse_or_none(body)
    resource = str(data.get("id") or "") if isinstance(data, dict) else ""
    modified = ""
    if isinstance(data, dict):
        modified = str(data.get("date_modified_gmt") or data.get("date_modified") or "")
    # The delivery id changes with every attempt, so the same change is recognised by what it says.
    if resource:
        delivery_id = f"{topic}:{resource}:{modified or _fallback_id(body)}"
    else:
        delivery_id = _fallback_id(topic, request.headers.get("X-WC-Webhook-Delivery-ID", ""), body)
    try:
        occurred_at = woocommerce_mapping.modified_at(data) if isinstance(data, dict) else None
    except MalformedPayload:
        occurred_at = None  # stored anyway; processing says what is wrong with it
    return _stored(ledger.store_delivery(integration.id, "woocommerce", delivery_id, body, _headers(),
                                         topic=topic, resource_id=resource, occurred_at=occurred_at))


@bp.post("/generic/<int:integration_id>")
def generic(integration_id: int):
    """Any other shop or middleware, signed the Standard Webhooks way, orders in API v1's detail shape."""
    integration, failure = _integration(integration_id, "generic")
    if failure:
        return failure
    body = _read_body()
    if body is None:
        return _error(413, "too_large", f"The body is over {MAX_BODY // 1024} KB.")
    headers = {key.lower(): value for key, value in request.headers.items()}
    reason = signatures.check_standard(body, headers, _secrets(integration), time.time())
    if reason:
        return _refused(integration, reason)
    data = _parse_or_none(body)
    topic, resource = "order.updated", ""
    if isinstance(data, dict):
        topic = str(data.get("type") or topic) if isinstance(data.get("data"), dict) else topic
        order = data["data"] if isinstance(data.get("data"), dict) else data
        resource = str(order.get("external_order_id") or order.get("id") or "")
    occurred_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), timezone.utc)
    return _stored(ledger.store_delivery(integration.id, "generic", headers["webhook-id"], body, _headers(),
                                         topic=topic, resource_id=resource, occurred_at=occurred_at))
