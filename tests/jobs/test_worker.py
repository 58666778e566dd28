"""Background work with a real Redis and a real `worker.py` process."""

import os
import subprocess
import sys
from pathlib import Path

from rq_scheduler import Scheduler

from app.extensions import db, redis_connection
from app.jobs import tasks
from app.jobs.cli import SCHEDULED_ID_PREFIX, sync_schedule
from app.jobs.scheduler import KontorScheduler
from app.jobs.queues import enqueue
from app.jobs.schedule import SCHEDULE
from app.orders.models import Order
from tests.factories import make_order
from tests.jobs.sample_tasks import mark_paid

ROOT = Path(__file__).resolve().parents[2]


def run_worker(app, *queues: str) -> subprocess.CompletedProcess:
    """Run worker.py in burst mode against the test database and Redis."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": app.config["REDIS_URL"],
           "SECRET_KEY": "test", "KONTOR_INSTANCE_PATH": str(Path(app.instance_path))}
    result = subprocess.run([sys.executable, "worker.py", *queues, "--burst"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_a_worker_process_runs_jobs_with_the_app_and_database(app):
    order = make_order("awaiting_payment")
    enqueue(mark_paid, order.id, queue="orders", job_id=f"mark-paid-{order.id}")

    run_worker(app, "orders")

    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "paid"
    assert order.history[-1].change_source == "automation"


def test_the_same_job_id_is_queued_once(app):
    first = enqueue(mark_paid, 1, queue="orders", job_id="mark-paid-1")
    second = enqueue(mark_paid, 1, queue="orders", job_id="mark-paid-1")
    assert first is not None and second is None
    assert redis_connection.queue("orders").count == 1


def test_flask_jobs_run_enqueues_and_a_worker_runs_it(app):
    result = app.test_cli_runner().invoke(args=["jobs", "run", "heartbeat"])
    assert result.exit_code == 0 and "Enqueued heartbeat" in result.output
    run_worker(app, "default")
    last = tasks.last_runs()["heartbeat"]
    assert last["outcome"] == "ok"
    assert redis_connection.client.get("kontor:scheduler:heartbeat") is not None


def test_unknown_job_name_is_an_error_in_words(app):
    result = app.test_cli_runner().invoke(args=["jobs", "run", "nope"])
    assert result.exit_code != 0 and "known: heartbeat" in result.output


def test_a_recurring_job_still_running_is_not_started_again(app):
    lock = redis_connection.client.lock(tasks.lock_key("heartbeat"), timeout=60)
    assert lock.acquire(blocking=False)
    try:
        assert tasks.run_recurring("heartbeat")["outcome"] == "skipped"
        assert redis_connection.client.get("kontor:scheduler:heartbeat") is None
    finally:
        lock.release()
    assert tasks.run_recurring("heartbeat")["outcome"] == "ok"


def test_schedule_is_registered_once_and_follows_the_table(app):
    scheduler = Scheduler(connection=redis_connection.client)
    sync_schedule(scheduler)
    sync_schedule(scheduler)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == sorted(f"{SCHEDULED_ID_PREFIX}{job.name}" for job in SCHEDULE)
    job = next(job for job in scheduler.get_jobs() if job.id == f"{SCHEDULED_ID_PREFIX}heartbeat")
    assert job.meta["interval"] == 60 and job.origin == "default"


def test_scheduler_burst_enqueues_what_is_due(app):
    result = app.test_cli_runner().invoke(args=["jobs", "scheduler", "--burst"])
    assert result.exit_code == 0, result.output
    assert f"{SCHEDULED_ID_PREFIX}heartbeat" in redis_connection.queue("default").job_ids


def test_jobs_list_shows_the_schedule(app):
    result = app.test_cli_runner().invoke(args=["jobs", "list"])
    assert result.exit_code == 0
    assert "heartbeat" in result.output and "every 1 min" in result.output


def test_a_flushed_redis_gets_its_schedule_back_on_the_next_tick(app):
    scheduler = KontorScheduler(connection=redis_connection.client, interval=1)
    scheduler.enqueue_jobs()
    redis_connection.client.flushdb()  # every scheduled job and queued job is gone
    assert list(scheduler.get_jobs()) == []

    scheduler.enqueue_jobs()

    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(f"{SCHEDULED_ID_PREFIX}{job.name}"
                                                                    for job in SCHEDULE)
    assert f"{SCHEDULED_ID_PREFIX}heartbeat" in redis_connection.queue("default").job_ids
