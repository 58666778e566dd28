"""Start an RQ worker inside the Flask app context for the queues named on the command line.

    python worker.py integrations orders import default
"""

from __future__ import annotations

import argparse
import os
import sys

from rq import SimpleWorker, Worker
from sqlalchemy.orm import configure_mappers

from app import create_app
from app.core.secrets import install_log_filter
from app.extensions import QUEUE_NAMES, db, redis_connection


def main(argv: list[str] | None = None) -> int:
    """Parse the queue names and work until stopped (or until empty with --burst)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES), help=f"queues, from: {' '.join(QUEUE_NAMES)}")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--name", help="worker name (default: RQ's)")
    parser.add_argument("--fork", action="store_true",
                        help="run each job in a forked child (isolates memory; costs ~100 ms a job)")
    args = parser.parse_args(argv)
    unknown = [q for q in args.queues if q not in QUEUE_NAMES]
    if unknown:
        parser.error(f"unknown queue(s) {', '.join(unknown)}; queues are {', '.join(QUEUE_NAMES)}")

    app = create_app()
    install_log_filter()  # again, now that RQ's loggers exist
    with app.app_context():
        # Set up the ORM once here, so no job pays for it (a forked child inherits it).
        configure_mappers()
        queues = [redis_connection.queue(name) for name in args.queues]
        worker_class = ForkingAppWorker if args.fork else AppWorker
        if args.fork:
            # A forked child must not share the parent's database connections.
            os.register_at_fork(after_in_child=lambda: db.engine.dispose(close=False))
        worker = worker_class(queues, connection=redis_connection.client, name=args.name)
        worker.flask_app = app
        # No RQ scheduler child: nothing enqueues jobs for later (the outbox row holds the next
        # attempt's time, and `flask jobs scheduler` runs the recurring ones); a killed worker
        # would only leave the child behind.
        worker.work(burst=args.burst, with_scheduler=False)
    return 0


class AppContextJobs:
    """Runs each job in a fresh app context, with the database session removed afterwards."""

    flask_app = None

    def perform_job(self, job, queue, *args, **kwargs) -> bool:
        with self.flask_app.app_context():
            try:
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                db.session.remove()


class AppWorker(AppContextJobs, SimpleWorker):
    """The default: jobs run in the worker process, reusing its connections and compiled queries.

    Status pushes are many and short; forking a cold child for each one cost more than the push.
    Job timeouts still apply (RQ interrupts the job with a signal).
    """


class ForkingAppWorker(AppContextJobs, Worker):
    """Each job in a forked child, for memory isolation (`--fork`)."""


if __name__ == "__main__":
    sys.exit(main())
