"""The order status workflow: which changes are allowed, and why a refused one is refused.

Pure: it reasons about StatusDef values only, so it is tested without a database.
Rules follow the status *group*, so statuses a seller adds behave like their group:

- an order moves freely between the "new" and "processing" statuses (steps can be skipped or undone);
- once shipped it cannot go back before shipping, and it can no longer be cancelled;
- returns can only be requested for orders that have been shipped;
- a final status (completed, cancelled, returned) is the end, except that a completed order
  can still get a return request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from app.settings.statuses import StatusDef

PRE_SHIPMENT = {"new", "processing"}
POST_SHIPMENT = {"shipped", "completed", "returns"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def check_transition(current_code: str, target_code: str, statuses: Mapping[str, StatusDef]) -> Decision:
    """Decide whether an order in `current_code` may move to `target_code`, with the reason if not."""
    target = statuses.get(target_code)
    if target is None:
        return Decision(False, f"There is no status “{target_code}”.")
    current = statuses.get(current_code)
    if current is None:
        # An order left in a deleted status may move anywhere that is not a return.
        if target.group == "returns":
            return Decision(False, f"A return needs a shipped order; this order's status “{current_code}” is unknown.")
        return ALLOWED
    if current.code == target.code:
        return Decision(False, f"The order is already “{current.name}”.")

    if current.final and not (current.group == "completed" and target.group == "returns"):
        if current.group == "completed":
            return Decision(False, f"“{current.name}” is a final status; only a return can still be requested.")
        return Decision(False, f"“{current.name}” is a final status; the order cannot change any more.")

    if target.group == "cancelled":
        if current.group in POST_SHIPMENT:
            return Decision(
                False,
                f"An order that has been shipped cannot be cancelled (it is “{current.name}”); request a return instead.",
            )
        return ALLOWED

    if target.group == "returns":
        if current.group in PRE_SHIPMENT:
            return Decision(False, f"A return can only be requested after shipping; the order is “{current.name}”.")
        if current.group == "returns" and target.position < current.position:
            return Decision(False, f"A return cannot go back from “{current.name}” to “{target.name}”.")
        return ALLOWED

    if current.group in POST_SHIPMENT and target.group in PRE_SHIPMENT:
        return Decision(
            False, f"The order has been shipped (“{current.name}”) and cannot go back to “{target.name}”."
        )
    if current.group == "returns" and target.group == "shipped":
        return Decision(False, f"A returned parcel cannot be marked “{target.name}” again; complete the order instead.")
    if current.group == "completed" and target.group == "shipped":
        return Decision(False, f"A completed order cannot go back to “{target.name}”.")
    return ALLOWED


def allowed_targets(current_code: str, statuses: Mapping[str, StatusDef]) -> list[StatusDef]:
    """The statuses an order in `current_code` may move to, in display order."""
    return [s for s in statuses.values() if check_transition(current_code, s.code, statuses)]
