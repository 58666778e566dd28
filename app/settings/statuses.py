"""Order status definitions: the groups that give a status its behaviour, and the default flow.

Pure: no database. A status's *group* decides what the workflow allows, so a seller
can add their own statuses (say "waiting for supplier" in the processing group) and
the rules still hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


def N_(text: str) -> str:
    """Mark a default name for the catalogue; it is stored in English and translated where it is shown."""
    return text

# Groups in the order an order normally moves through them.
GROUPS: dict[str, str] = {
    "new": _l("New"),
    "processing": _l("Processing"),
    "shipped": _l("Shipped"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
    "returns": _l("Returns"),
}


@dataclass(frozen=True)
class StatusDef:
    code: str
    name: str
    group: str
    position: int
    final: bool = False
    colour: str = "#64748b"


DEFAULT_STATUSES: tuple[StatusDef, ...] = (
    StatusDef("draft", N_("Draft"), "new", 10, colour="#94a3b8"),
    StatusDef("awaiting_payment", N_("Awaiting payment"), "new", 20, colour="#f59e0b"),
    StatusDef("paid", N_("Paid"), "processing", 30, colour="#10b981"),
    StatusDef("awaiting_fulfillment", N_("Awaiting fulfillment"), "processing", 40, colour="#0ea5e9"),
    StatusDef("picking", N_("Picking"), "processing", 50, colour="#6366f1"),
    StatusDef("ready_for_shipment", N_("Ready for shipment"), "processing", 60, colour="#8b5cf6"),
    StatusDef("shipped", N_("Shipped"), "shipped", 70, colour="#2563eb"),
    StatusDef("completed", N_("Completed"), "completed", 80, final=True, colour="#15803d"),
    StatusDef("cancelled", N_("Cancelled"), "cancelled", 90, final=True, colour="#dc2626"),
    StatusDef("return_requested", N_("Return requested"), "returns", 100, colour="#ea580c"),
    StatusDef("returned", N_("Returned"), "returns", 110, final=True, colour="#9f1239"),
)
