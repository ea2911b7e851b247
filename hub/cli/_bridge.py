"""``connect-hub bridge``: per-agent tokens for the Streams browser bridge (mint, revoke)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from hub.config import ConfigurationError, hub_settings, load_settings, validate_settings
from hub.db import create_engine_from_url, upgrade

if TYPE_CHECKING:
    from hub.ingest._credentials import BridgeCredentials

__all__ = ["bridge"]


def _credentials(config_files: tuple[str, ...], *, migrate: bool = False) -> BridgeCredentials:
    from hub.ingest._credentials import BridgeCredentials, bridge_settings  # noqa: PLC0415 - light start-up

    try:
        settings = load_settings(list(config_files) if config_files else None)
        validate_settings(settings)
        bridge = bridge_settings(settings)
    except (ConfigurationError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    if not bridge.enabled:
        raise click.ClickException("ingest.bridge.secret is not set (HUB_INGEST__BRIDGE__SECRET)")
    url = hub_settings(settings).database.url
    if migrate:
        upgrade(url)
    return BridgeCredentials(bridge, create_engine_from_url(url))


_CONFIG = click.option(
    "--config", "config_files", multiple=True, type=click.Path(dir_okay=False), help="Settings file (repeatable)."
)


@click.group()
def bridge() -> None:
    """Tokens for the Streams browser bridge (see docs/bridge.md)."""


@bridge.command("token")
@click.argument("agent")
@click.option("--ttl", type=click.IntRange(min=1), default=None, help="Lifetime in seconds (default: token_ttl).")
@click.option("--json", "as_json", is_flag=True, help="Print token, id, agent and expiry as JSON.")
@_CONFIG
def token_command(agent: str, ttl: int | None, as_json: bool, config_files: tuple[str, ...]) -> None:
    """Mint a token bound to AGENT (its agent ARN or its username); prints the token."""
    credentials = _credentials(config_files)
    try:
        issued = credentials.mint(agent, ttl=ttl)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    finally:
        credentials.engine.dispose()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "token": issued.token,
                    "token_id": issued.token_id,
                    "agent": issued.agent,
                    "expires_at": issued.expires_at.isoformat(),
                }
            )
        )
        return
    click.echo(issued.token)
    click.echo(f"token id {issued.token_id} for {issued.agent}, expires {issued.expires_at.isoformat()}", err=True)


@bridge.command("revoke")
@click.argument("token_id")
@_CONFIG
def revoke_command(token_id: str, config_files: tuple[str, ...]) -> None:
    """Revoke the token with TOKEN_ID (printed by ``bridge token``); the hub refuses it from now on."""
    credentials = _credentials(config_files, migrate=True)
    try:
        fresh = credentials.revoke(token_id)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    finally:
        credentials.engine.dispose()
    click.echo(f"token {token_id} {'revoked' if fresh else 'was already revoked'}")
