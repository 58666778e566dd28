"""`flask accounts token ...`: API tokens from the command line (scripts, first set-up of an integration)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.accounts import services
from app.core.errors import NotFound, ValidationFailed

accounts_cli = AppGroup("accounts", help="Users and API tokens.")
token_cli = AppGroup("token", help="Create and revoke API tokens.")
accounts_cli.add_command(token_cli)


def _user(email: str):
    user = services.user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}.")
    return user


@token_cli.command("create")
@click.option("--user", "email", required=True, help="E-mail of the user the token acts for.")
@click.option("--name", required=True, help="A name to recognise the token by.")
def create_token(email: str, name: str) -> None:
    """Create an API token acting as the user and print it (shown only this once)."""
    user = _user(email)
    if not user.active:
        raise click.ClickException(f"{user.email} is switched off; its tokens would be refused.")
    try:
        token, raw = services.create_api_token(user, name)
    except ValidationFailed as error:
        raise click.ClickException(error.message)
    click.echo(raw)
    click.echo(f"Token {token.id} \u201c{token.name}\u201d acts as {user.email} ({user.role}); "
               "it is not shown again.", err=True)


@token_cli.command("revoke")
@click.argument("token_id", type=int, required=False)
@click.option("--user", "email", help="With --name: the user whose token it is.")
@click.option("--name", help="With --user: the token's name (every unrevoked token of that name).")
def revoke_token(token_id: int | None, email: str | None, name: str | None) -> None:
    """Revoke a token by its id, or by --user and --name; says what it revoked."""
    if token_id is not None and (email or name):
        raise click.UsageError("Give a token id, or --user with --name, not both.")
    if token_id is not None:
        try:
            token = services.get_api_token(token_id)
        except NotFound:
            raise click.ClickException(f"No API token with id {token_id}.")
        if token.is_revoked:
            click.echo(f"Token {token.id} \u201c{token.name}\u201d of {token.user.email} was already revoked at "
                       f"{token.revoked_at:%Y-%m-%d %H:%M} UTC; nothing changed.")
            return
        tokens = [services.revoke_api_token(token_id)]
    elif email and name:
        tokens = services.revoke_api_tokens_named(_user(email), name)
        if not tokens:
            raise click.ClickException(f"{email} has no unrevoked token named \u201c{name}\u201d.")
    else:
        raise click.UsageError("Give a token id, or --user EMAIL --name NAME.")
    for token in tokens:
        click.echo(f"Revoked token {token.id} \u201c{token.name}\u201d ({token.token_prefix}\u2026) of "
                   f"{token.user.email}, revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC.")


def init_app(app: Flask) -> None:
    """Register the `flask accounts` commands."""
    app.cli.add_command(accounts_cli)
