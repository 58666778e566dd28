"""Every import run's history: what its deliveries became (new, updated, unchanged, skipped and why)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from app.inbound import allegro as journal
from app.inbound import runs
from app.inbound.models import InboundEvent
from app.integrations.models import IntegrationRun
from app.jobs import tasks
from tests.factories import make_user
from tests.inbound.test_allegro_journal import allegro  # noqa: F401 - the fixture


def apply_run(run_id: int) -> None:
    """Apply one run's stored checkout forms as their batch jobs would."""
    tasks.process_inbound_batch(db.session.scalars(select(InboundEvent.id).where(
        InboundEvent.run_id == run_id, InboundEvent.state == "received").order_by(InboundEvent.id)).all())


def run_cell(page: str, run_id: int) -> str:
    """The text of one run's outcomes on the integration page."""
    found = re.search(rf'<span class="run-outcomes small" data-run="{run_id}">(.*?)</span>\s*</td>', page, re.S)
    assert found, f"run {run_id} shows no outcomes"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_an_import_run_shows_what_its_orders_became_on_the_integration_page(allegro, fake_allegro, client, login):
    now = datetime.now(timezone.utc)
    since = now - timedelta(days=1)
    base = now - timedelta(hours=2)
    a, b, c, d, e = (fake_allegro.put_form(updated_at=base + timedelta(minutes=n)) for n in range(5))
    first = journal.poll_journal(allegro.id, since=since)
    apply_run(first.run_id)

    fake_allegro.put_form(a, updated_at=base + timedelta(minutes=30))  # changed: updated
    fake_allegro.put_form(b, updated_at=base + timedelta(minutes=1))  # a new revision, same moment: unchanged
    fake_allegro.put_form(c, updated_at=base + timedelta(minutes=31))  # overtaken by the next run: older
    fake_allegro.put_form(d, updated_at=base + timedelta(minutes=32), buyer="someone")  # unreadable
    f = fake_allegro.put_form(updated_at=base + timedelta(minutes=33))  # new; e stays as it was: already stored
    second = journal.poll_journal(allegro.id, since=since)
    assert (second["forms"], second["new_forms"]) == (6, 5)
    fake_allegro.put_form(c, updated_at=base + timedelta(minutes=40))
    third = journal.poll_journal(allegro.id, since=since)
    assert third["new_forms"] == 1
    apply_run(third.run_id)  # the newer version of c is applied first
    waiting = runs.outcomes([second.run_id])[second.run_id]
    assert (waiting.waiting, waiting.applied) == (5, 0)
    apply_run(second.run_id)

    found = runs.outcomes([first.run_id, second.run_id, third.run_id])
    assert (found[first.run_id].created, found[first.run_id].applied) == (5, 5)
    outcome = found[second.run_id]
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.skipped, outcome.waiting) == (1, 1, 1, 2, 0)
    assert outcome.reasons == {"older": 1, "malformed": 1}
    assert (found[third.run_id].updated, found[third.run_id].applied) == (1, 1)
    assert db.session.scalar(select(InboundEvent.outcome).where(InboundEvent.resource_id == f)) == "created"

    login(make_user("viewer"))
    page = client.get(f"/integrations/{allegro.id}").get_data(as_text=True)
    assert run_cell(page, first.run_id) == "Applied: 5 new 0 updated 0 unchanged 0 skipped"
    assert run_cell(page, second.run_id) == (
        "Applied: 1 new 1 updated 1 unchanged 2 skipped (1 unreadable, 1 older version)")
    assert run_cell(page, third.run_id) == "Applied: 0 new 1 updated 0 unchanged 0 skipped"


def test_deleting_a_run_keeps_its_deliveries(allegro, fake_allegro):
    fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(hours=1))
    counts = journal.poll_journal(allegro.id, since=datetime.now(timezone.utc) - timedelta(days=1))
    db.session.delete(db.session.get(IntegrationRun, counts.run_id))
    db.session.commit()
    assert db.session.scalar(select(InboundEvent.run_id)) is None


def test_flask_orders_import_says_what_the_run_applied_or_that_the_workers_apply_it(app, allegro, fake_allegro):
    fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(days=2))
    since = (datetime.now(timezone.utc) - timedelta(days=5)).strftime("%Y-%m-%d")
    queued = app.test_cli_runner().invoke(args=["orders", "import", "--integration", str(allegro.id), "--since", since])
    assert queued.exit_code == 0, queued.output
    assert "1 of this run's deliveries are being applied by the workers" in queued.output
    fake_allegro.put_form(updated_at=datetime.now(timezone.utc) - timedelta(days=1))
    inline = app.test_cli_runner().invoke(args=["orders", "import", "--integration", str(allegro.id), "--since", since,
                                                "--process"])
    assert inline.exit_code == 0, inline.output
    assert "This run: 1 new, 0 updated, 0 unchanged, 0 skipped." in inline.output
    assert "being applied" not in inline.output


def test_a_run_counts_refused_statuses_and_failures_apart():
    summary = runs.RunOutcomes()
    for outcome, state, count in (("refused", "processed", 2), ("updated", "processed", 1), (None, "failed", 3),
                                  ("malformed", "failed", 1), ("noted", "processed", 9), (None, "received", 4)):
        summary.add(outcome, state, count)
    assert (summary.updated, summary.refused, summary.failed, summary.skipped, summary.waiting) == (3, 2, 3, 1, 4)
    assert summary.words() == ("0 new, 3 updated, 0 unchanged, 1 skipped (1 malformed), "
                               "2 with the platform's status refused, 3 failed")
