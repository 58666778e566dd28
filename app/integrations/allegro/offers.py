"""Allegro offers' stock: quantity change commands, their per-offer reports, and offers' stock read back.

HTTP and Allegro's JSON only. A command id is chosen by the caller, so a retried command is the
same command: Allegro answers 409 for an id already used, and the report of the first one stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.integrations.allegro.client import MEDIA_TYPE, AllegroClient
from app.integrations.base import RevisionConflict

OFFERS_PER_COMMAND = 1000  # OfferCriterium.offers: "You can add up to 1000 offers."
TASKS_PAGE = 1000
QUANTITY_COMMANDS = "/sale/offer-quantity-change-commands"
PUBLICATION_COMMANDS = "/sale/offer-publication-commands"


@dataclass(frozen=True)
class OfferTask:
    offer_id: str
    status: str  # NEW, SUCCESS or FAIL
    message: str = ""


@dataclass(frozen=True)
class OfferStock:
    """An offer's stock as the offer list shows it: available and the publication status.

    The list says ENDED "for whatever reason"; ENDED with nothing available is an offer that ended
    because its stock reached 0 (Allegro ends it then), which a positive quantity should resume.
    """

    available: int
    status: str = ""  # INACTIVE, ACTIVATING, ACTIVE or ENDED

    @property
    def ended_empty(self) -> bool:
        return self.status == "ENDED" and self.available == 0


class AllegroOffers:
    """The offer stock calls, on an authenticated AllegroClient."""

    def __init__(self, client: AllegroClient) -> None:
        self.client = client

    def _put_command(self, base: str, command_id: str, body: dict) -> bool:
        """PUT a command; True if registered now, False if this id was registered before (409)."""
        try:
            self.client._call("PUT", f"{base}/{command_id}", json=body, headers={"Content-Type": MEDIA_TYPE})
        except RevisionConflict:
            return False
        return True

    def set_quantity(self, command_id: str, quantity: int, offer_ids: list[str]) -> bool:
        """Set the offers' stock to `quantity` (FIXED). Returns False if the command already existed."""
        return self._put_command(QUANTITY_COMMANDS, command_id, {
            "modification": {"changeType": "FIXED", "value": quantity},
            "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": o} for o in offer_ids]}]})

    def end_offers(self, command_id: str, offer_ids: list[str]) -> bool:
        """End the offers (Allegro takes no quantity of 0: an offer with nothing to sell is ended)."""
        return self._publication(command_id, "END", offer_ids)

    def activate_offers(self, command_id: str, offer_ids: list[str]) -> bool:
        """Resume ended offers (ACTIVATE); Allegro activates an offer only while its stock is above 0."""
        return self._publication(command_id, "ACTIVATE", offer_ids)

    def _publication(self, command_id: str, action: str, offer_ids: list[str]) -> bool:
        return self._put_command(PUBLICATION_COMMANDS, command_id, {
            "publication": {"action": action},
            "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": [{"id": o} for o in offer_ids]}]})

    def tasks(self, command_id: str, *, publication: bool = False) -> list[OfferTask]:
        """The per-offer results of a command."""
        base = PUBLICATION_COMMANDS if publication else QUANTITY_COMMANDS
        body = self.client._call("GET", f"{base}/{command_id}/tasks",
                                 params={"limit": TASKS_PAGE, "offset": 0}).json()
        return [OfferTask(str((t.get("offer") or {}).get("id") or ""), str(t.get("status") or "NEW"),
                          str(t.get("message") or "")) for t in body.get("tasks") or []]

    def offers_stock(self, offset: int = 0, limit: int = 1000) -> tuple[dict[str, OfferStock], int]:
        """({offer id: its stock and publication}, total count) of one page of the seller's offers."""
        body = self.client._call("GET", "/sale/offers", params={"limit": limit, "offset": offset}).json()
        stock = {}
        for offer in body.get("offers") or []:
            if offer.get("id"):
                publication = offer.get("publication") or {}
                stock[str(offer["id"])] = OfferStock(int((offer.get("stock") or {}).get("available") or 0),
                                                     str(publication.get("status") or ""))
        return stock, int(body.get("totalCount") or 0)
