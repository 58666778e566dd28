"""`flask jobs ...`: list the schedule, run a job now, run the scheduler."""

from __future__ import annotations

import logging
from datetime import timezone

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import QUEUE_NAMES, redis_connection
from app.jobs import tasks
from app.jobs.queues import enqueue
from app.jobs.schedule import SCHEDULE, find
from app.jobs.scheduler import DEFAULT_INTERVAL, SCHEDULED_ID_PREFIX, KontorScheduler, sync_schedule
from app.monitoring import queues as rq_state

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


@jobs_cli.command("monitor")
@click.option("--max", "maximum", type=click.IntRange(min=0), default=100, show_default=True,
              help="A queue longer than this is a problem.")
def monitor(maximum: int) -> None:
    """Print each queue's length and workers; exit 1 if a queue is longer than --max or no worker serves it."""
    try:
        states = rq_state.queue_states()
    except Exception as error:  # for cron and monitoring systems: unreachable Redis is a failure, said plainly
        click.echo(f"CRITICAL Redis not reachable: {error}", err=True)
        raise SystemExit(2)
    problems = []
    click.echo(f"{'QUEUE':<13} {'LENGTH':>7} {'WORKERS':>8} {'RUNNING':>8} {'FAILED':>7}  OLDEST WAITING (UTC)")
    for q in states:
        oldest = q.oldest_enqueued_at.strftime("%Y-%m-%d %H:%M:%S") if q.oldest_enqueued_at else "-"
        click.echo(f"{q.name:<13} {q.length:>7} {q.workers:>8} {q.running:>8} {q.failed:>7}  {oldest}")
        if q.length > maximum:
            problems.append(f"queue {q.name} has {q.length} jobs waiting (more than {maximum})")
        if q.workers == 0:
            problems.append(f"no worker serves queue {q.name}")
    if problems:
        click.echo("PROBLEM " + "; ".join(problems), err=True)
        raise SystemExit(1)
    click.echo("OK")


@jobs_cli.command("failed")
@click.option("--queue", type=click.Choice(QUEUE_NAMES), help="Only this queue.")
def failed(queue: str | None) -> None:
    """List failed jobs with their error."""
    jobs = rq_state.failed_jobs(queue)
    for job in jobs:
        ended = job.ended_at.strftime("%Y-%m-%d %H:%M:%S") if job.ended_at else "-"
        click.echo(f"{job.id}  {job.queue:<12} {ended}  {job.func}\n    {job.error}")
    click.echo(f"{len(jobs)} failed job(s).")


@jobs_cli.command("retry-failed")
@click.option("--queue", type=click.Choice(QUEUE_NAMES), help="Only this queue.")
def retry_failed(queue: str | None) -> None:
    """Put failed jobs back on their queues."""
    click.echo(f"Requeued {rq_state.retry_all_failed(queue)} failed job(s).")


def init_app(app: Flask) -> None:
    """Register the `flask jobs` commands."""
    app.cli.add_command(jobs_cli)
