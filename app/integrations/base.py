"""What every platform client speaks: plain DTOs, the client protocol, and its errors.

Clients know HTTP and their platform's format only; they take settings and credentials as
arguments and never touch the database or Flask.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, NamedTuple, Protocol

import requests
from flask_babel import lazy_gettext as _l
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential

from app.core.netguard import AddressRefused

log = logging.getLogger("kontor.platforms")

# Tests shrink the waits between attempts (never the number of attempts) with this factor.
RETRY_WAIT_SCALE = float(os.environ.get("KONTOR_PLATFORM_RETRY_SCALE", "1"))

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
TIMEOUTS = (CONNECT_TIMEOUT, READ_TIMEOUT)


@dataclass(frozen=True)
class PlatformStateDTO:
    external_id: str
    name: str
    colour: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class RemoteOrderState:
    """Where an order stands on the platform now (and its revision, where the platform has one)."""

    state_id: str
    revision: str | None = None


@dataclass(frozen=True)
class CarrierDTO:
    """A carrier the platform knows (Allegro's /order/carriers)."""

    id: str
    name: str


@dataclass(frozen=True)
class RemoteShipment:
    """A tracking number the platform already has on an order."""

    waybill: str
    carrier_id: str = ""
    carrier_name: str = ""


class PlatformError(Exception):
    """The platform refused or failed a call; `message` is meant for the seller."""

    retryable = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientPlatformError(PlatformError):
    """Worth trying again later: connection errors, timeouts, 5xx, 429."""

    retryable = True

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class AuthenticationFailed(PlatformError):
    """The credentials or token were refused (HTTP 401)."""


class ReconnectNeeded(AuthenticationFailed):
    """The platform no longer honours Kontor's authorisation (OAuth invalid_grant): connect again."""


class RevisionConflict(PlatformError):
    """The change was based on an outdated revision (Allegro HTTP 409): re-read and try again.

    Transient (the buyer or Allegro touched the order meanwhile), so it is retried like a 5xx,
    but never by resending the same request: the caller re-reads the revision first.
    """

    retryable = True


class OrderStatusClient(Protocol):
    """The calls the status push and the states sync need from a platform."""

    def check_connection(self) -> str: ...

    def fetch_states(self) -> list[PlatformStateDTO]: ...

    def fetch_order_state(self, external_order_id: str) -> RemoteOrderState: ...

    def set_order_state(self, external_order_id: str, state_id: str, revision: str | None = None) -> None: ...


def _wait_for(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, TransientPlatformError) and error.retry_after is not None:
        return min(error.retry_after, 60.0) * RETRY_WAIT_SCALE
    return wait_exponential(multiplier=1, min=1, max=4)(state) * RETRY_WAIT_SCALE


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("platform call failed (attempt %s), retrying: %s", state.attempt_number, error)


# Three attempts in all, waiting 1 s then 2 s (4 s would follow a fourth), or what Retry-After asks.
# A revision conflict is retried too; whoever resends must have re-read the revision (the push does).
with_retries: Callable = retry(
    retry=retry_if_exception(lambda e: isinstance(e, PlatformError) and e.retryable),
    stop=stop_after_attempt(3),
    wait=_wait_for,
    before_sleep=_log_retry,
    reraise=True,
)

# One request sent again as it was: a revision conflict would only repeat (a stale revision, or a
# command id already used), so it goes to the caller, who re-reads or takes the earlier outcome.
with_request_retries: Callable = retry(
    retry=retry_if_exception(lambda e: isinstance(e, PlatformError) and e.retryable
                             and not isinstance(e, RevisionConflict)),
    stop=stop_after_attempt(3),
    wait=_wait_for,
    before_sleep=_log_retry,
    reraise=True,
)


def send(session: requests.Session, method: str, url: str, **kwargs) -> requests.Response:
    """One HTTP call with Kontor's timeouts; network failures become TransientPlatformError."""
    try:
        response = session.request(method, url, timeout=TIMEOUTS, **kwargs)
    except AddressRefused as error:
        raise PlatformError(str(error)) from None
    except requests.Timeout as error:
        raise TransientPlatformError(f"The platform did not answer in time ({error.__class__.__name__}).") from error
    except requests.ConnectionError as error:
        raise TransientPlatformError(f"Could not connect to the platform: {_short(error)}") from error
    if response.status_code == 429:
        raise TransientPlatformError("The platform is rate-limiting us (HTTP 429).", 429,
                                     retry_after=_retry_after(response))
    if response.status_code >= 500:
        raise TransientPlatformError(f"The platform had an internal error (HTTP {response.status_code}).",
                                     response.status_code, retry_after=_retry_after(response))
    return response


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime
        from datetime import datetime, timezone

        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


def _short(error: Exception) -> str:
    text = str(error)
    for needle, words in (("Connection refused", "the connection was refused"),
                          ("Name or service not known", "the host name does not resolve"),
                          ("Temporary failure in name resolution", "the host name does not resolve"),
                          ("timed out", "the connection timed out"),
                          ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not valid"),
                          ("RemoteDisconnected", "it closed the connection without answering"),
                          ("Connection reset", "it reset the connection")):
        if needle in text:
            return words
    return text.split("(Caused by")[0].strip()[:200] or error.__class__.__name__


# --- orders coming in from platforms -------------------------------------------------------


class MalformedPayload(ValueError):
    """A platform's order data that cannot be read; the message says what is wrong, for the seller."""


def whole_number(value: Any, what: str) -> int:
    """A count sent as a whole number (3, "3", 3.0); MalformedPayload for 2.7, "abc", true or infinity."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().removeprefix("-").isdigit():
        return int(value)
    raise MalformedPayload(_l("%(what)s “%(value)s” is not a whole number.", what=what, value=value))


def parse_iso_time(value: Any) -> datetime | None:
    """A platform's ISO 8601 time with its offset ("2018-10-12T10:12:32.321Z") as an aware datetime; None when absent."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedPayload(_l("“%(value)s” is not a date and time.", value=value)) from error
    if parsed.tzinfo is None:
        raise MalformedPayload(_l("“%(value)s” has no time zone.", value=value))
    return parsed


@dataclass(frozen=True)
class PlatformAddress:
    name: str = ""
    company: str = ""
    vat_id: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    country_code: str = ""
    phone: str = ""
    email: str = ""
    point_id: str = ""


@dataclass(frozen=True)
class PlatformOrderItem:
    name: str
    quantity: int
    unit_price_gross: Decimal
    vat_rate: Decimal = Decimal("0")
    sku: str = ""
    ean: str = ""
    external_item_id: str = ""
    discount_gross: Decimal = Decimal("0")
    # The listing it was bought from (Allegro offer id, PrestaShop product id): links it to a catalogue product.
    offer_id: str = ""


@dataclass(frozen=True)
class PlatformPayment:
    amount: Decimal
    external_payment_id: str = ""
    method: str = ""
    status: str = "completed"
    paid_at: datetime | None = None


@dataclass(frozen=True)
class PlatformShipment:
    external_id: str
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    status: str = "created"
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class PlatformOrder:
    """An order as a platform has it now; `state` is the platform's own state id (for pull mappings)."""

    external_id: str
    state: str
    updated_at: datetime | None = None
    number: str = ""
    currency: str = "PLN"
    ordered_at: datetime | None = None
    customer_name: str = ""
    customer_email: str = ""
    customer_phone: str = ""
    items: tuple[PlatformOrderItem, ...] = ()
    # Keyed by Kontor's address kinds: customer, billing, shipping, pickup.
    addresses: tuple[tuple[str, PlatformAddress], ...] = ()
    payments: tuple[PlatformPayment, ...] = ()
    shipments: tuple[PlatformShipment, ...] = ()
    shipping_gross: Decimal = Decimal("0")
    # The platform's own total, kept as the truth when given (discounts, rounding, taxes are its business).
    total_gross: Decimal | None = None
    payment_status: str = "pending"
    delivery_method: str = ""
    customer_comment: str = ""
    # The platform's own version tag (Allegro's checkout form revision), kept for the status push.
    revision: str = ""
    marketplace: str = ""


@dataclass(frozen=True)
class PlatformRefund:
    """Money given back on a platform order."""

    order_external_id: str
    refund_id: str
    amount: Decimal
    created_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True)
