"""/healthz tells an operator whether the database and Redis answer."""

from app import create_app
from tests.conftest import _config


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["database"]["ok"] and response.json["checks"]["redis"]["ok"]


def test_redis_down_is_503(database_url, redis_server):
    app = create_app(_config(database_url, REDIS_URL="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["ok"] is False and response.json["checks"]["database"]["ok"]


def test_database_down_is_503(redis_server):
    app = create_app(_config("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["checks"]["database"]["ok"] is False
