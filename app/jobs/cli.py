"""`flask jobs ...`: list the schedule, run a job now, run the scheduler."""

from __future__ import annotations

import logging
from datetime import timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import redis_connection
from app.jobs import tasks
from app.jobs.queues import enqueue
from app.jobs.schedule import SCHEDULE, find
from app.jobs.scheduler import DEFAULT_INTERVAL, SCHEDULED_ID_PREFIX, KontorScheduler, sync_schedule

jobs_cli = AppGroup("jobs", help="Recurring and background jobs.")



def _scheduler() -> KontorScheduler:
    interval = float(current_app.config.get("SCHEDULER_INTERVAL", DEFAULT_INTERVAL))
    return KontorScheduler(connection=redis_connection.client, interval=interval)


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
    """Run the scheduler for SCHEDULE, re-asserting it every tick (one enqueues at a time; others stand by)."""
    logging.getLogger("rq_scheduler").setLevel(logging.INFO)
    scheduler = _scheduler()
    with redis_connection.client.lock("kontor:jobs:schedule-sync", timeout=60):
        sync_schedule(scheduler)
    click.echo(f"Scheduler running with {len(SCHEDULE)} recurring job(s), ticking every {scheduler._interval:g} s.")
    scheduler.run(burst=burst)


def init_app(app: Flask) -> None:
    """Register the `flask jobs` commands."""
    app.cli.add_command(jobs_cli)
