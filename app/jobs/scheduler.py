"""The scheduler process: rq-scheduler that re-asserts the schedule table on every tick.

rq-scheduler keeps its schedule in Redis only, so a FLUSHDB or a Redis restart without
persistence used to leave every recurring job "not scheduled" until someone restarted the
scheduler. Re-asserting SCHEDULE each tick (cheap: the table has a few rows) heals that within
one interval; a job found missing runs at once.
"""

from __future__ import annotations

import logging

from rq_scheduler import Scheduler

from app.core.types import utcnow
from app.jobs import tasks
from app.jobs.schedule import SCHEDULE
from app.monitoring.queues import SCHEDULED_ID_PREFIX

log = logging.getLogger("kontor.jobs")

DEFAULT_INTERVAL = 10  # seconds between ticks (KONTOR_SCHEDULER_INTERVAL)


def sync_schedule(scheduler: Scheduler) -> None:
    """Make rq-scheduler's registry match SCHEDULE: add missing jobs, drop removed or changed ones."""
    wanted = {f"{SCHEDULED_ID_PREFIX}{job.name}": job for job in SCHEDULE}
    for existing in scheduler.get_jobs():
        job = wanted.get(existing.id)
        spec = existing.meta.get("kontor_spec")
        if job is None and existing.id.startswith(SCHEDULED_ID_PREFIX):
            scheduler.cancel(existing)
        elif job is not None and spec != _spec(job):
            scheduler.cancel(existing)
    present = {job.id for job in scheduler.get_jobs()}
    for job_id, job in wanted.items():
        if job_id in present:
            continue
        common = dict(func=tasks.run_recurring, args=[job.name], id=job_id, queue_name=job.queue,
                      meta={"kontor_spec": _spec(job)}, timeout=3600, result_ttl=3600)
        if job.cron:
            scheduler.cron(job.cron, repeat=None, use_local_timezone=False, **common)
        else:
            scheduler.schedule(scheduled_time=utcnow().replace(tzinfo=None), interval=job.interval, repeat=None,
                               **common)


def _spec(job) -> str:
    return f"{job.func}|{job.queue}|{job.interval}|{job.cron}"


class KontorScheduler(Scheduler):
    """Each tick (under rq-scheduler's lock, so one scheduler at a time): re-assert SCHEDULE, then enqueue."""

    def enqueue_jobs(self):
        try:
            sync_schedule(self)
        except Exception:  # Redis hiccup: enqueue what is there, re-assert next tick
            log.exception("could not re-assert the schedule table")
        return super().enqueue_jobs()
