"""Allegro orders coming in: the order event journal read every minute, checkout forms fetched in bulk.

Allegro has no webhooks. Every minute each Allegro integration reads GET /order/events after its
cursor; each event is stored raw in the inbound ledger, and the cursor moves in the same
transaction, so a run that dies half-way reads the same page again and loses nothing. Events are
hints: Allegro sends several READY_FOR_PROCESSING for one order, duplicates with different ids,
and events out of order. The checkout form is the truth, and the forms the events name are
fetched through the order list (100 a request, filtered by updatedAt), not one GET per order.
Each form is stored raw too and applied by a job; a form older than what Kontor has is not applied
(apply.apply_order compares updatedAt).

On first connect the cursor starts at the journal's latest event and the seller's "days back"
come from the order list. Allegro keeps events 60 days: a cursor older than that, or one Allegro
refuses, falls back to the order list for the gap, and the integration page says so.
"""

from __future__ import annotations
from flask_babel import lazy_gettext as _l

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select

from app.core.errors import ValidationFailed
from app.core.types import utcnow
from app.extensions import db
from app.inbound import ledger, runs
from app.inbound.models import InboundEvent
from app.integrations import progress, services as integrations
from app.integrations.allegro.client import EVENTS_PAGE, FORMS_PAGE, AllegroClient, JournalCursorRefused
from app.integrations.allegro.mapping import event_from_allegro, parse_time
from app.integrations.base import MalformedPayload, PlatformError
from app.integrations.models import Integration, IntegrationRun
from app.orders.models import Order

KIND = "allegro"
FORM_TOPIC = "checkout_form"
CURSOR = "allegro_events_after"  # the id of the last event stored
POLLED_AT = "allegro_events_read_at"  # when the journal was last read to its end
GAP = "allegro_journal_gap"  # "<when noticed>|<orders fetched from>": shown on the integration page
START = "start"  # the cursor of an account whose journal was empty: read from its beginning
RETENTION = timedelta(days=60)  # how long Allegro keeps events
OVERLAP = timedelta(minutes=5)
# How far before its oldest event a round's list sweep starts: only a clock skew between an event's
# occurredAt and its form's updatedAt needs covering. Each minute is another ~page of forms already
# stored in a busy account, and a form the sweep misses is still read alone, so nothing is lost.
HINT_OVERLAP = timedelta(minutes=1)
DEFAULT_DAYS_BACK = 7
# A stored event waits this long for the run that stored it to fetch its form; after that the sweeper
# processes it on its own (one GET), so an event is never left behind by a run that died.
HINT_HOLD = timedelta(minutes=10)
FORM_HOLD = timedelta(minutes=2)  # a stored form's batch job gets this long before the sweeper steps in
PAGES_PER_ROUND = 10  # events read before their forms are fetched, so workers start applying early
SINGLE_GETS_UP_TO = 3  # fewer changed forms than this are read one by one (cheaper than a list sweep)
MAX_EVENT_PAGES = 500  # one run reads at most 50,000 events; the next minute goes on


def days_back(integration: Integration) -> int:
    """How many days of orders the first import fetches (the seller's choice, 1 to 60)."""
    try:
        days = int((integration.settings or {}).get("import_days") or DEFAULT_DAYS_BACK)
    except (TypeError, ValueError):
        days = DEFAULT_DAYS_BACK
    return max(1, min(60, days))


def _delivery_for_form(form: dict) -> ledger.Delivery:
    version = form.get("revision") or form.get("updatedAt") or ""
    try:
        updated = parse_time(form.get("updatedAt"))
    except MalformedPayload:
        updated = None
    return ledger.Delivery(f"form:{form.get('id')}:{version}", json.dumps(form).encode(), topic=FORM_TOPIC,
                           resource_id=str(form.get("id") or ""), occurred_at=updated,
                           headers={"X-Allegro-Revision": str(form.get("revision") or "")})


