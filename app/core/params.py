"""Reading what people and clients send (query strings, forms, JSON): one place decides what is usable.

Everything that reaches the database passes through here first, so a value the database cannot hold
(an id past its integer range, a NUL byte, a string longer than its column, a date whose next day does
not exist, an amount past numeric(12,2)) becomes a message in words instead of a 500. Readers raise
`BadParameter` (400) or `NotFound` (404, for ids no row can have); the error handlers turn both into
a page, a fragment or the API's JSON `{error: {code, message}}`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from wtforms.validators import Length, StopValidation, ValidationError
from werkzeug.routing import IntegerConverter
from flask_babel import lazy_gettext as _l

from app.core.errors import BadParameter, NotFound

# PostgreSQL `integer`, the type of every id column.
ID_MAX = 2**31 - 1
# Dates outside these have no use in a back-office, and the day after 9999-12-31 does not exist.
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2999, 12, 31)
# numeric(12, 2): ten digits before the point.
MONEY_MAX = Decimal("9999999999.99")
NUL = "\x00"


def _label(name: str, label: str | None) -> str:
    return label or name.replace("_", " ")


def is_id(value: Any) -> bool:
    """True for an int a row id can be (1 .. 2**31-1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX


def loose_id(value: Any) -> Any:
    """An id sent as a string of digits ("3", as PHP clients send it) as the int; anything else unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 10:
            return int(text)
    return value


def int_arg(raw: Any, name: str, *, default: int | None = None, minimum: int | None = None,
            maximum: int | None = ID_MAX, label: str | None = None) -> int | None:
    """A whole number from a query, form or JSON value; empty gives `default`, anything else unusable raises."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise BadParameter(_l("The %(_label)s must be a whole number.", _label=_label(name, label)), field=name)
    text = str(raw).strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise BadParameter(_l("The %(_label)s must be a whole number, not “%(clean_text)s”.", _label=_label(name, label), clean_text=clean_text(text, 40)),
                           field=name)
    if len(digits) > 30:  # Python itself refuses to read numbers of a few thousand digits
        raise BadParameter(_l("The %(_label)s is far too large.", _label=_label(name, label)), field=name)
    value = int(text)
    if minimum is not None and value < minimum:
        raise BadParameter(_l("The %(_label)s must be at least %(minimum)s.", _label=_label(name, label), minimum=minimum), field=name)
    if maximum is not None and value > maximum:
        raise BadParameter(_l("The %(_label)s must be at most %(maximum)s.", _label=_label(name, label), maximum=maximum), field=name)
    return value


def page_arg(raw: Any, name: str = "page") -> int:
    """A page number (1 when not given); a number past the last page is the list's job to clamp."""
    value = int_arg(raw, name, default=1, minimum=1, maximum=None, label="page number")
    return min(value, ID_MAX)


def id_arg(raw: Any, name: str, *, what: str) -> int:
    """A row id: not a number raises BadParameter, a number no row can have raises NotFound."""
    value = int_arg(raw, name, minimum=None, maximum=None, label=f"{what} id")
    if value is None:
        raise BadParameter(_l("Give the %(what)s id as “%(name)s”.", what=what, name=name), field=name)
    if not is_id(value):
        raise NotFound(_l("There is no %(what)s %(value)s.", what=what, value=value))
    return value


def id_list(values: Iterable[Any], name: str, *, what: str, limit: int | None = None) -> list[int]:
    """Ids from a repeated form field or a JSON list, without repeats; ids no row can have are kept.

    Bulk actions report an unknown id on its own row ("does not exist") instead of refusing the
    whole request, so only values that are not whole numbers at all are refused here.
    """
    ids: list[int] = []
    for raw in values:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise BadParameter(_l("Each %(what)s id must be a whole number.", what=what), field=name)
        value = int_arg(raw, name, maximum=None, label=f"{what} id")
        if value is not None and value not in ids:
            ids.append(value)
    if limit is not None and len(ids) > limit:
        raise BadParameter(_l("At most %(limit)s %(what)ss at a time.", limit=limit, what=what), field=name)
    return ids


def date_arg(raw: Any, name: str, *, label: str | None = None) -> date | None:
    """A YYYY-MM-DD date between 1970 and 2999, or None when empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    try:
        value = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        value = None
    if value is None:
        raise BadParameter(_l("“%(clean_text)s” is not a date (use YYYY-MM-DD).", clean_text=clean_text(text, 40)), field=name)
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise BadParameter(_l("The %(_label)s must be between %(EARLIEST_DATE)s and %(LATEST_DATE)s.", _label=_label(name, label), EARLIEST_DATE=EARLIEST_DATE, LATEST_DATE=LATEST_DATE),
                           field=name)
    return value


def text_arg(raw: Any, name: str, *, max_length: int | None, label: str | None = None, strip: bool = True,
             nul: str = "refuse") -> str:
    """Text without NUL bytes and at most `max_length` characters; `nul="strip"` removes them instead."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise BadParameter(_l("The %(_label)s must be text.", _label=_label(name, label)), field=name)
    text = raw.strip() if strip else raw
    if NUL in text:
        if nul != "strip":
            raise BadParameter(_l("The %(_label)s contains a NUL character; remove it and try again.", _label=_label(name, label)),
                               field=name)
        text = text.replace(NUL, "")
    if max_length is not None and len(text) > max_length:
        raise BadParameter(_l("The %(_label)s is too long: at most %(max_length)s characters (this has %(length)s).",
                              _label=_label(name, label), max_length=max_length, length=len(text)), field=name)
    return text


def clean_text(value: Any, max_length: int | None = None) -> str:
    """Text from elsewhere (a platform, a feed) made storable: NUL bytes dropped, cut to `max_length`."""
    text = "" if value is None else str(value).replace(NUL, "").strip()
    return text[:max_length] if max_length is not None else text


def column_length(column: Any) -> int | None:
    """The length of a model's String column (`Order.customer_name`), so no limit is written twice."""
    return getattr(column.property.columns[0].type, "length", None)


def money_arg(raw: Any, name: str, *, label: str | None = None, minimum: Decimal | None = Decimal("0")) -> Decimal:
    """An amount that fits numeric(12,2), from a JSON number or text."""
    try:
        value = Decimal(str(raw).strip()) if not isinstance(raw, (bool, type(None))) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise BadParameter(_l("The %(_label)s must be an amount such as 12.50.", _label=_label(name, label)), field=name)
    if minimum is not None and value < minimum:
        raise BadParameter(_l("The %(_label)s cannot be below %(minimum)s.", _label=_label(name, label), minimum=minimum), field=name)
    if abs(value) > MONEY_MAX:
        raise BadParameter(_l("The %(_label)s is too large (at most %(MONEY_MAX)s).", _label=_label(name, label), MONEY_MAX=MONEY_MAX), field=name)
    return value


def fits_money(value: Decimal) -> bool:
    """True when an amount fits numeric(12,2)."""
    return value.is_finite() and abs(value) <= MONEY_MAX


# --- forms ---------------------------------------------------------------------------------


class NoNul:
    """WTForms validator: refuse text holding a NUL byte (no database column can store it)."""

    def __init__(self, message: str = _l("This contains a NUL character; remove it.")) -> None:
        self.message = message

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str) and NUL in field.data:
            raise ValidationError(self.message)


def text_validators(column: Any = None, *, max_length: int | None = None) -> list:
    """Validators for a text field stored in `column`: no NUL, and no longer than the column."""
    length = max_length if max_length is not None else (column_length(column) if column is not None else None)
    return [NoNul(), *([Length(max=length)] if length else [])]


class FitsMoney:
    """WTForms validator: an amount that is a finite number and fits numeric(12,2)."""

    def __call__(self, form, field) -> None:
        value = field.data
        if value is None:
            return
        if not isinstance(value, Decimal) or not fits_money(value):
            # Stop here: NaN would make the range validators after this one raise.
            raise StopValidation(f"Enter an amount up to {MONEY_MAX}.")


# --- routes ----------------------------------------------------------------------------------


class IdConverter(IntegerConverter):
    """`<int:id>` that matches only ids a row can have, so a huge id is a 404, never a database error."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)
