"""Integrations: records, settings and secrets, clients, connection checks and Allegro tokens.

The platform's states and their mappings live in state_mappings; cursors and run history in progress.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlsplit
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, TypeVar

import requests
from flask import current_app
from sqlalchemy import select
from flask_babel import lazy_gettext as _l

from app.core import netguard, params
from app.core.crypto import mask
from app.core.events import bus
from app.core.secrets import hide_secrets
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db, redis_connection
from app.integrations.allegro.auth import AllegroAuth, AuthorizationPending
from app.integrations.allegro.client import ENVIRONMENTS, AllegroClient
from app.integrations.base import (
    RETRY_WAIT_SCALE,
    AuthenticationFailed,
    OrderStatusClient,
    PlatformError,
    ReconnectNeeded,
    TransientPlatformError,
)
from app.integrations.models import DIRECTIONS, Integration
from app.integrations.prestashop.database import DEFAULT_PREFIX, Language, PrestaShopDatabase, Shop, normalise_dsn
from app.integrations.prestashop.webservice import PrestaShopWebservice
from app.integrations.shopify.client import ShopifyClient
from app.integrations.woocommerce.client import WooCommerceClient

log = logging.getLogger("kontor.integrations")
T = TypeVar("T")

WEBHOOK_SECRETS = ("webhook_secret", "webhook_secret_previous")
SECRET_FIELDS = {"prestashop": ("api_key", "db_dsn"), "allegro": ("client_secret",),
                 "shopify": ("api_token", *WEBHOOK_SECRETS), "woocommerce": ("consumer_key", "consumer_secret",
                                                                        *WEBHOOK_SECRETS),
                 "generic": WEBHOOK_SECRETS}
# Every Shopify shop has a <name>.myshopify.com domain for the Admin API; nothing else is called.
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)
RECONNECT_NEEDED = "reconnect_needed"
REFRESH_ATTEMPTS = 4
REFRESH_RETRY_WAIT = 1.0  # seconds, growing per attempt: all attempts within about 6 s
INTEGRATION_RECONNECTED = "integrations.reconnected"


# --- records -----------------------------------------------------------------


def get_integration(integration_id: int) -> Integration:
    """The integration, or NotFound."""
    integration = db.session.get(Integration, integration_id) if params.is_id(integration_id) else None
    if integration is None:
        raise NotFound(_l("Integration %(integration_id)s does not exist.", integration_id=integration_id))
    return integration


def list_integrations() -> list[Integration]:
    """All integrations, by name."""
    return list(db.session.scalars(select(Integration).order_by(Integration.name)))


def needing_reconnect() -> list[Integration]:
    """Integrations whose authorisation the platform no longer accepts (the seller must connect again)."""
    return list(db.session.scalars(select(Integration).where(Integration.connection_state == RECONNECT_NEEDED)
                                   .order_by(Integration.name)))


# Settings holding an address Kontor calls, with the field the seller typed it in.
ADDRESS_SETTINGS = ("shop_url", "site_url", "api_url", "auth_url")


def platform_session() -> requests.Session:
    """An HTTP session for platform calls: public addresses only, or hosts in KONTOR_PLATFORM_ALLOWED_HOSTS."""
    return netguard.guarded_session(current_app.config.get("PLATFORM_ALLOWED_HOSTS", ()))


def _check_addresses(settings: dict[str, Any]) -> None:
    """Refuse a typed platform address on the local or private network before it is saved."""
    allowed = netguard.normalised_hosts(current_app.config.get("PLATFORM_ALLOWED_HOSTS", ()))
    for field in ADDRESS_SETTINGS:
        value = str(settings.get(field) or "").strip()
        if not value:
            continue
        try:
            parts = urlsplit(value)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValidationFailed(_l("This is not a valid http:// or https:// address."), field=field) from None
        if not parts.hostname:
            raise ValidationFailed(_l("This is not a valid http:// or https:// address."), field=field)
        try:
            netguard.checked_addresses(parts.hostname, port, allowed, "KONTOR_PLATFORM_ALLOWED_HOSTS")
        except netguard.AddressRefused as refused:
            raise ValidationFailed(refused.args[0], field=field) from None
        except (OSError, UnicodeError):
            pass  # a name that does not resolve yet is the Test connection's to report


def _validate_settings(kind: str, settings: dict[str, Any], secrets: dict[str, str], existing: dict) -> None:
    _check_addresses(settings)
    if kind == "prestashop":
        url = settings.get("shop_url", "")
        if not url.startswith(("http://", "https://")):
            raise ValidationFailed(_l("The shop URL must start with http:// or https://."), field="shop_url")
        if not (secrets.get("api_key") or existing.get("api_key") or secrets.get("db_dsn")
                or existing.get("db_dsn")):
            raise ValidationFailed(_l("Enter the webservice key from PrestaShop > Advanced parameters > Webservice, "
                                      "or the shop database (DSN) if Kontor uses the shop only through its database."),
                                   field="api_key")
        if secrets.get("db_dsn"):
            check_dsn(secrets["db_dsn"])
        if not str(settings.get("language_id", "1")).isdigit():
            raise ValidationFailed(_l("The language id is a number (1 is usually the shop's first language)."),
                                   field="language_id")
    elif kind == "allegro":
        if settings.get("environment") not in ENVIRONMENTS:
            raise ValidationFailed(_l("Choose production or sandbox."), field="environment")
        if not settings.get("client_id"):
            raise ValidationFailed(_l("Enter the Client ID of your Allegro application."), field="client_id")
        if not (secrets.get("client_secret") or existing.get("client_secret")):
            raise ValidationFailed(_l("Enter the Client Secret of your Allegro application."), field="client_secret")
    elif kind == "shopify":
        if not SHOP_DOMAIN.match(settings.get("shop_domain", "")):
            raise ValidationFailed(_l("Enter the shop's myshopify.com domain, e.g. your-shop.myshopify.com "
                                      "(Shopify admin › Settings › Domains)."), field="shop_domain")
        if not (secrets.get("api_token") or existing.get("api_token")):
            raise ValidationFailed(_l("Enter the Admin API access token of the shop's custom app."), field="api_token")
    elif kind == "woocommerce":
        if not settings.get("site_url", "").startswith(("http://", "https://")):
            raise ValidationFailed(_l("The site URL must start with http:// or https://."), field="site_url")
        for key, label in (("consumer_key", "consumer key"), ("consumer_secret", "consumer secret")):
            if not (secrets.get(key) or existing.get(key)):
                raise ValidationFailed(_l("Enter the REST API %(label)s from WooCommerce > Settings > Advanced > REST API.", label=label),
                                       field=key)
    elif kind != "generic":
        raise ValidationFailed(_l("Unknown integration kind %(kind)s.", kind=kind), field="kind")
    if kind in ("shopify", "woocommerce", "generic"):
        if not (secrets.get("webhook_secret") or existing.get("webhook_secret")):
            raise ValidationFailed(_l("Enter the webhook secret: deliveries signed with anything else are refused."),
                                   field="webhook_secret")


def check_dsn(dsn: str, field: str = "db_dsn") -> str:
    """The DSN, if it names a MySQL/MariaDB database; else ValidationFailed (never repeating it: it holds a password)."""
    try:
        url = normalise_dsn(dsn)
    except ValueError:
        url = None
    if url is None or not url.host:
        raise ValidationFailed(_l("The DSN must look like mysql://user:password@host:3306/database."), field=field)
    allowed = netguard.normalised_hosts(current_app.config.get("SHOP_DATABASE_HOSTS", ()))
    try:
        netguard.checked_addresses(url.host, url.port or 3306, allowed, "KONTOR_SHOP_DATABASE_HOSTS")
    except netguard.AddressRefused as refused:
        raise ValidationFailed(refused.args[0], field=field) from None
    except (OSError, UnicodeError):
        pass  # a name that does not resolve yet is the Test database button's to report
    return dsn.strip()


def save_integration(integration: Integration | None, *, kind: str, name: str, settings: dict[str, Any],
                     secrets: dict[str, str]) -> Integration:
    """Create or update an integration; an empty secret field keeps the stored secret."""
    if not name.strip():
        raise ValidationFailed(_l("Give the integration a name, e.g. the shop's domain."), field="name")
    existing = integration.credentials if integration and integration.credentials_encrypted else {}
    _validate_settings(kind, settings, secrets, existing)
    if integration is None:
        integration = Integration(kind=kind, sync_direction="off", settings={})
        db.session.add(integration)
    credentials = dict(existing)
    for key, value in secrets.items():
        if value:
            credentials[key] = value
        elif value is None:  # asked to forget it
            credentials.pop(key, None)
    changed_app = kind == "allegro" and integration.settings and (
        integration.settings.get("client_id") != settings.get("client_id")
        or integration.settings.get("environment") != settings.get("environment"))
    if changed_app:
        # Tokens belong to one application in one environment; a new one must be connected again.
        for key in ("access_token", "refresh_token", "device_code"):
            credentials.pop(key, None)
        integration.token_expires_at = None
        integration.connection_state = "unknown"
    integration.name = name.strip()
    integration.settings = {**(integration.settings or {}), **settings}
    integration.credentials = credentials
    db.session.commit()
    return integration


def masked_secrets(integration: Integration) -> dict[str, str]:
    """The stored secrets as '••••abcd', for showing that one is set."""
    credentials = integration.credentials if integration.credentials_encrypted else {}
    return {key: mask(credentials.get(key)) for key in SECRET_FIELDS.get(integration.kind, ())}


def set_direction(integration_id: int, direction: str) -> Integration:
    """Set which way statuses flow for this integration."""
    if direction not in DIRECTIONS:
        raise ValidationFailed(_l("Direction must be one of: %(join)s.", join=', '.join(DIRECTIONS)), field="sync_direction")
    integration = get_integration(integration_id)
    integration.sync_direction = direction
    db.session.commit()
    return integration


def set_enabled(integration_id: int, enabled: bool) -> Integration:
    """Switch an integration on or off (off: nothing is pushed or pulled)."""
    integration = get_integration(integration_id)
    integration.enabled = enabled
    db.session.commit()
    return integration


# --- clients and Allegro tokens ------------------------------------------------


def allegro_urls(integration: Integration) -> dict[str, str]:
    """API and auth base URLs for the integration's environment (overridable for tests and proxies)."""
    urls = dict(ENVIRONMENTS[integration.settings.get("environment", "production")])
    urls["api"] = integration.settings.get("api_url") or urls["api"]
    urls["auth"] = integration.settings.get("auth_url") or urls["auth"]
    return urls


