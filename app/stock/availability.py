"""The availability rule: what a shop shows and allows for a product, from its supplier stock.

Pure, so it is tested without a database. At or above the threshold, orders are allowed
(PrestaShop out_of_stock = 1) and customers read the "available later" text with the supplier's
delivery days; below it, orders are denied (out_of_stock = 0) and they read the "unavailable" text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

ALLOW_ORDERS = 1
DENY_ORDERS = 0

DEFAULT_TEXTS = {
    "available_now": "In stock",
    "available_later": "Ships in {delivery_days} days",
    "unavailable": "Currently unavailable",
}


@dataclass(frozen=True)
class LanguageTexts:
    available_now: str = DEFAULT_TEXTS["available_now"]
    available_later: str = DEFAULT_TEXTS["available_later"]
    unavailable: str = DEFAULT_TEXTS["unavailable"]


@dataclass(frozen=True)
class AvailabilityRules:
    """The threshold and the texts per language, and optionally a shop's own texts per language."""

    threshold: int = 20
    texts: Mapping[int, LanguageTexts] = field(default_factory=dict)
    default_delivery_days: int = 3
    shop_texts: Mapping[int, Mapping[int, LanguageTexts]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "AvailabilityRules":
        """Read the rules from an integration's `availability` settings."""
        return cls(threshold=int(settings.get("threshold", 20)), texts=_language_texts(settings.get("texts")),
                   default_delivery_days=int(settings.get("default_delivery_days", 3)),
                   shop_texts={int(shop): _language_texts(texts)
                               for shop, texts in (settings.get("shop_texts") or {}).items()})


def _language_texts(raw: Mapping[str, Mapping[str, str]] | None) -> dict[int, LanguageTexts]:
    return {int(lang): LanguageTexts(**{k: v for k, v in values.items() if k in DEFAULT_TEXTS})
            for lang, values in (raw or {}).items()}


@dataclass(frozen=True)
class Availability:
    """What a product should say: orders allowed or not, and its texts per language (and per shop)."""

    out_of_stock: int
    texts: dict[int, tuple[str, str]]  # language id -> (available_now, available_later)
    shop_texts: dict[int, dict[int, tuple[str, str]]] = field(default_factory=dict)  # shop id -> as texts

    def key(self) -> list:
        """A JSON-friendly form, to compare two decisions."""
        return [self.out_of_stock, sorted([lang, now, later] for lang, (now, later) in self.texts.items()),
                sorted([shop, sorted([lang, now, later] for lang, (now, later) in texts.items())]
                       for shop, texts in self.shop_texts.items())]


def _render(template: str, delivery_days: int) -> str:
    # str.replace, not format(): a seller's text may contain other braces.
    return template.replace("{delivery_days}", str(delivery_days))[:255]


def decide(supplier: Mapping[str, Any] | None, rules: AvailabilityRules) -> Availability:
    """The availability for one product from its supplier's last word (None: no supplier data)."""
    stock = int((supplier or {}).get("stock_quantity") or 0)
    days = (supplier or {}).get("delivery_days")
    days = int(days) if days not in (None, "") else rules.default_delivery_days
    allowed = stock >= rules.threshold
    return Availability(ALLOW_ORDERS if allowed else DENY_ORDERS, _rendered(rules.texts, allowed, days),
                        {shop: _rendered(texts, allowed, days) for shop, texts in rules.shop_texts.items()})


def _rendered(texts: Mapping[int, LanguageTexts], allowed: bool, days: int) -> dict[int, tuple[str, str]]:
    rendered = {}
    for language, words in texts.items():
        later = words.available_later if allowed else words.unavailable
        rendered[language] = (_render(words.available_now, days), _render(later, days))
    return rendered
