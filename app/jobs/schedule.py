"""The one table of recurring jobs. rq-scheduler runs it; `flask jobs list` shows it.

Each entry names a function by dotted path so a later domain adds a row here instead of
wiring its own timer. (A path, not the function itself as on-demand jobs are started: app.jobs.tasks
imports this table, and the path is what rq-scheduler stores and what sync_schedule compares.) A job that is still running when its next turn comes is skipped
(see app.jobs.tasks.run_recurring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext, lazy_gettext as _l


@dataclass(frozen=True)
class RecurringJob:
    name: str
    func: str
    queue: str
    description: Any  # a lazy message: said in the reader's language
    interval: int | None = None  # seconds
    cron: str | None = None  # crontab syntax, UTC
    # A run that dies without releasing its lock blocks the job at most this long.
    lock_timeout: int = 600

    @property
    def every(self) -> str:
        """The period in words for listings."""
        if self.cron:
            return f"cron {self.cron}"
        seconds = self.interval or 0
        if seconds % 3600 == 0:
            return gettext("every %(hours)s h", hours=seconds // 3600)
        if seconds % 60 == 0:
            return gettext("every %(minutes)s min", minutes=seconds // 60)
        return gettext("every %(seconds)s s", seconds=seconds)


SCHEDULE: tuple[RecurringJob, ...] = (
    RecurringJob(
        name="heartbeat",
        func="app.jobs.tasks.heartbeat",
        queue="default",
        interval=60,
        description=_l("Proves the scheduler and a worker are alive (shown on /healthz)."),
    ),
    RecurringJob(
        name="sweep_outbox",
        func="app.jobs.tasks.sweep_outbox",
        queue="integrations",
        interval=60,
        lock_timeout=120,
        description=_l("Enqueues due sync operations again, so a lost job, dead worker or flushed Redis loses nothing."),
    ),
    RecurringJob(
        name="sweep_inbound",
        func="app.jobs.tasks.sweep_inbound",
        queue="orders",
        interval=60,
        lock_timeout=120,
        description=_l("Enqueues stored deliveries not yet processed (lost job, dead worker) and failed ones due a retry."),
    ),
    RecurringJob(
        name="poll_shop_orders",
        func="app.jobs.tasks.poll_all_shops",
        queue="orders",
        interval=900,
        lock_timeout=900,
        description=_l("Asks each Shopify and WooCommerce shop for orders changed since the last poll "
                    "(webhooks can be late, missing or switched off by the shop)."),
    ),
    RecurringJob(
        name="sync_platform_states",
        func="app.jobs.tasks.sync_all_platform_states",
        queue="integrations",
        interval=3600,
        description=_l("Refreshes each enabled integration's list of platform order states."),
    ),
    RecurringJob(
        name="import_supplier_feeds",
        func="app.jobs.tasks.import_all_feeds",
        queue="import",
        interval=3600,
        description=_l("Starts an import of every enabled, mapped supplier feed."),
    ),
    RecurringJob(
        name="fail_stalled_imports",
        func="app.jobs.tasks.fail_stalled_feed_imports",
        queue="default",  # not "import": it must run while a long import holds that queue's worker
        interval=300,
        lock_timeout=300,
        description=_l("Marks supplier feed imports that made no progress for 15 minutes as failed, so none "
                    "stays “importing” after a worker died or a job was lost."),
    ),
    RecurringJob(
        name="sync_availability",
        func="app.jobs.tasks.sync_all_availability",
        queue="integrations",
        interval=1800,
        lock_timeout=1800,
        description=_l("Writes linked products' availability into each PrestaShop shop that has it switched on."),
    ),
    RecurringJob(
        name="read_allegro_journals",
        func="app.jobs.tasks.read_all_allegro_journals",
        queue="orders",
        interval=60,
        lock_timeout=600,
        description=_l("Reads each Allegro account's order event journal and fetches the changed checkout forms "
                    "in bulk (Allegro has no webhooks)."),
    ),
    RecurringJob(
        name="import_prestashop_orders",
        func="app.jobs.tasks.import_all_prestashop_orders",
        queue="orders",
        interval=600,
        lock_timeout=900,
        description=_l("Imports the orders each PrestaShop shop changed since the last import (webservice or "
                    "database), with a 5-minute overlap."),
    ),
    RecurringJob(
        name="check_alerts",
        func="app.jobs.tasks.check_alerts",
        queue="default",
        interval=300,
        lock_timeout=300,
        description=_l("Checks the alert rules: one alert when a condition starts, one when it clears."),
    ),
    RecurringJob(
        name="prune_failed_jobs",
        func="app.jobs.tasks.prune_failed_jobs",
        queue="default",
        cron="0 2 * * *",
        description=_l("Deletes failed jobs that ended more than 168 hours ago."),
    ),
    RecurringJob(
        name="expire_reservations",
        func="app.jobs.tasks.expire_reservations",
        queue="orders",
        interval=300,
        lock_timeout=300,
        description=_l("Releases order reservations whose expiry (Settings > Orders) has passed."),
    ),
    RecurringJob(
        name="reconcile_stock",
        func="app.jobs.tasks.reconcile_stock",
        queue="integrations",
        interval=1800,
        lock_timeout=1800,
        description=_l("Reads Allegro's and PrestaShop's quantities, lists differences from Kontor's stock and "
                    "fixes those older than KONTOR_STOCK_SYNC_FIX_AFTER_HOURS."),
    ),
    RecurringJob(
        name="clean_stock_sync",
        func="app.jobs.tasks.clean_stock_sync",
        queue="default",
        cron="17 3 * * *",
        lock_timeout=1800,
        description=_l("Deletes finished stock updates and their attempt logs older than 30 days."),
    ),
)


def find(name: str) -> RecurringJob:
    """The recurring job of that name, or KeyError listing the known names."""
    for job in SCHEDULE:
        if job.name == name:
            return job
    raise KeyError(f"no recurring job {name!r}; known: {', '.join(j.name for j in SCHEDULE)}")