def allegro_auth(integration: Integration) -> AllegroAuth:
    credentials = integration.credentials
    return AllegroAuth(integration.settings.get("client_id", ""), credentials.get("client_secret", ""),
                       auth_url=allegro_urls(integration)["auth"], session=platform_session())


def client_for(integration: Integration, access_token: str | None = None) -> OrderStatusClient:
    """The platform client for an integration, built from its settings and decrypted secrets."""
    if integration.kind == "prestashop":
        if not integration.credentials.get("api_key"):
            raise PlatformError("This shop is used through its database only: add the webservice key (PrestaShop > "
                                "Advanced parameters > Webservice) for statuses and orders.")
        return PrestaShopWebservice(
            integration.settings.get("shop_url", ""), integration.credentials.get("api_key", ""),
            language_id=integration.settings.get("language_id", 1),
            send_email=bool(integration.settings.get("send_email")), session=platform_session(),
        )
    if integration.kind == "allegro":
        token = access_token or integration.credentials.get("access_token")
        if not token:
            raise AuthenticationFailed("Allegro is not connected yet: use “Connect with Allegro”.")
        return AllegroClient(token, api_url=allegro_urls(integration)["api"], session=platform_session())
    if integration.kind == "shopify":
        return ShopifyClient(shopify_api_url(integration), integration.credentials.get("api_token", ""),
                             session=platform_session())
    if integration.kind == "woocommerce":
        credentials = integration.credentials
        return WooCommerceClient(integration.settings.get("site_url", ""), credentials.get("consumer_key", ""),
                                 credentials.get("consumer_secret", ""), session=platform_session())
    raise PlatformError(f"Kontor does not call {integration.kind_name} platforms; they send deliveries to Kontor.")


