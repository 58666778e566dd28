"""Encryption at rest for platform credentials (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from KONTOR_ENCRYPTION_KEY: a Fernet key, or any passphrase (it is stretched
with SHA-256). Development without the variable gets a key generated once into
instance/encryption.key; production refuses to store credentials without a configured key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class CredentialsUnavailable(RuntimeError):
    """Credentials cannot be encrypted or decrypted with the configured key."""


def _fernet_key(raw: str) -> bytes:
    try:
        key = raw.encode()
        Fernet(key)
        return key
    except (ValueError, TypeError):
        return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def _instance_key(instance_path: str) -> str:
    path = Path(instance_path) / "encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def cipher() -> Fernet:
    """The Fernet cipher for the configured key."""
    raw = current_app.config.get("KONTOR_ENCRYPTION_KEY")
    if not raw:
        if current_app.config.get("ENV_NAME") == "production":
            raise CredentialsUnavailable(
                "KONTOR_ENCRYPTION_KEY is not set; platform credentials cannot be stored or read."
            )
        raw = _instance_key(current_app.config["INSTANCE_PATH"])
    return Fernet(_fernet_key(raw))


def encrypt_json(data: dict[str, Any]) -> str:
    """Encrypt a dict of secrets to a text token for the database."""
    return cipher().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str | None) -> dict[str, Any]:
    """Decrypt what encrypt_json produced; an empty value is an empty dict."""
    if not token:
        return {}
    try:
        return json.loads(cipher().decrypt(token.encode()))
    except InvalidToken as error:
        raise CredentialsUnavailable(
            "Stored credentials cannot be decrypted: KONTOR_ENCRYPTION_KEY differs from the key they were saved with."
        ) from error


def mask(secret: str | None, visible: int = 4) -> str:
    """Show a secret as '••••••abcd' so people can tell which one is stored."""
    if not secret:
        return ""
    return "••••••" + secret[-visible:] if len(secret) > visible * 2 else "••••••"
