"""The dashboard at `/`: today, 7 and 30 days at a glance, each figure linking to its orders."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup

from app.core import cache
from app.core.types import utcnow
from app.dashboard import services
from app.settings.statuses import GROUPS

bp = Blueprint("dashboard", __name__)

DEFAULT_PERIOD = "7d"


@bp.get("/")
def index():
    """Orders, revenue, waiting and late orders, shipping speed and sync health."""
    period = request.args.get("period") or DEFAULT_PERIOD
    if period not in services.PERIODS:
        period = DEFAULT_PERIOD
    orders_url = url_for("orders.index")
    now = utcnow()

    def render_figures() -> str:
        data = services.figures(now)
        return render_template("dashboard/_figures.html", data=data, period=period, orders_url=orders_url,
                               groups=GROUPS, channel_name=services.channel_name,
                               revenue_groups=list(services.REVENUE_GROUPS), late_group=services.LATE_GROUP)

    # Figures change with the orders and with the clock ("today", "late"): cached per minute and data version.
    figures = Markup(cache.fragment(("dashboard", period, now.strftime("%Y%m%d%H%M")),
                                    ("orders", "statuses"), render_figures))
    return render_template("dashboard/index.html", figures=figures, period=period,
                           periods=list(services.PERIODS), sync=services.sync_health(now),
                           sync_health_path=url_for("monitoring.health_page"))
