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
    threshold: int = 20
    texts: Mapping[int, LanguageTexts] = field(default_factory=dict)
    default_delivery_days: int = 3

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "AvailabilityRules":
        """Read the rules from an integration's `availability` settings."""
        texts = {int(lang): LanguageTexts(**{k: v for k, v in values.items() if k in DEFAULT_TEXTS})
                 for lang, values in (settings.get("texts") or {}).items()}
        return cls(threshold=int(settings.get("threshold", 20)), texts=texts,
                   default_delivery_days=int(settings.get("default_delivery_days", 3)))


@dataclass(frozen=True)
class Availability:
    out_of_stock: int
    texts: dict[int, tuple[str, str]]  # language id -> (available_now, available_later)

    def key(self) -> list:
        """A JSON-friendly form, to remember what was written and compare next time."""
        return [self.out_of_stock, sorted([lang, now, later] for lang, (now, later) in self.texts.items())]


def _render(template: str, delivery_days: int) -> str:
    # str.replace, not format(): a seller's text may contain other braces.
    return template.replace("{delivery_days}", str(delivery_days))[:255]


def decide(supplier: Mapping[str, Any] | None, rules: AvailabilityRules) -> Availability:
    """The availability for one product from its supplier's last word (None: no supplier data)."""
    stock = int((supplier or {}).get("stock_quantity") or 0)
    days = (supplier or {}).get("delivery_days")
    days = int(days) if days not in (None, "") else rules.default_delivery_days
    allowed = stock >= rules.threshold
    texts = {}
    for language, words in rules.texts.items():
        later = words.available_later if allowed else words.unavailable
        texts[language] = (_render(words.available_now, days), _render(later, days))
    return Availability(ALLOW_ORDERS if allowed else DENY_ORDERS, texts)
