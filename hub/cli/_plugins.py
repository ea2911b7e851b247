"""``connect-hub plugins list``: every plugin found, enabled or not, and why."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from hub.config import ConfigurationError, load_settings
from hub.plugins import HubPlugins, PluginLoadError

__all__ = ["plugins"]


@click.group()
def plugins() -> None:
    """Inspect the hub's plugins."""


@plugins.command("list")
def list_command() -> None:
    """List the plugins found (entry points, plugins.modules), enabled or not, with the reason."""
    try:
        settings = load_settings()
    except ConfigurationError as err:
        raise click.ClickException(str(err)) from err
    hub_plugins = HubPlugins()
    try:
        records = hub_plugins.load(settings)
    except PluginLoadError as err:  # strict mode: still show every record
        records = hub_plugins.list_plugins()
        click.echo(str(err), err=True)
    table = Table()
    for column in ("plugin", "package", "source", "enabled", "reason", "hooks"):
        table.add_column(column)
    for r in records:
        package = f"{r.distribution} {r.version or ''}".strip() if r.distribution else ""
        table.add_row(r.name, package, r.source, "yes" if r.enabled else "no", r.reason, ", ".join(r.hooks))
    Console(width=200).print(table)
