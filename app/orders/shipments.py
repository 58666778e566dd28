"""An order's shipments: a seller adds a parcel (carrier, tracking number) by hand or through the API.

Adding one publishes `order.shipment_added` inside the transaction, so a higher domain (sync)
can write its own rows atomically with the shipment; orders knows nothing of who listens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from flask_babel import lazy_gettext as _l

from app.core.errors import NotFound, ValidationFailed
from app.core.events import bus
from app.core.types import utcnow
from app.extensions import db
from app.orders.models import Order, OrderShipment
from app.orders.services import Actor, record_event

SHIPMENT_ADDED = "order.shipment_added"

# What both Allegro (waybill, at most 64 characters) and PrestaShop (isTrackingNumber) accept.
TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:+\-]*$")
MAX_TRACKING = 64
MAX_CARRIER = 60


@dataclass(frozen=True)
class ShipmentInput:
    carrier: str
    tracking_number: str
    service: str = ""

    def cleaned(self) -> "ShipmentInput":
        """The same input with surrounding blanks removed."""
        return ShipmentInput(" ".join(self.carrier.split()), self.tracking_number.strip(), self.service.strip())


def validate_shipment(data: ShipmentInput) -> None:
    """Raise ValidationFailed, naming the field, unless a platform would take this shipment."""
    if not data.carrier:
        raise ValidationFailed(_l("Name the carrier, e.g. InPost or DPD."), field="carrier")
    if len(data.carrier) > MAX_CARRIER:
        raise ValidationFailed(_l("The carrier's name is at most %(MAX_CARRIER)s characters.", MAX_CARRIER=MAX_CARRIER), field="carrier")
    if not data.tracking_number:
        raise ValidationFailed(_l("Enter the tracking number from the label."), field="tracking_number")
    if len(data.tracking_number) > MAX_TRACKING:
        raise ValidationFailed(_l("A tracking number is at most %(MAX_TRACKING)s characters.", MAX_TRACKING=MAX_TRACKING), field="tracking_number")
    if not TRACKING_NUMBER.match(data.tracking_number):
        raise ValidationFailed(_l("A tracking number holds letters, digits, spaces and . _ / # : + - only."),
                               field="tracking_number")
    if len(data.service) > MAX_CARRIER:
        raise ValidationFailed(_l("The service's name is at most %(MAX_CARRIER)s characters.", MAX_CARRIER=MAX_CARRIER), field="service")


def add_shipment(order_id: int, data: ShipmentInput, actor: Actor) -> OrderShipment:
    """Add a parcel to the order in one transaction with whatever the event's listeners record."""
    data = data.cleaned()
    validate_shipment(data)
    try:
        order = db.session.get(Order, order_id)
        if order is None:
            raise NotFound(_l("Order %(order_id)s does not exist.", order_id=order_id))
        if any(s.tracking_number == data.tracking_number for s in order.shipments):
            raise ValidationFailed(_l("The order already has a shipment with tracking number %(tracking_number)s.", tracking_number=data.tracking_number),
                                   field="tracking_number")
        now = utcnow()
        shipment = OrderShipment(order=order, carrier=data.carrier, service=data.service,
                                 tracking_number=data.tracking_number, status="created", created_at=now)
        db.session.add(shipment)
        db.session.flush()
        label = f"{data.carrier} {data.service}".strip()
        record_event(order, "shipment_added", _l("Shipment added: %(label)s, tracking %(number)s", label=label,
                                                    number=data.tracking_number), actor,
                     data={"shipment_id": shipment.id})
        bus.publish(db.session, SHIPMENT_ADDED, {
            "order_id": order.id, "shipment_id": shipment.id, "integration_id": order.integration_id,
            "carrier": data.carrier, "service": data.service, "tracking_number": data.tracking_number,
            "change_source": actor.source, "at": now.isoformat(),
        })
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return shipment
