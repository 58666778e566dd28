"""With no REDIS_URL, every process shares one embedded Redis under instance/."""

import subprocess
import sys
from pathlib import Path

import redis

from app.core.embedded_redis import ensure_embedded_redis, stop_embedded_redis

ROOT = Path(__file__).resolve().parents[2]


def test_processes_share_one_embedded_server(tmp_path):
    script = "import sys; from app.core.embedded_redis import ensure_embedded_redis as e; print(e(sys.argv[1]))"
    try:
        procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True) for _ in range(3)]
        urls = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert urls == {f"unix://{tmp_path / 'redis.sock'}"}
        client = redis.Redis(unix_socket_path=str(tmp_path / "redis.sock"))
        client.set("shared", "yes")
        assert ensure_embedded_redis(tmp_path) == urls.pop()
        assert client.get("shared") == b"yes"
        assert client.info("clients")["connected_clients"] >= 1
    finally:
        assert stop_embedded_redis(tmp_path)
    assert not stop_embedded_redis(tmp_path)
