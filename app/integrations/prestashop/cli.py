"""`flask prestashop ...`: the PrestaShop shell commands, and the group other domains add theirs to.

The group lives with the PrestaShop integration; the availability sync and autolink commands are
added by app.stock.cli (a higher room: this module never imports it).
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.integrations.base import PlatformError
from app.integrations.prestashop.database import DEFAULT_PREFIX, PrestaShopDatabase
from app.integrations.services import get_integration

prestashop_cli = AppGroup("prestashop", help="PrestaShop shops: database check, product links and availability.")


@prestashop_cli.command("check-database")
@click.option("--integration", "integration_id", type=int, required=True)
def check_database(integration_id: int) -> None:
    """Connect to the shop's database and list its shops and languages."""
    integration = get_integration(integration_id)
    dsn = integration.credentials.get("db_dsn")
    if not dsn:
        raise click.ClickException(f"Integration {integration_id} has no shop database (DSN) set.")
    prefix = (integration.settings.get("database") or {}).get("prefix", DEFAULT_PREFIX)
    try:
        with PrestaShopDatabase(dsn, prefix) as shop:
            click.echo(shop.check())
            for found in shop.shops():
                click.echo(f"  shop {found.id_shop} (group {found.id_shop_group}): {found.name}")
            for language in shop.languages():
                click.echo(f"  language {language.id_lang} {language.iso_code}: {language.name}"
                           f"{'' if language.active else ' (inactive)'}")
    except (PlatformError, ValueError) as error:
        raise click.ClickException(getattr(error, "message", str(error)))


def init_app(app: Flask) -> None:
    """Register the `flask prestashop` commands."""
    app.cli.add_command(prestashop_cli)
