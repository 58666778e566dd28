"""Signature schemes, without a database: good, bad, missing, rotated, replayed."""

from __future__ import annotations

import base64

from app.webhooks.signatures import check_base64_hmac, check_standard, sign_base64_hmac, sign_standard

BODY = b'{"id": 820982911946154508, "total_price": "64.00"}'


def test_shopify_and_woocommerce_signatures_are_checked_against_the_raw_body():
    signature = sign_base64_hmac(BODY, "secret-1")
    assert check_base64_hmac(BODY, signature, ["secret-1"], "X-Shopify-Hmac-SHA256") is None
    assert "does not match" in check_base64_hmac(BODY + b" ", signature, ["secret-1"], "X-Shopify-Hmac-SHA256")
    assert "does not match" in check_base64_hmac(BODY, signature, ["another"], "X-Shopify-Hmac-SHA256")
    assert "missing" in check_base64_hmac(BODY, None, ["secret-1"], "X-Shopify-Hmac-SHA256")
    assert "missing" in check_base64_hmac(BODY, "", ["secret-1"], "X-WC-Webhook-Signature")


def test_both_secrets_are_accepted_during_a_rotation():
    old, new = sign_base64_hmac(BODY, "old-secret"), sign_base64_hmac(BODY, "new-secret")
    assert check_base64_hmac(BODY, old, ["new-secret", "old-secret"], "h") is None
    assert check_base64_hmac(BODY, new, ["new-secret", "old-secret"], "h") is None
    assert check_base64_hmac(BODY, old, ["new-secret", ""], "h") is not None


def test_no_secret_configured_refuses_everything():
    assert "No webhook secret" in check_base64_hmac(BODY, sign_base64_hmac(BODY, ""), ["", ""], "h")


def test_standard_webhooks_signature_timestamp_and_several_entries():
    secret = "whsec_" + base64.b64encode(b"generic-key").decode()
    now = 1_764_590_400
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": sign_standard("msg_1", now, BODY, secret)}
    assert check_standard(BODY, headers, [secret], now) is None
    assert check_standard(BODY, headers, [secret], now + 299) is None
    assert "5 minutes" in check_standard(BODY, headers, [secret], now + 301)
    assert "5 minutes" in check_standard(BODY, headers, [secret], now - 301)
    # The signature covers the id and the timestamp: changing either breaks it.
    assert check_standard(BODY, {**headers, "webhook-id": "msg_2"}, [secret], now) is not None
    assert check_standard(BODY, {**headers, "webhook-timestamp": str(now + 1)}, [secret], now) is not None
    # Several entries (the sender's rotation) and several secrets (ours).
    other = "whsec_" + base64.b64encode(b"other-key").decode()
    both = f"v1,{'A' * 44} " + sign_standard("msg_1", now, BODY, other)
    assert check_standard(BODY, {**headers, "webhook-signature": both}, [secret, other], now) is None
    assert check_standard(BODY, {**headers, "webhook-signature": both}, [secret], now) is not None
    assert "required" in check_standard(BODY, {"webhook-id": "msg_1"}, [secret], now)
    assert "not a number" in check_standard(BODY, {**headers, "webhook-timestamp": "soon"}, [secret], now)
