"""How far each integration's syncs and imports have got (cursors), and what each run did."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select

from app.extensions import db
from app.integrations.models import IntegrationRun, SyncCursor

def move_cursor(integration_id: int, name: str, value: str) -> None:
    """Record how far a sync has got (the caller commits)."""
    cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.integration_id == integration_id,
                                                        SyncCursor.name == name))
    if cursor is None:
        db.session.add(SyncCursor(integration_id=integration_id, name=name, value=value))
    elif value > cursor.value:
        cursor.value = value


def set_cursor(integration_id: int, name: str, value: str) -> None:
    """Set a cursor to `value`, even backwards or to text that does not sort (the caller commits)."""
    cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.integration_id == integration_id,
                                                        SyncCursor.name == name))
    if cursor is None:
        db.session.add(SyncCursor(integration_id=integration_id, name=name, value=value))
    else:
        cursor.value = value


def cursors(integration_id: int) -> dict[str, str]:
    """The integration's cursors by name."""
    rows = db.session.scalars(select(SyncCursor).where(SyncCursor.integration_id == integration_id))
    return {row.name: row.value for row in rows}


# Higher rooms that know more of a run than its row (what an import run's deliveries became) add it here
# through @run_summary: each takes run ids and answers {run id: summary}, a summary naming its template.
_RUN_SUMMARIES: list[Callable[[list[int]], dict[int, Any]]] = []


def run_summary(provider: Callable[[list[int]], dict[int, Any]]) -> Callable[[list[int]], dict[int, Any]]:
    """Register a provider of run summaries (a decorator; the higher room subscribes, as to an event)."""
    _RUN_SUMMARIES.append(provider)
    return provider


def run_summaries(runs: list[IntegrationRun]) -> dict[int, list[Any]]:
    """What the registered providers say about each of these runs, by run id."""
    ids = [run.id for run in runs]
    summaries: dict[int, list[Any]] = {}
    for provider in _RUN_SUMMARIES:
        for run_id, summary in provider(ids).items():
            summaries.setdefault(run_id, []).append(summary)
    return summaries


def recent_runs(integration_id: int, limit: int = 20) -> list[IntegrationRun]:
    """The integration's latest runs, newest first."""
    return list(db.session.scalars(
        select(IntegrationRun).where(IntegrationRun.integration_id == integration_id)
        .order_by(IntegrationRun.started_at.desc(), IntegrationRun.id.desc()).limit(limit)
    ))
