"""`flask feeds ...` and `flask prestashop ...`: imports, autolink and availability sync from a shell."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup

from app.core.errors import KontorError
from app.catalog.services import autolink as link_by_sku_and_ean
from app.integrations.base import PlatformError
from app.stock.links import shop_items
from app.stock.services import sync_availability as sync
from app.suppliers.imports import import_chunk, latest_import, queue_import, run_import, start_import
from app.suppliers.parsing import FeedError
from app.suppliers.services import list_feeds as feeds

feeds_cli = AppGroup("feeds", help="Supplier feeds.")
prestashop_cli = AppGroup("prestashop", help="PrestaShop shops: product links and availability.")


@feeds_cli.command("list")
def list_feeds() -> None:
    """Show the supplier feeds and their last import."""
    for feed in feeds():
        last = latest_import(feed.id)
        state = f"{last.state}, {last.rows_read} rows, {last.matched} matched" if last else "never imported"
        click.echo(f"{feed.id:>4}  {feed.name:<30} {feed.settings.get('format', '?'):<4} {state}")


@feeds_cli.command("import")
@click.option("--feed", "feed_id", type=int, required=True, help="The feed's id (see `flask feeds list`).")
@click.option("--limit", type=int, default=None, help="Read at most this many rows.")
@click.option("--enqueue", is_flag=True, help="Let the workers do it instead of this process.")
def import_feed(feed_id: int, limit: int | None, enqueue: bool) -> None:
    """Import a supplier feed now and print what happened."""
    try:
        feed_import = queue_import(feed_id, limit) if enqueue else start_import(feed_id)
    except KontorError as error:
        raise click.ClickException(error.message)
    if enqueue:
        click.echo(f"Import {feed_import.id} queued; follow it on the feed's page.")
        return
    clock = time.monotonic()
    result = run_import(feed_import.id, lambda import_id, _n, rows: import_chunk(import_id, rows), limit=limit)
    seconds = time.monotonic() - clock
    if result.state == "failed":
        raise click.ClickException(f"Import {result.id} failed: {result.error}")
    click.echo(f"Import {result.id}: {result.rows_read} rows read, {result.matched} matched, "
               f"{result.unmatched} unmatched, {result.invalid} invalid, {result.links_updated} links updated "
               f"in {seconds:.1f} s ({result.rows_read / seconds if seconds else 0:,.0f} rows/s).")
    if result.invalid:
        click.echo(f"Invalid rows are listed on the feed's page (report for import {result.id}).")


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
    except (KontorError, PlatformError, FeedError) as error:
        raise click.ClickException(getattr(error, "message", str(error)))
    verb = "would change" if dry_run else "changed"
    click.echo(f"{result.considered} linked products: {result.changed} rows {verb}, "
               f"{result.unchanged + result.skipped_unchanged} unchanged, {result.missing} missing in the shop "
               f"({result.duration:.2f} s via {result.via}).")
    for row in result.changed_rows[:20]:
        click.echo(f"  {'~' if dry_run else '✓'} {row}")
    for row in result.missing_rows[:20]:
        click.echo(f"  ! {row}")


def init_app(app: Flask) -> None:
    """Register the `flask feeds` and `flask prestashop` commands."""
    app.cli.add_command(feeds_cli)
    app.cli.add_command(prestashop_cli)
