"""Order status definitions: the groups that give a status its behaviour, and the default flow.

Pure: no database. A status's *group* decides what the workflow allows, so a seller
can add their own statuses (say "waiting for supplier" in the processing group) and
the rules still hold.
"""

from __future__ import annotations

from dataclasses import dataclass

# Groups in the order an order normally moves through them.
GROUPS: dict[str, str] = {
    "new": "New",
    "processing": "Processing",
    "shipped": "Shipped",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "returns": "Returns",
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
    StatusDef("draft", "Draft", "new", 10, colour="#94a3b8"),
    StatusDef("awaiting_payment", "Awaiting payment", "new", 20, colour="#f59e0b"),
    StatusDef("paid", "Paid", "processing", 30, colour="#10b981"),
    StatusDef("awaiting_fulfillment", "Awaiting fulfillment", "processing", 40, colour="#0ea5e9"),
    StatusDef("picking", "Picking", "processing", 50, colour="#6366f1"),
    StatusDef("ready_for_shipment", "Ready for shipment", "processing", 60, colour="#8b5cf6"),
    StatusDef("shipped", "Shipped", "shipped", 70, colour="#2563eb"),
    StatusDef("completed", "Completed", "completed", 80, final=True, colour="#15803d"),
    StatusDef("cancelled", "Cancelled", "cancelled", 90, final=True, colour="#dc2626"),
    StatusDef("return_requested", "Return requested", "returns", 100, colour="#ea580c"),
    StatusDef("returned", "Returned", "returns", 110, final=True, colour="#9f1239"),
)