class JournalRun:
    """One reading of an integration's journal: the counts it reports and the forms it has stored."""

    def __init__(self, integration: Integration, record: IntegrationRun) -> None:
        self.integration = integration
        self.record = record  # the run's row, which the stored deliveries point at
        self.counts = {"events": 0, "new_events": 0, "forms": 0, "new_forms": 0, "skipped": 0}
        self.notes: list[str] = []
        self.ahead = _Ahead(self)

    def call(self, what: Callable[[AllegroClient], object]):
        """Call Allegro with the integration's token (refreshed once if it expired)."""
        return integrations.call_platform(self.integration, what)

    # --- checkout forms --------------------------------------------------------------------

    def store_forms(self, forms: list[dict]) -> list[int]:
        """Store forms raw (the caller commits); batch jobs apply the new ones after the commit."""
        forms = [form for form in forms if isinstance(form, dict) and form.get("id")]
        self.counts["forms"] += len(forms)
        new = ledger.record_many(self.integration.id, KIND, [_delivery_for_form(f) for f in forms],
                                 hold=FORM_HOLD, batch=True, run_id=self.record.id)
        self.counts["new_forms"] += len(new)
        return new

    def sweep_forms(self, since: datetime, until: datetime | None = None, wanted: set[str] | None = None) -> set[str]:
        """Store every form changed since `since` (100 a request, committing each page); the ids seen."""
        seen: set[str] = set()
        offset = 0
        while True:
            forms, total = self.ahead.take(("forms", since, until, offset),
                                           lambda client, at=offset: client.checkout_forms(since, until, offset=at))
            seen |= {str(form.get("id")) for form in forms if isinstance(form, dict)}
            last = not forms or offset + len(forms) >= total or (wanted is not None and wanted <= seen)
            if not last and len(forms) == FORMS_PAGE:  # the next page comes while this one is stored
                self.ahead.start(("forms", since, until, offset + FORMS_PAGE),
                                 lambda client, at=offset + FORMS_PAGE: client.checkout_forms(since, until, offset=at))
            self.store_forms(forms)
            db.session.commit()
            offset += len(forms)
            if last:
                return seen

    def fetch_changed(self, hints: dict[str, tuple[datetime, list[int]]]) -> None:
        """Fetch the forms the new events name and close those events as noted."""
        if not hints:
            return
        wanted = set(hints)
        if len(wanted) >= SINGLE_GETS_UP_TO:
            oldest = min(moment for moment, _ in hints.values())
            found = self.sweep_forms(oldest - HINT_OVERLAP, wanted=wanted)
        else:
            found = set()
        for form_id in sorted(wanted - found):
            # Not in the list (changed again before the list was read, or a clock skew): read it alone.
            try:
                form = self.call(lambda client: client.checkout_form(form_id))
            except PlatformError as error:
                if error.retryable or error.status in (401, 403):
                    raise
                self.notes.append(f"checkout form {form_id}: {error.message}")
                continue  # its events stay stored; the sweeper retries them one by one
            self.store_forms([form])
            found.add(form_id)
        # One UPDATE for all of them: the ledger row of each form says which form it is.
        ledger.close_many([event_id for form_id in found & wanted for event_id in hints[form_id][1]],
                          "Noted; its checkout form was fetched and stored.")
        db.session.commit()

    def skip_known(self, hints: dict[str, tuple[datetime, list[int]]], revisions: dict[str, set[str]]) -> None:
        """Close the events whose revision Kontor already applied; they need no fetch."""
        if not hints:
            return
        stored = dict(db.session.execute(select(Order.external_order_id, Order.meta).where(
            Order.integration_id == self.integration.id, Order.external_order_id.in_(list(hints)))).all())
        known, repeated = [], []
        for form_id in list(hints):
            have = (stored.get(form_id) or {}).get("platform_revision")
            if have and revisions.get(form_id) == {have}:
                first, *others = hints.pop(form_id)[1]
                known.append(first)  # the order counts once as unchanged in the run, however many events named it
                repeated += others
        ledger.close_many(known, "The order already has this revision; nothing to fetch.", outcome="unchanged")
        ledger.close_many(repeated, "The order already has this revision; nothing to fetch.")
        db.session.commit()

    # --- the journal -----------------------------------------------------------------------

    def read_journal(self, after: str) -> None:
        """Store events after `after` page by page (the cursor moves with each page) and fetch their forms."""
        hints: dict[str, tuple[datetime, list[int]]] = {}
        revisions: dict[str, set[str]] = {}
        for page_number in range(1, MAX_EVENT_PAGES + 1):
            cursor = None if after == START else after
            events = self.ahead.take(("events", cursor), lambda client, at=cursor: client.order_events(at))
            if not events:
                break
            if len(events) == EVENTS_PAGE and events[-1].get("id"):  # the next page comes while this one is stored
                following = str(events[-1]["id"])
                self.ahead.start(("events", following), lambda client: client.order_events(following))
            self.store_events(events, hints, revisions)
            after = str(events[-1].get("id") or after)
            progress.set_cursor(self.integration.id, CURSOR, after)
            db.session.commit()  # the page and the cursor together
            if page_number % PAGES_PER_ROUND == 0:
                self.skip_known(hints, revisions)
                self.fetch_changed(hints)
                hints, revisions = {}, {}
            if len(events) < EVENTS_PAGE:
                break
        self.skip_known(hints, revisions)
        self.fetch_changed(hints)

    def store_events(self, events: list, hints: dict[str, tuple[datetime, list[int]]],
                     revisions: dict[str, set[str]]) -> None:
        """Store a page of events raw; remember the forms the new ones name."""
        deliveries, parsed = [], {}
        for raw in events:
            if not isinstance(raw, dict) or not raw.get("id"):
                self.counts["skipped"] += 1
                continue
            try:
                event = event_from_allegro(raw)
            except MalformedPayload as error:
                self.notes.append(str(error))
                event = None
            key = f"event:{raw['id']}"
            parsed[key] = event
            deliveries.append(ledger.Delivery(
                key, json.dumps(raw).encode(), topic=str(raw.get("type") or "")[:60],
                resource_id=event.checkout_form_id if event else "", occurred_at=event.occurred_at if event else None,
                headers={"X-Allegro-Revision": event.revision if event else ""}))
        self.counts["events"] += len(deliveries)
        new_ids = ledger.record_many(self.integration.id, KIND, deliveries, hold=HINT_HOLD, run_id=self.record.id)
        self.counts["new_events"] += len(new_ids)
        if not new_ids:
            return
        keys = dict(db.session.execute(select(InboundEvent.id, InboundEvent.delivery_id).where(
            InboundEvent.id.in_(new_ids))).all())
        for event_id, key in keys.items():
            event = parsed.get(key)
            if event is None:
                continue
            moment, ids = hints.get(event.checkout_form_id, (event.occurred_at, []))
            hints[event.checkout_form_id] = (min(moment, event.occurred_at), ids + [event_id])
            revisions.setdefault(event.checkout_form_id, set()).add(event.revision)

    def restart_from_list(self, since: datetime) -> None:
        """Put the cursor at the journal's newest event, then fetch every form changed since `since`."""
        latest = self.call(lambda client: client.latest_event())
        progress.set_cursor(self.integration.id, CURSOR, str(latest["id"]) if latest else START)
        db.session.commit()
        self.sweep_forms(since)


