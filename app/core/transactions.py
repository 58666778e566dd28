"""One change, one transaction: commit it whole or roll it back, and say in words why it was refused.

Services wrap a change in `committed(...)`; views wrap a service call in `refusal_shown(...)` so
a refused change is rolled back and its reason appears next to the field it concerns.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy.exc import IntegrityError
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db

CHANGED_MEANWHILE = _l("The order was changed by someone else at the same moment; reload it and try again.")


@contextmanager
def committed(stale: str = CHANGED_MEANWHILE, duplicate: str | None = None) -> Iterator[None]:
    """Commit the block's changes; on any failure roll back, and answer a concurrent edit with a Conflict.

    `stale` words the conflict when another transaction changed the row first (its version moved on);
    with `duplicate`, a unique-key clash (two people doing the same at once) is a Conflict too.
    """
    try:
        yield
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(stale)
    except IntegrityError:
        db.session.rollback()
        if duplicate is None:
            raise
        raise Conflict(duplicate)
    except BaseException:
        db.session.rollback()
        raise


@dataclass
class Refusal:
    """Why a change was refused; empty (falsy) when it went through."""

    message: str | None = None

    def __bool__(self) -> bool:
        return self.message is not None


@contextmanager
def refusal_shown(form: Any = None, field: str = "") -> Iterator[Refusal]:
    """Run a change; if a service refuses it (ValidationFailed), roll back and keep the reason.

    With a form, the reason is added to the errors of the field it names (or `field`), so the
    page shows it there; either way the yielded Refusal carries it for a fragment to show.
    """
    refusal = Refusal()
    try:
        yield refusal
    except ValidationFailed as error:
        db.session.rollback()
        refusal.message = error.message
        if form is not None:
            target = getattr(form, error.field or field)
            target.errors = [*target.errors, error.message]  # a tuple until the form was validated
