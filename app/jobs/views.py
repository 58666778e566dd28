"""The queues page: each RQ queue, the workers, the failed jobs with retry and delete, the recurring schedule."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext, ngettext

from app.core import params
from app.core.auth import role_required
from app.core.htmx import render_page_or_fragment
from app.extensions import QUEUE_NAMES
from app.jobs.schedule import SCHEDULE
from app.monitoring import queues

bp = Blueprint("queues", __name__, url_prefix="/queues")


@bp.get("")
def index():
    """Queues, workers, failed jobs and the recurring schedule (refreshes itself)."""
    return render_page_or_fragment("jobs/queues.html", "jobs/_queues.html", queues=queues.queue_states(),
                                   workers=queues.workers(), failed=queues.failed_jobs(limit=100),
                                   schedule=SCHEDULE, next_runs=queues.next_runs(), last_runs=queues.last_runs(),
                                   heartbeat_age=queues.heartbeat_age())


def _queue_arg() -> str | None:
    queue = params.text_arg(request.form.get("queue"), "queue", max_length=20)
    return queue if queue in QUEUE_NAMES else None


@bp.post("/failed/<job_id>/<action>")
@role_required("operator")
def failed_job(job_id: str, action: str):
    """Retry or delete one failed job."""
    job_id = params.text_arg(job_id, "job", max_length=200)
    try:
        if action == "retry":
            queues.retry_failed(job_id)
            flash(gettext("The job is back on its queue."), "success")
        elif action == "delete":
            queues.delete_failed(job_id)
            flash(gettext("The failed job was deleted."), "success")
    except LookupError as error:
        flash(str(error), "error")
    return redirect(url_for("queues.index"))


@bp.post("/failed/all/<action>")
@role_required("operator")
def all_failed(action: str):
    """Retry or delete every failed job (of one queue, or all)."""
    queue = _queue_arg()
    if action == "retry":
        flash(ngettext("%(num)d failed job back on its queue.", "%(num)d failed jobs back on their queues.",
                       queues.retry_all_failed(queue)), "success")
    elif action == "delete":
        flash(ngettext("%(num)d failed job deleted.", "%(num)d failed jobs deleted.", queues.delete_all_failed(queue)),
              "success")
    return redirect(url_for("queues.index"))
