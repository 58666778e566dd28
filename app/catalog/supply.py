"""What a link's supplier data means: the feed's rule for products it stops listing.

A supplier feed (an Integration of kind supplier_feed) says what to do with a product that was
in earlier imports and is missing now: keep its last known stock (the default), or take it as
stock 0 once it has been missing from `after_imports` finished imports in a row. Each finished
import counts, on every link it did not update, one more import without it
(`supplier_availability.missed_imports`); an import that lists the product again starts over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from flask_babel import gettext, lazy_gettext as _l, ngettext

KEEP = "keep"
ZERO = "zero"
MISSING_POLICIES = {KEEP: _l("Keep the last known stock"), ZERO: _l("Treat as stock 0 after some imports without it")}
DEFAULT_AFTER_IMPORTS = 3
MAX_AFTER_IMPORTS = 100


@dataclass(frozen=True)
class MissingPolicy:
    """A feed's rule for products it stopped listing."""

    policy: str = KEEP
    after_imports: int = DEFAULT_AFTER_IMPORTS

    @classmethod
    def of(cls, feed_settings: Mapping[str, Any] | None) -> MissingPolicy:
        """The rule in a feed's settings (keep, when none is set)."""
        settings = feed_settings or {}
        policy = settings.get("missing_products", KEEP)
        after = settings.get("missing_after", DEFAULT_AFTER_IMPORTS)
        return cls(policy if policy in MISSING_POLICIES else KEEP,
                   after if isinstance(after, int) and 1 <= after <= MAX_AFTER_IMPORTS else DEFAULT_AFTER_IMPORTS)

    @property
    def zeroes(self) -> bool:
        return self.policy == ZERO

    def applies_zero(self, missed_imports: int) -> bool:
        """True when a product missing from `missed_imports` imports is taken as stock 0."""
        return self.zeroes and missed_imports >= self.after_imports

    def describe(self) -> str:
        """The rule in words (the request's language), for the feed and the product link."""
        if self.zeroes:
            return ngettext("stock 0 after an import without it", "stock 0 after %(num)s imports without it",
                            self.after_imports)
        return gettext("last known stock kept")

    def describe_link(self, supplier: Mapping[str, Any] | None) -> str:
        """What applies to one link's supplier data now, in words (the request's language)."""
        if not supplier or supplier.get("stock_quantity") is None:
            return gettext("No supplier data: never written to the shop")
        missed = int(supplier.get("missed_imports") or 0)
        if not missed:
            return gettext("In the last import; if missing: %(rule)s", rule=self.describe())
        if self.applies_zero(missed):
            return ngettext("Missing from the last import: taken as stock 0",
                            "Missing from the last %(num)s imports: taken as stock 0", missed)
        if self.zeroes:
            return ngettext("Missing from the last import: last known stock kept until %(after)s imports",
                            "Missing from the last %(num)s imports: last known stock kept until %(after)s imports",
                            missed, after=self.after_imports)
        return ngettext("Missing from the last import: last known stock kept",
                        "Missing from the last %(num)s imports: last known stock kept", missed)


def missed_imports(supplier: Mapping[str, Any] | None) -> int:
    """How many finished imports in a row did not list the link's product."""
    return int((supplier or {}).get("missed_imports") or 0)