def shopify_api_url(integration: Integration) -> str:
    """https://<shop domain> (or the override for a proxy or a test server)."""
    return integration.settings.get("api_url") or f"https://{integration.settings.get('shop_domain', '')}"


def _fresh(integration_id: int) -> Integration:
    return db.session.get(Integration, integration_id, populate_existing=True)


def refresh_allegro_token(integration_id: int, seen_access_token: str | None) -> str:
    """Get a new access token, refreshing at most once across all workers.

    Allegro refresh tokens are single-use, so the refresh runs under a Redis lock and the new
    pair is committed before the lock is released. A worker that waited for the lock finds
    the token already changed and uses it instead of refreshing again.
    """
    lock = redis_connection.client.lock(f"kontor:allegro-token:{integration_id}", timeout=60, blocking_timeout=60)
    if not lock.acquire():
        raise PlatformError("Another worker is still refreshing the Allegro token; will retry.")
    try:
        db.session.commit()  # end any open transaction so the next read sees other workers' commits
        integration = _fresh(integration_id)
        credentials = integration.credentials
        current = credentials.get("access_token")
        if current and current != seen_access_token:
            return current
        refresh_token = credentials.get("refresh_token")
        if not refresh_token:
            raise AuthenticationFailed("Allegro is not connected (no refresh token); connect the account again.")
        try:
            pair = _refresh_at_once(integration, refresh_token)
        except AuthenticationFailed as error:
            reconnect = isinstance(error, ReconnectNeeded)
            integration.connection_state = RECONNECT_NEEDED if reconnect else "error"
            integration.connection_message = hide_secrets(error.message, credentials.values())
            integration.connection_checked_at = utcnow()
            db.session.commit()
            raise
        credentials.update(access_token=pair.access_token, refresh_token=pair.refresh_token or refresh_token)
        integration.credentials = credentials
        integration.token_expires_at = pair.expires_at
        db.session.commit()
        log.info("Allegro token of integration %s refreshed; valid until %s", integration_id, pair.expires_at)
        return pair.access_token
    finally:
        try:
            lock.release()
        except Exception:  # the lock timed out under a very slow refresh
            log.warning("Allegro token lock of integration %s expired before release", integration_id)


