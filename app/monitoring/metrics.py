"""GET /metrics in Prometheus' text format: queues, outbox by kind and state, delivery latencies, imports."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.extensions import db
from app.inbound.models import InboundEvent
from app.monitoring import queues
from app.monitoring.models import AlertIncident
from app.suppliers.models import FeedImport
from app.sync import operations

QUANTILES = (0.5, 0.9, 0.99)


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Exposition:
    """Collects metric families and renders them (HELP, TYPE, then samples)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: list[tuple[dict, float]],
               suffix_samples: list[tuple[str, dict, float]] = ()) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            self.lines.append(f"{name}{self._labels(labels)} {self._number(value)}")
        for suffix, labels, value in suffix_samples:
            self.lines.append(f"{name}{suffix}{self._labels(labels)} {self._number(value)}")

    @staticmethod
    def _labels(labels: dict) -> str:
        if not labels:
            return ""
        return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"

    @staticmethod
    def _number(value: float) -> str:
        return repr(float(value)) if isinstance(value, float) else str(value)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render() -> str:
    """Every metric, as one Prometheus text exposition."""
    out = Exposition()
    states = queues.queue_states()
    out.family("kontor_queue_length", "gauge", "Jobs waiting in each RQ queue.",
               [({"queue": q.name}, q.length) for q in states])
    out.family("kontor_queue_workers", "gauge", "Workers listening on each RQ queue.",
               [({"queue": q.name}, q.workers) for q in states])
    out.family("kontor_queue_failed_jobs", "gauge", "Jobs in each queue's failed-job registry.",
               [({"queue": q.name}, q.failed) for q in states])
    age = queues.heartbeat_age()
    out.family("kontor_scheduler_heartbeat_age_seconds", "gauge", "Seconds since the scheduler's heartbeat job ran "
               "(-1: never).", [({}, round(age.total_seconds(), 1) if age is not None else -1.0)])
    out.family("kontor_outbox_operations", "gauge", "Outbox operations by kind and state.",
               [({"kind": kind, "state": state}, n) for kind, state, n in operations.counts_by_kind_and_state()])
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, seconds in operations.delivery_latencies():
        by_kind[kind].append(seconds)
    samples, extra = [], []
    for kind, values in sorted(by_kind.items()):
        samples += [({"kind": kind, "quantile": str(q)}, round(_quantile(values, q), 3)) for q in QUANTILES]
        extra += [("_sum", {"kind": kind}, round(sum(values), 3)), ("_count", {"kind": kind}, len(values))]
    out.family("kontor_outbox_delivery_latency_seconds", "summary",
               "Seconds from recording an operation to its delivery, over the last hour.", samples, extra)
    inbound = db.session.execute(select(InboundEvent.state, func.count()).group_by(InboundEvent.state)).all()
    out.family("kontor_inbound_events", "gauge", "Stored inbound deliveries by state.",
               [({"state": state}, n) for state, n in inbound])
    imports = db.session.execute(select(
        FeedImport.state, func.count(), func.coalesce(func.sum(FeedImport.rows_read), 0)).group_by(FeedImport.state)).all()
    out.family("kontor_feed_imports", "gauge", "Supplier feed imports by state.",
               [({"state": state}, n) for state, n, _rows in imports])
    out.family("kontor_feed_rows_read_total", "counter", "Feed rows read by all imports so far.",
               [({}, int(sum(rows for _s, _n, rows in imports)))])
    open_alerts = db.session.scalar(select(func.count()).select_from(AlertIncident)
                                    .where(AlertIncident.cleared_at.is_(None)))
    out.family("kontor_alerts_open", "gauge", "Alert conditions that hold now.", [({}, open_alerts or 0)])
    return out.text()
