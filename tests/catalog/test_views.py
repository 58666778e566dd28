"""Product pages that start background work."""

from __future__ import annotations

from app.extensions import redis_connection
from tests.factories import make_integration, make_user


def test_autolink_from_the_page_queues_one_job_per_shop(client, login):
    shop = make_integration("prestashop")
    csrf = login(make_user("admin"))
    for _ in range(2):  # a second click while the first still waits queues nothing more
        answer = client.post(f"/products/autolink/{shop.id}", data={"csrf_token": csrf, "create_missing": "y"})
        assert answer.status_code == 302
    jobs = redis_connection.queue("integrations").jobs
    assert [(job.id, job.func_name, job.args) for job in jobs] == [
        (f"autolink-{shop.id}", "app.jobs.tasks.autolink_products", (shop.id, True))]


def test_operators_cannot_start_autolink(client, login):
    shop = make_integration("prestashop")
    csrf = login(make_user("operator"))
    assert client.post(f"/products/autolink/{shop.id}", data={"csrf_token": csrf}).status_code == 403
    assert redis_connection.queue("integrations").count == 0
