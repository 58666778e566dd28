"""Statuses and numbering: reading them fast, changing them safely."""

from __future__ import annotations

import re
from datetime import date

from time import monotonic

import redis
from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update

from app.core import cache, ordering, params
from app.core.errors import NotFound, ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.settings import numbering
from app.settings.models import NumberingScheme, OrderStatus, ShopPreferences
from app.settings.statuses import DEFAULT_STATUSES, GROUPS, StatusDef

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


def seed_defaults() -> None:
    """Create the default statuses and numbering scheme when they are missing."""
    existing = set(db.session.scalars(select(OrderStatus.code)))
    for status in DEFAULT_STATUSES:
        if status.code not in existing:
            db.session.add(
                OrderStatus(code=status.code, name=status.name, group=status.group, position=status.position,
                            is_final=status.final, colour=status.colour)
            )
    if db.session.scalar(select(func.count(NumberingScheme.id))) == 0:
        db.session.add(NumberingScheme())
    db.session.commit()
    _forget_cached_statuses()


def status_rows() -> list[OrderStatus]:
    """The status rows in their display order (for the settings page)."""
    return list(db.session.scalars(select(OrderStatus).order_by(OrderStatus.position, OrderStatus.id)))


# Statuses are read on nearly every page and change rarely: each process keeps them while the
# shared "statuses" version in Redis is unchanged, and at most a minute in any case.
_PROCESS_CACHE: dict = {"version": None, "defs": None, "until": 0.0}
PROCESS_CACHE_SECONDS = 60


def status_defs() -> dict[str, StatusDef]:
    """Every status by code, in display order."""
    if has_request_context() and "kontor_statuses" in g:
        return g.kontor_statuses
    try:
        version = cache.versions(["statuses"])["statuses"]
    except redis.RedisError:
        version = None
    entry = _PROCESS_CACHE
    if version is not None and entry["version"] == version and entry["until"] > monotonic():
        defs = entry["defs"]
    else:
        defs = {row.code: row.as_def() for row in status_rows()}
        if version is not None:
            entry.update(version=version, defs=defs, until=monotonic() + PROCESS_CACHE_SECONDS)
    if has_request_context():
        g.kontor_statuses = defs
    return defs


def _forget_cached_statuses() -> None:
    if has_request_context():
        g.pop("kontor_statuses", None)
    _PROCESS_CACHE.update(version=None, defs=None)
    cache.bump("statuses")


def _validate_status(name: str, colour: str, group: str) -> None:
    if not name.strip():
        raise ValidationFailed(_l("A status needs a name."), field="name")
    if not COLOUR_PATTERN.match(colour):
        raise ValidationFailed(_l("Colour must look like #1a2b3c."), field="colour")
    if group not in GROUPS:
        raise ValidationFailed(_l("Group must be one of: %(join)s.", join=', '.join(GROUPS)), field="group")


def add_status(code: str, name: str, colour: str, group: str, is_final: bool = False) -> OrderStatus:
    """Add a status at the end of the list."""
    code = code.strip().lower()
    if not CODE_PATTERN.match(code):
        raise ValidationFailed(
            _l("Code must start with a letter and use only lower-case letters, digits and _ (2-40 characters)."),
            field="code",
        )
    _validate_status(name, colour, group)
    if db.session.scalar(select(OrderStatus).where(OrderStatus.code == code)):
        raise ValidationFailed(_l("A status with code %(code)s already exists.", code=code), field="code")
    last = db.session.scalar(select(func.max(OrderStatus.position))) or 0
    status = OrderStatus(code=code, name=name.strip(), colour=colour, group=group, is_final=is_final,
                         position=last + 10)
    db.session.add(status)
    db.session.commit()
    _forget_cached_statuses()
    return status


def update_status(status_id: int, name: str, colour: str, group: str, is_final: bool) -> OrderStatus:
    """Rename, recolour or regroup a status; its code stays, so orders keep pointing at it."""
    status = db.session.get(OrderStatus, status_id) if params.is_id(status_id) else None
    if status is None:
        raise NotFound(_l("No such status."))
    _validate_status(name, colour, group)
    status.name, status.colour, status.group, status.is_final = name.strip(), colour, group, is_final
    db.session.commit()
    _forget_cached_statuses()
    return status


