"""RQ as people see it: each queue's length and oldest job, the workers, the failed jobs, the recurring schedule."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from redis import RedisError
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq_scheduler import Scheduler

from app.core.health import HEARTBEAT_KEY
from app.core.types import utcnow
from app.extensions import QUEUE_NAMES, redis_connection

# rq-scheduler job ids of the recurring jobs are this prefix plus the job's name (app/jobs/cli.py).
SCHEDULED_ID_PREFIX = "recurring-"
# Each recurring job's last outcome, by name (written by app/jobs/tasks.run_recurring).
LAST_RUN_KEY = "kontor:jobs:last-run"
PRUNE_AFTER_HOURS = 168


@dataclass(frozen=True)
class QueueState:
    name: str
    length: int
    oldest_enqueued_at: datetime | None
    running: int
    failed: int
    workers: int


@dataclass(frozen=True)
class WorkerState:
    name: str
    queues: tuple[str, ...]
    state: str
    current_job: str | None
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    func: str
    error: str
    ended_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def workers() -> list[WorkerState]:
    """The workers alive now, with their queues and current job."""
    found = []
    for worker in Worker.all(connection=redis_connection.client):
        job_id = worker.get_current_job_id()
        found.append(WorkerState(worker.name, tuple(worker.queue_names()), worker.get_state(), job_id,
                                 _aware(worker.last_heartbeat)))
    return sorted(found, key=lambda w: w.name)


def queue_states() -> list[QueueState]:
    """Each queue's length, oldest waiting job, running and failed jobs, and how many workers serve it."""
    alive = workers()
    states = []
    for name in QUEUE_NAMES:
        queue = redis_connection.queue(name)
        first = queue.get_job_ids(0, 0)
        oldest = None
        if first:
            job = Job.fetch_many(first, connection=queue.connection)[0]
            oldest = _aware(job.enqueued_at) if job is not None else None
        states.append(QueueState(name, queue.count, oldest,
                                 StartedJobRegistry(queue=queue).count, FailedJobRegistry(queue=queue).count,
                                 sum(1 for w in alive if name in w.queues)))
    return states


def _error_of(job: Job) -> str:
    try:
        result = job.latest_result()
        text = (result.exc_string if result is not None else None) or job.exc_info or ""
    except Exception:  # an unreadable result must not hide the job
        text = job.exc_info or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no error recorded"


def failed_jobs(queue: str | None = None, limit: int = 200) -> list[FailedJob]:
    """Failed jobs with their last error line, newest first, of one queue or all."""
    found = []
    for name in ([queue] if queue else QUEUE_NAMES):
        registry = FailedJobRegistry(queue=redis_connection.queue(name))
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        for job in Job.fetch_many(ids, connection=redis_connection.client):
            if job is not None:
                found.append(FailedJob(job.id, name, job.func_name or "", _error_of(job), _aware(job.ended_at)))
    return sorted(found, key=lambda j: j.ended_at or datetime.min.replace(tzinfo=timezone.utc), reverse=True)


def _registry_of(job_id: str) -> FailedJobRegistry:
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=redis_connection.queue(name))
        if job_id in registry:
            return registry
    raise LookupError(f"There is no failed job {job_id} (it was retried, deleted or pruned meanwhile).")


def retry_failed(job_id: str) -> None:
    """Put one failed job back on its queue."""
    _registry_of(job_id).requeue(job_id)


def delete_failed(job_id: str) -> None:
    """Forget one failed job."""
    registry = _registry_of(job_id)
    try:
        Job.fetch(job_id, connection=redis_connection.client).delete()
    except NoSuchJobError:
        registry.remove(job_id)


def retry_all_failed(queue: str | None = None) -> int:
    """Requeue every failed job (of one queue or all); the number requeued."""
    count = 0
    for name in ([queue] if queue else QUEUE_NAMES):
        registry = FailedJobRegistry(queue=redis_connection.queue(name))
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                count += 1
            except (NoSuchJobError, ValueError):
                registry.remove(job_id)
    return count


def delete_all_failed(queue: str | None = None) -> int:
    """Delete every failed job (of one queue or all); the number deleted."""
    count = 0
    for name in ([queue] if queue else QUEUE_NAMES):
        registry = FailedJobRegistry(queue=redis_connection.queue(name))
        for job_id in registry.get_job_ids():
            delete_failed(job_id)
            count += 1
    return count


def prune_failed(older_than_hours: float = PRUNE_AFTER_HOURS, now: datetime | None = None) -> int:
    """Delete failed jobs that ended more than `older_than_hours` ago; the number deleted."""
    cutoff = (now or utcnow()) - timedelta(hours=older_than_hours)
    pruned = 0
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=redis_connection.queue(name))
        ids = registry.get_job_ids()
        for job_id, job in zip(ids, Job.fetch_many(ids, connection=redis_connection.client)):
            if job is None:
                registry.remove(job_id)
                pruned += 1
            elif _aware(job.ended_at) is not None and _aware(job.ended_at) < cutoff:
                job.delete()
                pruned += 1
    return pruned


def next_runs() -> dict[str, datetime]:
    """When each recurring job runs next, by name (empty when Redis or the scheduler's registry is unreachable)."""
    try:
        scheduled = Scheduler(connection=redis_connection.client).get_jobs(with_times=True)
        return {job.id[len(SCHEDULED_ID_PREFIX):]: _aware(when) for job, when in scheduled
                if job.id.startswith(SCHEDULED_ID_PREFIX)}
    except RedisError:
        return {}


def last_runs() -> dict[str, dict[str, Any]]:
    """The last outcome of each recurring job, by name."""
    raw = redis_connection.client.hgetall(LAST_RUN_KEY)
    return {key.decode(): json.loads(value) for key, value in raw.items()}


def heartbeat_age(now: datetime | None = None) -> timedelta | None:
    """How long ago the scheduler's heartbeat job last ran (None: never)."""
    beat = redis_connection.client.get(HEARTBEAT_KEY)
    if not beat:
        return None
    return (now or utcnow()) - _aware(datetime.fromisoformat(beat.decode()))