def _refresh_at_once(integration: Integration, refresh_token: str):
    """Refresh, retrying a lost answer within seconds (the caller holds the lock).

    A refresh Allegro applied but whose answer got lost (5xx, timeout) has used the single-use
    refresh token; Allegro takes it once more only shortly afterwards, so the retry comes at
    once, not with the push's minutes of backoff.
    """
    auth = allegro_auth(integration)
    for attempt in range(1, REFRESH_ATTEMPTS + 1):
        try:
            return auth.refresh(refresh_token, utcnow())
        except TransientPlatformError as error:
            if attempt == REFRESH_ATTEMPTS:
                raise
            log.warning("Allegro token refresh of integration %s got no answer (%s); retrying at once",
                        integration.id, error.message)
            time.sleep(REFRESH_RETRY_WAIT * attempt * RETRY_WAIT_SCALE)


def call_platform(integration: Integration, call: Callable[[OrderStatusClient], T]) -> T:
    """Run `call` with the integration's client; for Allegro, refresh an expired token once and retry once."""
    if integration.kind != "allegro":
        return call(client_for(integration))
    token = integration.credentials.get("access_token")
    expires = integration.token_expires_at
    if token and expires and expires - TOKEN_REFRESH_MARGIN <= utcnow():
        token = refresh_allegro_token(integration.id, token)
    try:
        return call(client_for(integration, token))
    except AuthenticationFailed:
        if not integration.credentials.get("refresh_token"):
            raise
        token = refresh_allegro_token(integration.id, token)
        return call(client_for(_fresh(integration.id), token))


def test_connection(integration_id: int) -> Integration:
    """Try the credentials against the platform and record the outcome in words."""
    integration = get_integration(integration_id)
    try:
        if integration.kind == "prestashop" and _database_only(integration):
            message = check_database(integration)
        else:
            message = call_platform(integration, lambda client: client.check_connection())
        integration.connection_state, integration.connection_message = "ok", params.clean_text(message)
    except PlatformError as error:
        state = RECONNECT_NEEDED if isinstance(error, ReconnectNeeded) else "error"
        integration.connection_state = state
        integration.connection_message = params.clean_text(hide_secrets(error.message,
                                                                        integration.credentials.values()))
    integration.connection_checked_at = utcnow()
    db.session.commit()
    return integration


def _database_only(integration: Integration) -> bool:
    credentials = integration.credentials
    return bool(credentials.get("db_dsn")) and not credentials.get("api_key")


@dataclass(frozen=True)
class DatabaseCheck:
    """What a PrestaShop database holds: the check in words, its shops and languages to pick from."""

    message: str
    shops: tuple[Shop, ...] = ()
    languages: tuple[Language, ...] = ()
    sharing_groups: frozenset[int] = frozenset()


