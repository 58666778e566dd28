"""`flask prestashop autolink` and `flask prestashop sync-availability`, added to the PrestaShop group."""

from __future__ import annotations

import click

from app.catalog.services import autolink as link_by_sku_and_ean
from app.core.errors import KontorError
from app.integrations.base import PlatformError
from app.integrations.prestashop.cli import prestashop_cli
from app.stock.links import shop_items
from app.stock.services import sync_availability as sync


@prestashop_cli.command("autolink")
@click.option("--integration", "integration_id", type=int, required=True)
@click.option("--create-missing", is_flag=True, help="Create Kontor products for shop items that match none.")
def autolink(integration_id: int, create_missing: bool) -> None:
    """Link the shop's products and combinations to Kontor products by SKU, then EAN."""
    try:
        counts = link_by_sku_and_ean(integration_id, shop_items(integration_id), create_missing=create_missing)
    except (KontorError, PlatformError) as error:
        raise click.ClickException(error.message)
    click.echo(", ".join(f"{value} {name}" for name, value in counts.items()))


@prestashop_cli.command("sync-availability")
@click.option("--integration", "integration_id", type=int, required=True)
@click.option("--limit", type=int, default=None, help="Consider at most this many linked products.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def sync_availability(integration_id: int, limit: int | None, dry_run: bool) -> None:
    """Write linked products' availability into the shop (or show the diff with --dry-run)."""
    try:
        result = sync(integration_id, limit=limit, dry_run=dry_run)
    except (KontorError, PlatformError) as error:
        raise click.ClickException(getattr(error, "message", str(error)))
    click.echo(f"Availability {'dry run' if dry_run else 'sync'} of integration {integration_id} "
               f"({result.duration:.2f} s via {result.via}):")
    click.echo(f"  {result.products_summary()}")
    click.echo(f"  {result.rows_summary()}")
    for row in result.changed_rows[:20]:
        click.echo(f"  {'~' if dry_run else '✓'} {row}")
    for row in result.missing_rows[:20]:
        click.echo(f"  ! {row}")
    if len(result.missing_rows) > 20:
        click.echo(f"  … and {len(result.missing_rows) - 20} more missing rows: the full list is in run "
                   f"{result.run_id} (CSV on the integration's availability page).")