def move_status(status_id: int, direction: str) -> None:
    """Move a status one place up or down in the list."""
    moved = ordering.move(status_rows(), status_id, direction)
    if moved is None:
        raise NotFound(_l("No such status."))
    if moved:
        db.session.commit()
        _forget_cached_statuses()


def numbering_scheme() -> NumberingScheme:
    """The numbering scheme row (created by seed_defaults)."""
    scheme = db.session.scalar(select(NumberingScheme).order_by(NumberingScheme.id))
    if scheme is None:
        raise NotFound(_l("Order numbering is not set up; run `flask kontor setup`."))
    return scheme


def update_numbering(prefix: str, suffix: str, padding: int, reset: str) -> NumberingScheme:
    """Change how new order numbers look; numbers already given stay as they are."""
    if reset not in numbering.RESETS:
        raise ValidationFailed(_l("Reset must be one of: %(join)s.", join=', '.join(numbering.RESETS)), field="reset")
    if not 1 <= padding <= 12:
        raise ValidationFailed(_l("Padding must be between 1 and 12 digits."), field="padding")
    scheme = numbering_scheme()
    scheme.prefix, scheme.suffix, scheme.padding, scheme.reset = prefix, suffix, padding, reset
    db.session.commit()
    return scheme


def preview_number(scheme: NumberingScheme, today: date | None = None) -> str:
    """What the next order number will look like."""
    today = today or utcnow().date()
    counter, _ = numbering.next_counter(scheme.counter, scheme.period, scheme.reset, today)
    return numbering.format_number(scheme.prefix, counter, scheme.suffix, scheme.padding, today)


def next_order_number(today: date | None = None) -> str:
    """Take the next order number inside the caller's transaction.

    One UPDATE ... RETURNING increments the counter (restarting it in a new period), so
    two processes can never be handed the same number.
    """
    return next_order_numbers(1, today)[0]


def next_order_numbers(count: int, today: date | None = None) -> list[str]:
    """Take `count` consecutive order numbers in one UPDATE inside the caller's transaction (a batch import)."""
    if count < 1:
        return []
    today = today or utcnow().date()
    scheme = numbering_scheme()
    period = numbering.period_key(scheme.reset, today)
    prefix, suffix, padding = scheme.prefix, scheme.suffix, scheme.padding
    last = db.session.execute(
        update(NumberingScheme)
        .where(NumberingScheme.id == scheme.id)
        .values(
            counter=case((NumberingScheme.period == period, NumberingScheme.counter + count), else_=count),
            period=period,
        )
        .returning(NumberingScheme.counter)
    ).scalar_one()
    db.session.expire(scheme)  # the counter moved in the database; read it again when next needed
    return [numbering.format_number(prefix, counter, suffix, padding, today)
            for counter in range(last - count + 1, last + 1)]


SHIP_WITHIN_MAX_HOURS = 24 * 60


def preferences() -> ShopPreferences:
    """The shop's preferences row, created with the defaults the first time it is asked for."""
    row = db.session.scalar(select(ShopPreferences).order_by(ShopPreferences.id))
    if row is None:
        row = ShopPreferences(ship_within_hours=48)
        db.session.add(row)
        db.session.commit()
    return row


def ship_within_hours() -> int:
    """Hours after ordering by which a paid order should have shipped; older ones count as late."""
    value = db.session.scalar(select(ShopPreferences.ship_within_hours).order_by(ShopPreferences.id))
    return value or 48


def update_ship_within(hours: int) -> ShopPreferences:
    """Change the time to ship that makes an order late."""
    if not 1 <= hours <= SHIP_WITHIN_MAX_HOURS:
        raise ValidationFailed(_l("The time to ship must be between 1 and %(SHIP_WITHIN_MAX_HOURS)s hours.", SHIP_WITHIN_MAX_HOURS=SHIP_WITHIN_MAX_HOURS),
                               field="ship_within_hours")
    row = preferences()
    row.ship_within_hours = hours
    db.session.commit()
    cache.bump("orders")  # "late" in the cached list and dashboard depends on it
    return row
