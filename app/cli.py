"""`flask kontor ...`: first-run set-up, demo data, users."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.accounts import services as accounts
from app.accounts.models import ROLES
from app.core.embedded_redis import stop_embedded_redis
from app.core.errors import ValidationFailed
from app.demo import seed_demo_orders, seed_demo_stock
from app.extensions import db
from app.orders.models import Order
from app.settings.services import seed_defaults

kontor_cli = AppGroup("kontor", help="Set-up and maintenance.")


@kontor_cli.command("setup")
@click.option("--demo/--no-demo", default=True, help="Seed demo orders when there are none.")
@click.option("--demo-orders", default=1000, show_default=True)
def setup(demo: bool, demo_orders: int) -> None:
    """Seed statuses and numbering, create the first admin, add demo orders (first run only)."""
    seed_defaults()
    admin, password = accounts.ensure_admin()
    if password:
        click.secho("\n  First run: an admin account was created.", bold=True)
        click.secho(f"    e-mail:   {admin.email}", bold=True)
        click.secho(f"    password: {password}", bold=True)
        click.secho("  It is shown only this once; change it under Settings > Users.\n", bold=True)
    if demo and not db.session.scalar(select(func.count(Order.id))):
        click.echo(f"Seeding {demo_orders} demo orders ...")
        seed_demo_orders(demo_orders)
        click.echo("Demo orders added.")
        stock = seed_demo_stock()
        if stock["products"]:
            click.echo(f"Demo warehouse MAG: {stock['products']} products, {stock['units']} units received, "
                       f"{stock['reserved_orders']} open orders reserved.")


@kontor_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(ROLES), default="operator", show_default=True)
@click.password_option()
def create_user(email: str, name: str, role: str, password: str) -> None:
    """Add a user."""
    try:
        user = accounts.create_user(email, name or email, password, role)
    except ValidationFailed as error:
        raise click.ClickException(error.message)
    click.echo(f"Created {user.email} ({user.role}).")


@kontor_cli.command("stop-redis")
def stop_redis() -> None:
    """Stop the embedded Redis server (only used when REDIS_URL is not set)."""
    from flask import current_app

    stopped = stop_embedded_redis(current_app.config["INSTANCE_PATH"])
    click.echo("Embedded Redis stopped." if stopped else "Embedded Redis was not running.")


def init_app(app: Flask) -> None:
    """Register the `flask kontor` commands."""
    app.cli.add_command(kontor_cli)
