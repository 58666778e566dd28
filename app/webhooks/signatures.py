"""Webhook signature schemes: Shopify, WooCommerce and Standard Webhooks. Pure, constant-time.

Each check takes every secret the integration currently accepts (two during a rotation) and
returns None when one matches, or the reason in words when none does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Iterable, Mapping

TOLERANCE_SECONDS = 5 * 60


def _b64_hmac(secret: bytes, message: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest())


def _matches_any(given: str, expected: Iterable[bytes]) -> bool:
    given_bytes = given.strip().encode()
    # Compare against every candidate (no early exit), so timing says nothing about which matched.
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given_bytes, candidate)
    return found


def check_base64_hmac(body: bytes, signature: str | None, secrets: Iterable[str], header: str) -> str | None:
    """Shopify (X-Shopify-Hmac-SHA256) and WooCommerce (X-WC-Webhook-Signature): base64 HMAC-SHA256 of the body."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return "No webhook secret is set for this integration."
    if not signature:
        return f"The {header} header is missing."
    if not _matches_any(signature, (_b64_hmac(s.encode(), body) for s in secrets)):
        return f"The {header} signature does not match the webhook secret."
    return None


def standard_secret_key(secret: str) -> bytes:
    """A Standard Webhooks secret ("whsec_" + base64) as key bytes; other text is used as it is."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def check_standard(body: bytes, headers: Mapping[str, str], secrets: Iterable[str], now: float) -> str | None:
    """Standard Webhooks: webhook-signature holds "v1,<base64>" entries over "{id}.{timestamp}.{body}"."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return "No webhook secret is set for this integration."
    message_id, timestamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp",
                                                                 "webhook-signature"))
    if not message_id or not timestamp or not signatures:
        return "The webhook-id, webhook-timestamp and webhook-signature headers are required."
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not a number of seconds."
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes away from Kontor's clock."
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = [_b64_hmac(standard_secret_key(s), signed) for s in secrets]
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and value and _matches_any(value, expected):
            return None
    return "No webhook-signature entry matches the webhook secret."


def sign_base64_hmac(body: bytes, secret: str) -> str:
    """What Shopify and WooCommerce send for `body` (for tests and tools)."""
    return _b64_hmac(secret.encode(), body).decode()


def sign_standard(message_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """A webhook-signature value for `body` (for tests and senders)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + _b64_hmac(standard_secret_key(secret), signed).decode()