class PlatformDeletion:
    """The platform deleted (or trashed) the order."""

    order_external_id: str


# --- availability written into a shop ---------------------------------------------------


@dataclass(frozen=True)
class ShopItem:
    """A product (id_product_attribute 0) or one of its combinations, as the shop lists it."""

    id_product: int
    id_product_attribute: int
    reference: str
    ean13: str
    name: str


class AvailabilityWrite(NamedTuple):
    """What one product or combination should say in the shop (a tuple: a big sync makes 100,000).

    `texts` maps a language id to (available_now, available_later), for every shop;
    `shop_texts` maps a shop id to its own such map, used for that shop's languages it names.
    product_lang has no combination, so texts apply to the whole product: pass None for
    combination rows, or when texts should not be written at all.
    """

    id_product: int
    id_product_attribute: int
    out_of_stock: int
    texts: dict[int, tuple[str | None, str | None]] | None = None
    shop_texts: dict[int, dict[int, tuple[str | None, str | None]]] | None = None


@dataclass(frozen=True)
class RowChange:
    """One row that changes (or would change, in a dry run): its key and the columns before/after."""

    table: str
    key: dict[str, int]
    before: dict[str, object]
    after: dict[str, object]


@dataclass(frozen=True)
class MissingRow:
    """A row the write needed but the shop does not have (it is reported, never created)."""

    table: str
    key: dict[str, int]
    reason: str


@dataclass
class TableCounts:
    """Target rows of one table: changed, already right, or absent from the shop."""

    changed: int = 0
    unchanged: int = 0
    missing: int = 0

    def add(self, other: TableCounts) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.missing += other.missing


@dataclass
class AvailabilityReport:
    """The outcome of write_availability; a dry run reports the same diff without writing."""

    dry_run: bool
    products: int = 0  # writes given: products and combinations
    stock: TableCounts = field(default_factory=TableCounts)
    texts: TableCounts = field(default_factory=TableCounts)
    changed_rows: list[RowChange] = field(default_factory=list)
    missing_rows: list[MissingRow] = field(default_factory=list)
    # Every write (id_product, id_product_attribute) that lacks at least one row in the shop: all
    # of them, not a sample (missing_rows lists every row too; changed_rows is a sample). A missing product_lang row counts against the write that carried
    # the product's texts.
    missing_keys: set[tuple[int, int]] = field(default_factory=set)
    targets: list[str] = field(default_factory=list)
    chunks: int = 0
    duration: float = 0.0

    @property
    def changed(self) -> int:
        return self.stock.changed + self.texts.changed

    @property
    def unchanged(self) -> int:
        return self.stock.unchanged + self.texts.unchanged

    @property
    def missing(self) -> int:
        return self.stock.missing + self.texts.missing

    def summary(self) -> str:
        """One line for a run log."""
        verb = "would change" if self.dry_run else "changed"
        return (f"{self.products} products/combinations: stock_available {verb} {self.stock.changed}, "
                f"unchanged {self.stock.unchanged}, missing {self.stock.missing}; product_lang {verb} "
                f"{self.texts.changed}, unchanged {self.texts.unchanged}, missing {self.texts.missing} "
                f"({self.duration:.2f} s)")
