"""`flask orders import`: fetch a shop's changed orders now, from a shell."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.core.errors import KontorError
from app.extensions import db
from app.inbound import imports, runs
from app.inbound.models import InboundEvent
from app.inbound.services import process_event
from app.integrations.base import PlatformError

orders_cli = AppGroup("orders", help="Orders coming in from shops.")


@orders_cli.command("import")
@click.option("--integration", "integration_id", type=int, required=True, help="The integration's id.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="Orders changed since this date (UTC); default: since the last import.")
@click.option("--process", "process_here", is_flag=True, help="Apply them in this process instead of the workers.")
def import_orders(integration_id: int, since: datetime | None, process_here: bool) -> None:
    """Store the shop's changed orders in the inbound ledger (the workers apply them) and print the counts."""
    try:
        counts = imports.import_orders(integration_id, since.replace(tzinfo=timezone.utc) if since else None)
    except (KontorError, PlatformError) as error:
        raise click.ClickException(error.message)
    if "orders" in counts:
        click.echo(f"{counts['orders']} orders changed, {counts['new']} new to Kontor, {counts['known']} already stored.")
    else:
        click.echo(imports.summary(counts) + ".")
    if process_here:
        waiting = db.session.scalars(select(InboundEvent.id).where(InboundEvent.integration_id == integration_id,
                                                                   InboundEvent.state == "received")).all()
        outcomes = [process_event(event_id, early=True) for event_id in waiting]
        failed = sum(1 for outcome in outcomes if outcome.startswith("failed"))
        click.echo(f"{len(outcomes) - failed} applied, {failed} failed (see the integration's Deliveries page).")
    db.session.rollback()  # what the workers committed meanwhile, too
    applied = runs.outcomes([counts.run_id]).get(counts.run_id, runs.RunOutcomes())
    if applied.applied or applied.failed:
        click.echo(f"This run: {applied.words()}.")
    if applied.waiting:
        click.echo(f"{applied.waiting} of this run's deliveries are being applied by the workers; the integration's "
                   "runs show what they did.")


def init_app(app: Flask) -> None:
    """Register the `flask orders` commands."""
    app.cli.add_command(orders_cli)