class _Ahead:
    """Allegro requests started early, in a thread, so a page arrives while the one before it is stored.

    Reading 10,000 orders is ~230 requests of 50 ms or more; one after another, the read spent as
    long waiting for Allegro as storing what came. The thread only speaks HTTP with a client made
    here (the session and the integration's row stay in the caller's thread); a request it could
    not make (an error, a token that expired meanwhile) is made again by the caller, which refreshes
    the token or says what went wrong, as without the thread.
    """

    def __init__(self, run: JournalRun) -> None:
        self.run = run
        self.pending: dict[tuple, Future] = {}
        self.pool: ThreadPoolExecutor | None = None
        self.client: tuple[str, AllegroClient] | None = None

    def start(self, key: tuple, what: Callable[[AllegroClient], object]) -> None:
        """Make that request now in the background, if the token is good for it."""
        integration = self.run.integration
        token, expires = integration.credentials.get("access_token"), integration.token_expires_at
        if not token or not expires or expires - integrations.TOKEN_REFRESH_MARGIN <= utcnow() or key in self.pending:
            return  # the caller's own call refreshes the token first
        if self.client is None or self.client[0] != token:
            self.client = (token, integrations.client_for(integration, token))
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="allegro-ahead")
        self.pending[key] = self.pool.submit(what, self.client[1])

    def take(self, key: tuple, what: Callable[[AllegroClient], object]):
        """The answer of that request: the one started early if it came, else made now."""
        future = self.pending.pop(key, None)
        if future is not None:
            try:
                return future.result()
            except Exception:  # noqa: BLE001 - made again below, which handles or raises it
                pass
        return self.run.call(what)

    def close(self) -> None:
        """Wait for requests still running (their answers are dropped) and stop the thread."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pending.clear()


def _record_run(run: JournalRun, message, ok: bool = True) -> None:
    if run.notes:
        message = _l("%(message)s Not read: %(notes)s", message=message,
                     notes="; ".join(run.notes[:5]) + ("…" if len(run.notes) > 5 else ""))
    record = run.record
    record.finished_at, record.counts, record.ok = utcnow(), dict(run.counts), ok
    record.say(message)
    db.session.commit()


def poll_journal(integration_id: int, since: datetime | None = None) -> dict[str, int]:
    """Read the integration's order event journal (or, with `since`, the order list from then); the counts."""
    integration = integrations.get_integration(integration_id)
    if integration.kind != "allegro":
        raise ValidationFailed(_l("%(name)s is not an Allegro integration.", name=integration.name))
    started = utcnow()
    run = JournalRun(integration, runs.start(integration.id, "order_events", started))
    known = progress.cursors(integration.id)
    cursor, read_at = known.get(CURSOR), known.get(POLLED_AT)
    try:
        if since is not None:
            run.sweep_forms(since)
            message = _l("%(forms)s orders changed since %(since)s UTC fetched from the order list",
                         forms=run.counts["forms"], since=since.strftime("%Y-%m-%d %H:%M"))
        elif not cursor:
            since = started - timedelta(days=days_back(integration))
            run.restart_from_list(since)
            message = _l("First import: the journal starts at its newest event; %(forms)s orders of the last "
                         "%(days)s days fetched from the order list", forms=run.counts["forms"],
                         days=days_back(integration))
        elif read_at and datetime.fromisoformat(read_at) < started - RETENTION:
            message = _fill_gap(run, datetime.fromisoformat(read_at), started,
                                _l("the journal was last read more than 60 days ago and Allegro keeps events 60 days"))
        else:
            try:
                run.read_journal(cursor)
                message = _l("%(events)s events read (%(new)s new), %(forms)s new checkout form versions fetched",
                             events=run.counts["events"], new=run.counts["new_events"], forms=run.counts["new_forms"])
            except JournalCursorRefused as refused:
                gap_from = datetime.fromisoformat(read_at) if read_at else started - timedelta(days=days_back(integration))
                message = _fill_gap(run, gap_from, started, refused.message)
    except PlatformError as error:
        db.session.rollback()
        _record_run(run, error.message, ok=False)
        raise
    finally:
        run.ahead.close()
    progress.set_cursor(integration.id, POLLED_AT, started.isoformat())
    _record_run(run, message)
    return runs.RunCounts(run.record.id, run.counts)


