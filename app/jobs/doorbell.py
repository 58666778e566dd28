"""Starting webhook deliveries' jobs in batches, off the request: a per-process flusher thread.

A delivery is committed before it is handed here, so this is only the doorbell: whatever is
pending when a process dies (or while Redis is down) is found by the inbound sweeper, because a
stored, unprocessed delivery is due at once. Every WEBHOOK_ENQUEUE_INTERVAL (0.1 s) the flusher starts one
batch job per BATCH_SIZE deliveries, instead of each request paying for its own enqueue.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import Flask, current_app
from redis import RedisError

from app.inbound.ledger import BATCH_SIZE
from app.jobs import tasks

log = logging.getLogger("kontor.jobs.doorbell")


class Doorbell:
    """Collects stored delivery ids and starts their batch jobs from one background thread per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: list[tuple[Flask, int]] = []
        self._pid: int | None = None

    def ring(self, event_id: int) -> None:
        """Have the delivery's job started soon (at once when WEBHOOK_ENQUEUE_INTERVAL is 0)."""
        app = current_app._get_current_object()
        interval = float(app.config.get("WEBHOOK_ENQUEUE_INTERVAL", 0.1))
        if interval <= 0:
            _start(app, [event_id])
            return
        with self._lock:
            self._pending.append((app, event_id))
            if self._pid != os.getpid():  # threads do not survive a fork: each server process starts its own
                self._pid = os.getpid()
                threading.Thread(target=self._run, args=(interval,), name="kontor-doorbell", daemon=True).start()
        if not self._wake.is_set():  # set already: the flusher is gathering, and takes this one too
            self._wake.set()

    def _run(self, interval: float) -> None:
        while True:
            self._wake.wait()
            time.sleep(interval)  # let the deliveries of the next few milliseconds join this batch
            self._wake.clear()
            with self._lock:
                pending, self._pending = self._pending, []
            by_app: dict[Flask, list[int]] = {}
            for app, event_id in pending:
                by_app.setdefault(app, []).append(event_id)
            for app, event_ids in by_app.items():
                _start(app, event_ids)


def _start(app: Flask, event_ids: list[int]) -> None:
    with app.app_context():
        for start in range(0, len(event_ids), BATCH_SIZE):
            chunk = event_ids[start:start + BATCH_SIZE]
            try:
                tasks.start_inbound_batch(chunk, f"inbound-batch-{chunk[0]}")
            except RedisError:  # stored already: the inbound sweeper enqueues them within a minute
                log.warning("could not enqueue %s stored deliveries (from %s); the sweeper will", len(chunk), chunk[0])


doorbell = Doorbell()
