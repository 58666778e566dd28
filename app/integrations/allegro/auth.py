"""Allegro OAuth over HTTP: device flow and token refresh (no storage here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from app.core.secrets import hide_secrets
from app.integrations.base import AuthenticationFailed, PlatformError, ReconnectNeeded, TransientPlatformError, send

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval: int
    expires_in: int


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime


class AuthorizationPending(Exception):
    """The seller has not confirmed the device code yet (keep polling)."""

    def __init__(self, slow_down: bool = False) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


def _oauth_error(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.reason or ""
    return body.get("error", ""), body.get("error_description", "")


def _token_pair(body: dict, now: datetime) -> TokenPair:
    return TokenPair(body["access_token"], body.get("refresh_token", ""),
                     now + timedelta(seconds=int(body.get("expires_in", 43200))))


class AllegroAuth:
    """OAuth calls for one application (client id and secret)."""

    def __init__(self, client_id: str, client_secret: str, *, auth_url: str,
                 session: requests.Session | None = None) -> None:
        self.base = auth_url.rstrip("/")
        self.client_id = client_id
        self.session = session or requests.Session()
        self.session.auth = (client_id, client_secret)

    def start_device_flow(self) -> DeviceAuthorization:
        """Ask Allegro for a user code the seller confirms on allegro.pl."""
        response = send(self.session, "POST", f"{self.base}/device", data={"client_id": self.client_id},
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        if response.status_code in (400, 401):
            error, description = _oauth_error(response)
            raise AuthenticationFailed(f"Allegro refused the application: {description or error or response.reason}")
        if response.status_code >= 400:
            raise PlatformError(f"Allegro answered HTTP {response.status_code} to the device request.")
        body = response.json()
        return DeviceAuthorization(
            body["device_code"], body["user_code"], body["verification_uri"],
            body.get("verification_uri_complete") or body["verification_uri"],
            int(body.get("interval", 5)), int(body.get("expires_in", 3600)),
        )

    def poll_device_token(self, device_code: str, now: datetime) -> TokenPair:
        """Exchange a confirmed device code for tokens; AuthorizationPending until the seller confirms."""
        response = send(self.session, "POST", f"{self.base}/token",
                        params={"grant_type": DEVICE_GRANT, "device_code": device_code})
        if response.status_code == 200:
            return _token_pair(response.json(), now)
        error, description = _oauth_error(response)
        if error in ("authorization_pending", "slow_down"):
            raise AuthorizationPending(slow_down=error == "slow_down")
        if error == "access_denied":
            raise AuthenticationFailed("The seller declined the connection on Allegro.")
        raise AuthenticationFailed(
            f"Allegro did not connect: {hide_secrets(description or error, [device_code]) or response.status_code}")

    def refresh(self, refresh_token: str, now: datetime) -> TokenPair:
        """Trade the (single-use) refresh token for a new pair."""
        response = send(self.session, "POST", f"{self.base}/token",
                        params={"grant_type": "refresh_token", "refresh_token": refresh_token})
        if response.status_code == 200:
            return _token_pair(response.json(), now)
        error, description = _oauth_error(response)
        if error == "invalid_grant":
            # Allegro echoes the token in the description; the seller needs only what to do.
            raise ReconnectNeeded("Allegro no longer accepts Kontor's authorisation (invalid_grant): "
                                  "connect the account again with “Connect with Allegro”.", response.status_code)
        if response.status_code in (400, 401):
            raise AuthenticationFailed(
                f"Allegro refused the token refresh ({hide_secrets(description or error, [refresh_token])}); "
                "check the application's Client ID and Secret.", response.status_code)
        raise TransientPlatformError(f"Allegro token refresh failed (HTTP {response.status_code}).",
                                     response.status_code)
