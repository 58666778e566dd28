"""Enqueueing work with stable job ids, so the same work is never queued twice."""

from __future__ import annotations

from typing import Any

from rq.exceptions import DuplicateJobError
from rq.job import Job

from app.extensions import redis_connection


def enqueue(func: str, *args: Any, queue: str = "default", job_id: str | None = None,
            timeout: int = 600, **kwargs: Any) -> Job | None:
    """Put `func(*args)` on a queue; with `job_id`, do nothing if that job is already waiting."""
    try:
        return redis_connection.queue(queue).enqueue_call(
            func, args=args, kwargs=kwargs, job_id=job_id, unique=job_id is not None, timeout=timeout,
            result_ttl=3600, failure_ttl=7 * 24 * 3600,
        )
    except DuplicateJobError:
        return None
