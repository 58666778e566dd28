"""Enqueueing work with stable job ids, so the same work is never queued twice."""

from __future__ import annotations

from typing import Any, Callable

from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus

from app.extensions import redis_connection


FINISHED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
WAITING = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def enqueue(func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None, timeout: int = 600,
            replace_finished: bool = False, **kwargs: Any) -> Job | None:
    """Put `func(*args)` on a queue; with `job_id`, do nothing if that job is already there.

    `replace_finished` re-enqueues when the job with that id already ran (or died) without
    doing its work, e.g. a worker killed before it claimed the operation.
    """
    rq_queue = redis_connection.queue(queue)
    options = dict(args=args, kwargs=kwargs, job_id=job_id, unique=job_id is not None, timeout=timeout,
                   result_ttl=600, failure_ttl=7 * 24 * 3600)
    try:
        return rq_queue.enqueue_call(func, **options)
    except DuplicateJobError:
        if not replace_finished:
            return None
        existing = Job.fetch(job_id, connection=rq_queue.connection)
        if existing.get_status(refresh=True) not in FINISHED:
            return None
        existing.delete()
        try:
            return rq_queue.enqueue_call(func, **options)
        except DuplicateJobError:
            return None


def any_waiting(job_ids: list[str]) -> bool:
    """True if any of these jobs is still in a queue, waiting for a worker (not started, not gone)."""
    if not job_ids:
        return False
    jobs = Job.fetch_many(job_ids, connection=redis_connection.client)
    return any(job is not None and job.get_status(refresh=False) in WAITING for job in jobs)
