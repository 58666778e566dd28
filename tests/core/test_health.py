"""/healthz tells an operator whether the database and Redis answer and the scheduler is alive."""

from datetime import timedelta

from app import create_app
from app.core.health import HEARTBEAT_KEY
from app.core.types import utcnow
from app.extensions import redis_connection
from tests.conftest import _config


def beat(app, age: timedelta = timedelta(0)) -> None:
    with app.app_context():
        redis_connection.client.set(HEARTBEAT_KEY, (utcnow() - age).isoformat())


def test_healthy(app, client):
    beat(app)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert response.json["checks"]["database"]["ok"] and response.json["checks"]["redis"]["ok"]
    assert response.json["checks"]["scheduler"]["ok"]


def test_no_heartbeat_is_degraded(app, client):
    with app.app_context():
        redis_connection.client.delete(HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "degraded"
    assert response.json["checks"]["scheduler"]["last_heartbeat"] is None
    assert "scheduler" in response.json["checks"]["scheduler"]["error"]


def test_a_heartbeat_older_than_three_minutes_is_degraded(app, client):
    beat(app, timedelta(minutes=2))
    assert client.get("/healthz").status_code == 200
    beat(app, timedelta(minutes=4))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "degraded"
    assert "4 minutes old" in response.json["checks"]["scheduler"]["error"]


def test_redis_down_is_503(database_url, redis_server):
    app = create_app(_config(database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "unavailable"
    assert response.json["checks"]["redis"]["ok"] is False and response.json["checks"]["database"]["ok"]


def test_database_down_is_503(redis_server):
    app = create_app(_config("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["checks"]["database"]["ok"] is False
