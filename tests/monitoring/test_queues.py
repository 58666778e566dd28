"""The queues page and `flask jobs monitor|failed|retry-failed`, and the daily prune of old failed jobs."""

from __future__ import annotations

from datetime import timedelta

from rq import SimpleWorker
from rq.job import Job

from app.core.types import utcnow
from app.extensions import redis_connection
from app.jobs.queues import enqueue
from app.jobs.schedule import find
from app.monitoring import queues
from tests.conftest import csrf_from
from tests.jobs.sample_tasks import mark_paid
from tests.factories import make_user


def failing_job(queue: str = "default") -> Job:
    """A job that fails in a real (in-process) RQ worker: its order does not exist."""
    job = enqueue(mark_paid, 999999, queue=queue)
    SimpleWorker([redis_connection.queue(queue)], connection=redis_connection.client).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    return job


def test_monitor_exits_non_zero_when_a_queue_is_unserved_or_too_long(app):
    for _ in range(3):
        enqueue(mark_paid, 1, queue="import")
    result = app.test_cli_runner().invoke(args=["jobs", "monitor", "--max", "2"])
    assert result.exit_code == 1
    assert "import" in result.output and "queue import has 3 jobs waiting (more than 2)" in result.output
    assert "no worker serves queue default" in result.output


def test_failed_jobs_are_listed_retried_and_pruned(app):
    job = failing_job()
    listed = app.test_cli_runner().invoke(args=["jobs", "failed"])
    assert job.id in listed.output and "1 failed job(s)." in listed.output
    assert "does not exist" in listed.output or "NotFound" in listed.output

    result = app.test_cli_runner().invoke(args=["jobs", "retry-failed", "--queue", "default"])
    assert "Requeued 1 failed job(s)." in result.output
    assert job.id in redis_connection.queue("default").job_ids

    SimpleWorker([redis_connection.queue("default")], connection=redis_connection.client).work(burst=True)
    assert queues.prune_failed() == 0  # failed just now: kept
    assert queues.prune_failed(now=utcnow() + timedelta(hours=169)) == 1
    assert queues.failed_jobs() == []
    assert find("prune_failed_jobs").cron == "0 2 * * *"
    assert find("check_alerts").interval == 300


def test_queues_page_shows_queues_workers_failed_jobs_and_schedule(app, client, login):
    job = failing_job("import")
    login(make_user("viewer"))
    page = client.get("/queues").get_data(as_text=True)
    assert 'data-queue="import"' in page and job.id in page
    assert "No worker is running" in page and "check_alerts" in page and "prune_failed_jobs" in page
    assert "Retry" not in page  # viewers only look


def test_operators_retry_and_delete_failed_jobs_from_the_page(app, client, login):
    first, second = failing_job(), failing_job("orders")
    login(make_user("operator"))
    token = csrf_from(client.get("/queues").get_data(as_text=True))
    client.post(f"/queues/failed/{first.id}/retry", data={"csrf_token": token})
    assert first.id in redis_connection.queue("default").job_ids
    client.post(f"/queues/failed/{second.id}/delete", data={"csrf_token": token})
    assert queues.failed_jobs("orders") == []
    answer = client.post("/queues/failed/no-such-job/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "There is no failed job no-such-job" in answer.get_data(as_text=True)
