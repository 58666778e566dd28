"""An import run's history: the run row its deliveries point at, and what applying them did, summed per run.

An import (Allegro journal, PrestaShop, a shop poll) only fetches and stores; the orders queue
applies the deliveries later, each ending created, updated, unchanged or skipped. Every delivery
keeps the id of the run that fetched it and its outcome, so the run's history is one GROUP BY away
and stays exact whatever order, retry or Reprocess the deliveries went through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.extensions import db
from app.inbound.models import InboundEvent
from app.integrations.models import IntegrationRun
from app.integrations.progress import run_summary

# How each outcome counts in a run's history; "skipped" ones keep their reason.
SKIPPED = ("older", "skipped", "malformed")


class RunCounts(dict):
    """An import's counts (what was fetched and stored), knowing the run they were recorded on."""

    def __init__(self, run_id: int, counts: dict[str, int]) -> None:
        super().__init__(counts)
        self.run_id = run_id


@dataclass
class RunOutcomes:
    """What the deliveries of one import run became: new, updated, unchanged, skipped (why), still waiting."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    waiting: int = 0
    failed: int = 0
    refused: int = 0  # updated, but the workflow refused the status the platform's state maps to
    reasons: dict[str, int] = field(default_factory=dict)  # skipped ones by outcome ("older", "malformed" ...)
    template = "inbound/_run_outcomes.html"  # how the integration page shows it

    @property
    def applied(self) -> int:
        """Deliveries done with: new, updated, unchanged or skipped."""
        return self.created + self.updated + self.unchanged + self.skipped

    def add(self, outcome: str | None, state: str, count: int) -> None:
        """Count `count` deliveries of one outcome and ledger state."""
        if outcome is None:
            if state == "received":
                self.waiting += count
            elif state == "failed":
                self.failed += count  # to be retried, or given up after its attempts
        elif outcome in ("updated", "refused"):
            self.updated += count
            self.refused += count if outcome == "refused" else 0
        elif outcome == "created":
            self.created += count
        elif outcome == "unchanged":
            self.unchanged += count
        elif outcome in SKIPPED:
            self.skipped += count
            self.reasons[outcome] = self.reasons.get(outcome, 0) + count
        # "noted": a journal hint whose order another delivery of the run carries; it counts nowhere.

    def words(self) -> str:
        """The outcome in words, for the shell."""
        parts = [f"{self.created} new", f"{self.updated} updated", f"{self.unchanged} unchanged",
                 f"{self.skipped} skipped"]
        if self.reasons:
            parts[-1] += " (" + ", ".join(f"{n} {reason}" for reason, n in sorted(self.reasons.items())) + ")"
        if self.refused:
            parts.append(f"{self.refused} with the platform's status refused")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


def start(integration_id: int, kind: str, started: datetime) -> IntegrationRun:
    """Record (and commit) an import run before it fetches anything, so its deliveries can point at it."""
    run = IntegrationRun(integration_id=integration_id, kind=kind, started_at=started, counts={})
    run.say(_l("Started, not finished yet."))  # what the history says while it runs, or if it died
    db.session.add(run)
    db.session.commit()
    return run


@run_summary
def outcomes(run_ids: list[int]) -> dict[int, RunOutcomes]:
    """What the deliveries of each run became, by run id (one query for all of them); runs without any are left out."""
    if not run_ids:
        return {}
    found: dict[int, RunOutcomes] = {}
    rows = db.session.execute(
        select(InboundEvent.run_id, InboundEvent.outcome, InboundEvent.state, func.count())
        .where(InboundEvent.run_id.in_(run_ids))
        .group_by(InboundEvent.run_id, InboundEvent.outcome, InboundEvent.state))
    for run_id, outcome, state, count in rows:
        found.setdefault(run_id, RunOutcomes()).add(outcome, state, count)
    return found
