"""`flask jobs ...`: list the schedule, run a job now, run the scheduler."""

from __future__ import annotations

import logging
from datetime import timezone

import click
from flask import Flask
from flask.cli import AppGroup

from app.core.types import utcnow
from app.extensions import redis_connection
from app.jobs import tasks
from app.jobs.queues import enqueue
from app.jobs.schedule import SCHEDULE, find

jobs_cli = AppGroup("jobs", help="Recurring and background jobs.")

SCHEDULED_ID_PREFIX = "recurring-"


def _scheduler():
    from rq_scheduler import Scheduler

    return Scheduler(connection=redis_connection.client, interval=5)


def sync_schedule(scheduler) -> None:
    """Make rq-scheduler's registry match SCHEDULE: add new jobs, drop removed or changed ones."""
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


@jobs_cli.command("list")
def list_jobs() -> None:
    """Show the recurring jobs, when each runs next and how its last run went."""
    next_runs = {}
    last = {}
    try:
        next_runs = {job.id: when for job, when in _scheduler().get_jobs(with_times=True)}
        last = tasks.last_runs()
    except Exception as error:  # the schedule is still worth showing without Redis
        click.echo(f"(Redis not reachable: {error})", err=True)
    click.echo(f"{'NAME':<20} {'EVERY':<14} {'QUEUE':<13} {'NEXT RUN (UTC)':<20} LAST RUN")
    for job in SCHEDULE:
        when = next_runs.get(f"{SCHEDULED_ID_PREFIX}{job.name}")
        when_text = when.replace(tzinfo=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if when else "not scheduled"
        run = last.get(job.name)
        run_text = f"{run['outcome']} at {run.get('finished') or run.get('at')}" if run else "never"
        click.echo(f"{job.name:<20} {job.every:<14} {job.queue:<13} {when_text:<20} {run_text}")
        click.echo(f"{'':<20} {job.description}")


@jobs_cli.command("run")
@click.argument("name")
def run_job(name: str) -> None:
    """Enqueue a recurring job now (a worker runs it)."""
    try:
        job = find(name)
    except KeyError as error:
        raise click.ClickException(str(error.args[0]))
    queued = enqueue(tasks.run_recurring, job.name, queue=job.queue)
    click.echo(f"Enqueued {job.name} on queue {job.queue} as job {queued.id}.")


@jobs_cli.command("scheduler")
@click.option("--burst", is_flag=True, help="Enqueue what is due once and exit.")
def run_scheduler(burst: bool) -> None:
    """Run rq-scheduler for SCHEDULE (one scheduler enqueues at a time; others stand by)."""
    logging.getLogger("rq_scheduler").setLevel(logging.INFO)
    scheduler = _scheduler()
    with redis_connection.client.lock("kontor:jobs:schedule-sync", timeout=60):
        sync_schedule(scheduler)
    click.echo(f"Scheduler running with {len(SCHEDULE)} recurring job(s).")
    scheduler.run(burst=burst)


def init_app(app: Flask) -> None:
    """Register the `flask jobs` commands."""
    app.cli.add_command(jobs_cli)
