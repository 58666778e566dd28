"""`flask feeds ...`: supplier feeds and their imports from a shell."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup

from app.core.errors import KontorError
from app.suppliers.imports import import_chunk, latest_import, queue_import, run_import, start_import
from app.suppliers.services import list_feeds as feeds

feeds_cli = AppGroup("feeds", help="Supplier feeds.")


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


def init_app(app: Flask) -> None:
    """Register the `flask feeds` commands."""
    app.cli.add_command(feeds_cli)