def _fill_gap(run: JournalRun, gap_from: datetime, now: datetime, why):
    since = gap_from - OVERLAP
    run.restart_from_list(since)
    progress.set_cursor(run.integration.id, GAP, f"{now.isoformat()}|{since.isoformat()}")
    return _l("Event journal gap (%(why)s): %(forms)s orders changed since %(since)s UTC fetched from the order "
              "list instead; the journal goes on from its newest event", why=why, forms=run.counts["forms"],
              since=since.strftime("%Y-%m-%d %H:%M"))


def gap_notice(cursors: dict[str, str]) -> tuple[datetime, datetime] | None:
    """(when Kontor noticed, since when it fetched from the order list) of the last journal gap, if any."""
    value = cursors.get(GAP) or ""
    noticed, _, since = value.partition("|")
    try:
        return datetime.fromisoformat(noticed), datetime.fromisoformat(since)
    except ValueError:
        return None


def poll_all() -> dict[str, str]:
    """Read the journal of every enabled, connected Allegro integration; one account's failure stops no other."""
    outcomes = {}
    for integration in integrations.list_integrations():
        if integration.kind != "allegro" or not integration.enabled:
            continue
        if integration.connection_state == "reconnect_needed" or not integration.credentials.get("access_token"):
            outcomes[integration.name] = "not connected"
            continue
        try:
            counts = poll_journal(integration.id)
            outcomes[integration.name] = f"{counts['new_events']} new events, {counts['new_forms']} new forms"
        except PlatformError as error:
            outcomes[integration.name] = f"failed: {error.message}"
    return outcomes