def check_database(integration: Integration, dsn: str | None = None, prefix: str | None = None) -> str:
    """Connect to a PrestaShop integration's database and say what was found, in words (PlatformError if not)."""
    return inspect_database(integration, dsn, prefix, with_lists=False).message


def inspect_database(integration: Integration, dsn: str | None = None, prefix: str | None = None, *,
                     with_lists: bool = True) -> DatabaseCheck:
    """Check the DSN (typed, else the stored one) and the table prefix; list the shop's shops and languages.

    PlatformError says what is wrong in words (tables missing under the prefix: which prefix the
    database does have), never with the DSN's password.
    """
    dsn = (dsn or "").strip() or integration.credentials.get("db_dsn")
    if not dsn:
        raise PlatformError("No shop database (DSN) is set: type it in first.")
    if prefix is None:
        prefix = (integration.settings.get("database") or {}).get("prefix", DEFAULT_PREFIX)
    try:
        with PrestaShopDatabase(check_dsn(dsn), prefix.strip() or DEFAULT_PREFIX) as shop:
            message = shop.check()
            if not with_lists:
                return DatabaseCheck(message)
            return DatabaseCheck(message, tuple(shop.shops()), tuple(shop.languages()),
                                 frozenset(shop.groups_sharing_stock()))
    except ValidationFailed as error:
        raise PlatformError(error.message) from None
    except ValueError as error:
        raise PlatformError(str(error)) from None
    except PlatformError as error:
        raise PlatformError(_without_secret(error.message, dsn)) from None


def _without_secret(message: str, dsn: str) -> str:
    try:
        password = normalise_dsn(dsn).password
    except ValueError:
        password = None
    for secret in filter(None, (dsn, password)):
        message = message.replace(secret, "•••")
    return message


def start_allegro_connection(integration_id: int) -> dict[str, Any]:
    """Begin the device flow: returns the user code and the link the seller opens."""
    integration = get_integration(integration_id)
    if integration.kind != "allegro":
        raise ValidationFailed(_l("Only Allegro integrations connect with the device flow."))
    device = allegro_auth(integration).start_device_flow()
    credentials = integration.credentials
    credentials["device_code"] = device.device_code
    integration.credentials = credentials
    pending = {"user_code": device.user_code, "verification_uri": device.verification_uri,
               "verification_uri_complete": device.verification_uri_complete, "interval": device.interval,
               "expires_at": (utcnow() + timedelta(seconds=device.expires_in)).isoformat()}
    integration.settings = {**integration.settings, "device": pending}
    integration.connection_state, integration.connection_message = "connecting", "Waiting for the seller to confirm."
    db.session.commit()
    return pending


def poll_allegro_connection(integration_id: int) -> str:
    """Check whether the seller confirmed: 'pending', 'connected' or 'expired'; errors raise."""
    integration = get_integration(integration_id)
    device = integration.settings.get("device")
    device_code = integration.credentials.get("device_code")
    if not device or not device_code:
        return "connected" if integration.credentials.get("access_token") else "expired"
    if device["expires_at"] < utcnow().isoformat():
        _end_device_flow(integration, "error", "The code expired before it was confirmed; start again.")
        return "expired"
    try:
        pair = allegro_auth(integration).poll_device_token(device_code, utcnow())
    except AuthorizationPending:
        return "pending"
    except AuthenticationFailed as error:
        _end_device_flow(integration, "error", hide_secrets(error.message, [device_code]))
        raise
    credentials = integration.credentials
    credentials.update(access_token=pair.access_token, refresh_token=pair.refresh_token)
    credentials.pop("device_code", None)
    integration.credentials = credentials
    integration.token_expires_at = pair.expires_at
    # Operations that waited for the reconnect become due now (in this transaction).
    bus.publish(db.session, INTEGRATION_RECONNECTED, {"integration_id": integration.id})
    _end_device_flow(integration, "ok", "Connected to Allegro.")
    return "connected"


def _end_device_flow(integration: Integration, state: str, message: str) -> None:
    integration.settings = {k: v for k, v in integration.settings.items() if k != "device"}
    integration.connection_state, integration.connection_message = state, params.clean_text(message)
    integration.connection_checked_at = utcnow()
    db.session.commit()
