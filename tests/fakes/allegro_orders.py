"""FakeAllegro's orders: the order event journal (GET /order/events, /order/event-stats) and the order
list (GET /order/checkout-forms), honouring the official spec's parameters.

Event ids are 16-digit numbers in journal order, as Allegro's are ("1532603898317497"). Real
journals carry duplicates with different ids (several READY_FOR_PROCESSING for one order) and
events whose occurredAt is out of order; `add_event` lets a test write any such journal. Allegro
keeps events 60 days: `expire_events` drops older ones, and a `from` cursor pointing before the
oldest kept event is refused with 422 (the spec's "query parameters are incorrect"; the wording
is the fake's own). The list endpoint filters on updatedAt.gte/lte, sorts by updatedAt or
lineItems.boughtAt (the spec's default: boughtAt descending) and pages by offset/limit.
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from datetime import datetime, timedelta, timezone

from werkzeug.wrappers import Request, Response

from tests.fakes import fixture_path

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
FIRST_EVENT_ID = 1_532_603_898_317_497
RETENTION = timedelta(days=60)


def iso(moment: datetime) -> str:
    """Allegro's time format: UTC with milliseconds and Z."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@functools.cache
def _example_text() -> str:
    return fixture_path("allegro", "checkout-form.example.json").read_text("utf-8")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class OrderJournal:
    """Mixin of FakeAllegro: checkout forms with their full data, the event journal and the order list.

    Expects from the host: `lock`, `random`, `seller`, `orders` ({id: {"status", "revision", "line_items",
    ...}}) and `_new_revision()`.
    """

    def _init_journal(self) -> None:
        self.events: list[dict] = []
        self.next_event_id = FIRST_EVENT_ID

    # --- helpers for tests -------------------------------------------------------------------

    def put_form(self, order_id: str | None = None, *, form_status: str = "READY_FOR_PROCESSING",
                 fulfillment: str = "NEW", updated_at: datetime | None = None, bought_at: datetime | None = None,
                 event: str | None = None, **fields) -> str:
        """Create or change a checkout form (new revision, updatedAt now or given); with `event`, journal it.

        `fields` override the example form's top-level fields (buyer, lineItems, delivery, payment ...).
        """
        with self.lock:
            order_id = order_id or str(uuid.UUID(int=self.random.getrandbits(128), version=4))
            order = self.orders.get(order_id)
            if order is None:
                order = self.orders[order_id] = {
                    "line_items": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{order_id}/line-item/1"))], "fields": {},
                    "bought_at": iso(bought_at or updated_at or datetime.now(timezone.utc))}
            order.update(status=fulfillment, form_status=form_status, revision=self._new_revision(),
                         updated_at=iso(updated_at or datetime.now(timezone.utc)))
            order.setdefault("fields", {}).update(copy.deepcopy(fields))
            if event:
                self.add_event(order_id, event, occurred_at=_parse(order["updated_at"]))
            return order_id

    def add_event(self, order_id: str, event_type: str, *, occurred_at: datetime | None = None,
                  revision: str | None = None) -> str:
        """Append an event about the order to the journal (a new id, as Allegro gives duplicates); its id."""
        with self.lock:
            order = self.orders[order_id]
            event_id = str(self.next_event_id)
            self.next_event_id += self.random.randint(1, 50)
            body = self.checkout_form_body(order_id)
            self.events.append({
                "id": event_id, "type": event_type,
                "occurredAt": iso(occurred_at) if occurred_at else order.get("updated_at") or iso(datetime.now(timezone.utc)),
                "order": {"seller": {"id": self.seller["id"]}, "buyer": {k: body["buyer"][k] for k in (
                    "id", "email", "login", "guest") if k in body["buyer"]},
                    "lineItems": body["lineItems"], "marketplace": body.get("marketplace") or {"id": "allegro-pl"},
                    "checkoutForm": {"id": order_id, "revision": revision or order["revision"]}}})
            return event_id

    def shuffle_journal(self) -> None:
        """Put the journal's events in a random order (ids renumbered in the new order), as real journals
        mix lifecycles: a READY_FOR_PROCESSING may come before the BOUGHT of the same order."""
        with self.lock:
            self.random.shuffle(self.events)
            event_id = FIRST_EVENT_ID
            for event in self.events:
                event["id"] = str(event_id)
                event_id += self.random.randint(1, 50)
            self.next_event_id = event_id

    def expire_events(self, now: datetime | None = None) -> int:
        """Drop the events older than 60 days, as Allegro does; how many were dropped."""
        cutoff = (now or datetime.now(timezone.utc)) - RETENTION
        with self.lock:
            kept = [e for e in self.events if _parse(e["occurredAt"]) >= cutoff]
            dropped, self.events = len(self.events) - len(kept), kept
            self.oldest_kept_id = int(kept[0]["id"]) if kept else self.next_event_id
            return dropped

    def checkout_form_body(self, order_id: str) -> dict:
        """The CheckoutForm the API answers for the order now."""
        order = self.orders[order_id]
        body = json.loads(_example_text())
        body.update(id=order_id, revision=order["revision"])
        body["fulfillment"]["status"] = order["status"]
        if order.get("form_status"):
            body["status"] = order["form_status"]
        if order.get("updated_at"):
            body["updatedAt"] = order["updated_at"]
        example_item = body["lineItems"][0]
        if order.get("bought_at"):
            example_item["boughtAt"] = order["bought_at"]
        body["lineItems"] = [{**copy.deepcopy(example_item), "id": item_id} for item_id in order["line_items"]]
        body.update(copy.deepcopy(order.get("fields") or {}))
        return body

    # --- API ---------------------------------------------------------------------------------

    def _get_events(self, request: Request) -> Response:
        cursor = request.args.get("from")
        limit = int(request.args.get("limit", 100))  # the spec check refused anything outside 1..1000
        types = set(request.args.getlist("type"))
        with self.lock:
            if cursor is not None:
                if not cursor.isdigit():
                    return _json(422, _error("UnprocessableEntityException", f"Invalid event id: {cursor}"))
                if int(cursor) < getattr(self, "oldest_kept_id", 0) - 1 and int(cursor) not in {
                        int(e["id"]) for e in self.events}:
                    return _json(422, _error("UnprocessableEntityException",
                                                  f"Event {cursor} is no longer available (events are kept 60 days)"))
                after = int(cursor)
                chosen = [e for e in self.events if int(e["id"]) > after]
            else:
                chosen = list(self.events)
            if types:
                chosen = [e for e in chosen if e["type"] in types]
            return _json(200, {"events": copy.deepcopy(chosen[:limit])})

    def _get_event_stats(self) -> Response:
        with self.lock:
            if not self.events:
                return _json(200, {})
            latest = self.events[-1]
            return _json(200, {"latestEvent": {"id": latest["id"], "occurredAt": latest["occurredAt"]}})

    def _list_checkout_forms(self, request: Request) -> Response:
        args = request.args
        offset, limit = int(args.get("offset", 0)), int(args.get("limit", 100))
        low, high = args.get("updatedAt.gte"), args.get("updatedAt.lte")
        try:
            low_at, high_at = (_parse(low) if low else None), (_parse(high) if high else None)
        except ValueError as error:
            return _json(422, _error("UnprocessableEntityException", f"Invalid date: {error}"))
        with self.lock:
            # Filter and sort on the stored fields; only the page's forms are built.
            chosen = [(order["updated_at"], order.get("bought_at", ""), order_id) for order_id, order in self.orders.items()
                      if "updated_at" in order and (low_at is None or _parse(order["updated_at"]) >= low_at)
                      and (high_at is None or _parse(order["updated_at"]) <= high_at)]
            sort = args.get("sort", "-lineItems.boughtAt")
            if sort.lstrip("-") == "updatedAt":
                chosen.sort(key=lambda c: (c[0], c[2]), reverse=sort.startswith("-"))
            else:
                chosen.sort(key=lambda c: (c[1], c[2]), reverse=sort.startswith("-"))
            page = [self.checkout_form_body(order_id) for _, _, order_id in chosen[offset:offset + limit]]
            forms = chosen
        return _json(200, {"checkoutForms": page, "count": len(page), "totalCount": len(forms)})


def _error(code: str, message: str) -> dict:
    return {"errors": [{"code": code, "message": message, "details": None, "path": None,
                        "userMessage": "The request contains incorrect data. Contact the author of the application."}]}


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type=MEDIA_TYPE)
