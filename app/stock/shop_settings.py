"""A PrestaShop shop's availability settings: read them for the form, check and save what was typed.

The rules (ids as numbers, one text line per language, optional lines per shop, a MySQL DSN, texts for every language
written) live here so the settings page only shows and submits them.
"""

from __future__ import annotations
from flask_babel import lazy_gettext as _l

from typing import Any, Mapping

from app.core.errors import ValidationFailed
from app.extensions import db
from app.integrations.models import Integration
from app.integrations.services import check_dsn
from app.stock.services import database_settings


def _ids(raw: str, field: str) -> list[int]:
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValidationFailed(_l("Give ids as numbers separated by commas, e.g. 1, 2."), field=field)
    return [int(p) for p in parts]


def _texts(raw: str) -> dict[str, dict[str, str]]:
    texts = {}
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4 or not parts[0].isdigit():
            raise ValidationFailed(_l("Line %(number)s of the texts should read: id | in stock | available later | "
                                      "unavailable.", number=number), field="texts")
        texts[parts[0]] = {"available_now": parts[1], "available_later": parts[2], "unavailable": parts[3]}
    return texts


def _shop_texts(raw: str) -> dict[str, dict[str, dict[str, str]]]:
    texts: dict[str, dict[str, dict[str, str]]] = {}
    for number, line in enumerate((raw or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 5 or not parts[0].isdigit() or not parts[1].isdigit():
            raise ValidationFailed(_l("Line %(number)s of the shop texts should read: shop id | language id | in "
                                      "stock | available later | unavailable.", number=number), field="shop_texts")
        texts.setdefault(parts[0], {})[parts[1]] = {"available_now": parts[2], "available_later": parts[3],
                                                    "unavailable": parts[4]}
    return texts


def form_values(integration: Integration) -> dict[str, Any]:
    """The stored settings as the settings form shows them (ids and texts as text)."""
    database = database_settings(integration)
    availability = integration.settings.get("availability") or {}
    texts = availability.get("texts") or {}
    return {
        "enabled": availability.get("enabled", False), "prefix": database["prefix"],
        "shop_ids": ", ".join(map(str, database["shop_ids"])),
        "language_ids": ", ".join(map(str, database["language_ids"])),
        "threshold": availability.get("threshold", 20), "only_changed": database["only_changed"],
        "default_delivery_days": availability.get("default_delivery_days", 3),
        "texts": "\n".join(f"{lang} | {t['available_now']} | {t['available_later']} | {t['unavailable']}"
                           for lang, t in texts.items()),
        "shop_texts": "\n".join(f"{shop} | {lang} | {t['available_now']} | {t['available_later']} | {t['unavailable']}"
                                for shop, by_lang in (availability.get("shop_texts") or {}).items()
                                for lang, t in by_lang.items()),
    }


def save_settings(integration: Integration, values: Mapping[str, Any]) -> None:
    """Check the typed settings (form field names) and save them; a refusal names its field, saves nothing.

    An empty DSN keeps the stored one.
    """
    database = {"prefix": (values.get("prefix") or "").strip() or "ps_",
                "shop_ids": _ids(values.get("shop_ids"), "shop_ids"),
                "language_ids": _ids(values.get("language_ids"), "language_ids"),
                "only_changed": bool(values.get("only_changed"))}
    availability = {"enabled": bool(values.get("enabled")), "threshold": values.get("threshold"),
                    "default_delivery_days": values.get("default_delivery_days"),
                    "texts": _texts(values.get("texts")), "shop_texts": _shop_texts(values.get("shop_texts"))}
    missing = [str(lang) for lang in database["language_ids"] if str(lang) not in availability["texts"]]
    if missing:
        raise ValidationFailed(_l("Add the texts for language %(join)s.", join=', '.join(missing)), field="texts")
    integration.settings = {**integration.settings, "database": database, "availability": availability}
    if values.get("dsn"):
        integration.credentials = {**integration.credentials, "db_dsn": check_dsn(values["dsn"], "dsn")}
    db.session.commit()
