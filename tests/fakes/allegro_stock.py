"""FakeAllegro with the seller's offers' stock: quantity change commands, publication END/ACTIVATE, tasks, /sale/offers.

State (under `lock`): `offers` {offer id: {"available", "status"}}, `commands` {command id: {"kind",
"tasks", "createdAt"}}, `applied` [(command id, offer id, value)] — every change the fake made, so a
test can assert no command was applied twice — and `put_attempts` (every PUT received, reused ids too).
Requests are checked against the OpenAPI spec like every other FakeAllegro call.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from tests.fakes import allegro_spec
from tests.fakes.allegro import FakeAllegro, _json, error_body

QUANTITY = "/sale/offer-quantity-change-commands/{commandId}"
QUANTITY_TASKS = "/sale/offer-quantity-change-commands/{commandId}/tasks"
PUBLICATION = "/sale/offer-publication-commands/{commandId}"
PUBLICATION_TASKS = "/sale/offer-publication-commands/{commandId}/tasks"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeAllegroStock(FakeAllegro):
    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.offers: dict[str, dict] = {}
        self.commands: dict[str, dict] = {}
        self.applied: list[tuple[str, str, object]] = []
        self.put_attempts: list[str] = []

    def add_offer(self, offer_id: str, available: int = 0, status: str = "ACTIVE") -> None:
        with self.lock:
            self.offers[offer_id] = {"available": available, "status": status}

    def sell_out(self, offer_id: str) -> None:
        """Buyers took the last unit: Allegro ends the offer (endedBy EMPTY_STOCK)."""
        with self.lock:
            self.offers[offer_id].update(available=0, status="ENDED")

    def status(self, offer_id: str) -> str:
        with self.lock:
            return self.offers[offer_id]["status"]

    def available(self, offer_id: str) -> int:
        with self.lock:
            return self.offers[offer_id]["available"]

    def _handle_api(self, request: Request) -> Response:
        if not request.path.startswith("/sale/"):
            return super()._handle_api(request)
        try:
            template = allegro_spec.find_template(request.method, request.path)
        except allegro_spec.SpecViolation:
            return super()._handle_api(request)
        refused = self._refuse_token(request) or self._refuse_against_spec(request, template)
        if refused is not None:
            return refused
        command_id = request.path.split("/")[3] if template != "/sale/offers" else ""
        if template in (QUANTITY, PUBLICATION) and request.method == "PUT":
            return self._put_command(request, command_id, "quantity" if template == QUANTITY else "publication")
        if template in (QUANTITY, PUBLICATION):
            return self._summary(command_id)
        if template in (QUANTITY_TASKS, PUBLICATION_TASKS):
            return self._tasks(request, command_id)
        if template == "/sale/offers":
            return self._list_offers(request)
        return _json(501, error_body("NotImplemented", f"FakeAllegroStock does not serve {template}"))

    def _put_command(self, request: Request, command_id: str, kind: str) -> Response:
        self.put_attempts.append(command_id)
        if command_id in self.commands:
            return Response(status=409)
        body = json.loads(request.get_data() or b"{}")
        offer_ids = [o.get("id") for c in body.get("offerCriteria") or [] for o in c.get("offers") or []]
        tasks = []
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None:
                tasks.append({"offer": {"id": offer_id}, "status": "FAIL", "message": "The offer does not exist.",
                              "field": "stock.available", "errors": []})
                continue
            if kind == "quantity":
                # The spec: FIXED takes stock > 0; the offer's publication does not change (an ENDED
                # offer stays ENDED until a publication command ACTIVATE resumes it).
                value = body["modification"]["value"]
                offer["available"] = value
            else:
                value = body["publication"]["action"]
                if value == "ACTIVATE" and offer["available"] <= 0:
                    # "Offer can be activated only with stock being greater then 0."
                    tasks.append({"offer": {"id": offer_id}, "status": "FAIL", "field": "stock.available",
                                  "message": "The offer cannot be activated without stock.", "errors": []})
                    continue
                if value == "END":
                    offer["status"], offer["available"] = "ENDED", 0
                else:
                    offer["status"] = "ACTIVE"
            self.applied.append((command_id, offer_id, value))
            tasks.append({"offer": {"id": offer_id}, "status": "SUCCESS", "message": "", "field": "", "errors": []})
        self.commands[command_id] = {"kind": kind, "tasks": tasks, "createdAt": _now()}
        return _json(201, self._report(command_id))

    def _report(self, command_id: str) -> dict:
        command = self.commands[command_id]
        tasks = command["tasks"]
        return {"id": command_id, "createdAt": command["createdAt"], "completedAt": command["createdAt"],
                "taskCount": {"total": len(tasks), "success": sum(t["status"] == "SUCCESS" for t in tasks),
                              "failed": sum(t["status"] == "FAIL" for t in tasks)}}

    def _summary(self, command_id: str) -> Response:
        if command_id not in self.commands:
            return _json(404, error_body("NotFoundException", "Command not found"))
        return _json(200, self._report(command_id))

    def _tasks(self, request: Request, command_id: str) -> Response:
        if command_id not in self.commands:
            return _json(404, error_body("NotFoundException", "Command not found"))
        limit, offset = int(request.args.get("limit", 100)), int(request.args.get("offset", 0))
        return _json(200, {"tasks": self.commands[command_id]["tasks"][offset:offset + limit]})

    def _list_offers(self, request: Request) -> Response:
        limit, offset = int(request.args.get("limit", 20)), int(request.args.get("offset", 0))
        ids = sorted(self.offers)
        page = [{"id": offer_id, "name": f"Offer {offer_id}", "stock": {"available": self.offers[offer_id]["available"],
                                                                        "sold": 0},
                 "publication": {"status": self.offers[offer_id]["status"]}} for offer_id in ids[offset:offset + limit]]
        return _json(200, {"offers": page, "count": len(page), "totalCount": len(ids)})
