"""``connect-hub config check``: validate the hub's and every enabled plugin's settings, test plugins."""

from __future__ import annotations

import sys

import click

from hub.config import ConfigurationError, hub_settings, load_settings
from hub.plugins import HubPlugins, PluginLoadError
from hub.runtime import RuntimeOptions

__all__ = ["config"]


@click.group()
def config() -> None:
    """Inspect and check the configuration."""


@config.command("check")
@click.option("--connections/--no-connections", default=False, help="Also run every plugin's hub_check().")
def check(connections: bool) -> None:
    """Run every validator and list every error; exit code 1 when there is any."""
    errors: list[str] = []
    try:
        settings = load_settings()
    except ConfigurationError as err:
        for e in err.errors:
            click.echo(f"error: {e}")
        sys.exit(1)
    plugins = HubPlugins()
    try:
        plugins.load(settings)
    except PluginLoadError as err:
        errors += err.errors
    errors += [
        f"plugin {r.label}: {r.error}" for r in plugins.failures() if f"plugin {r.label}: {r.error}" not in errors
    ]
    try:
        plugins.validate(settings)
    except ConfigurationError as err:
        errors += err.errors
    except PluginLoadError as err:
        errors += err.errors
    if not errors:
        typed = hub_settings(settings)
        options = RuntimeOptions.from_settings(typed, settings)
        click.echo(f"environment: {typed.env}")
        click.echo(f"database:    {typed.database.url}")
        click.echo(f"broker:      {typed.broker.url} -> {options.broker.url} ({options.broker.kind})")
        click.echo(f"plugins:     {', '.join(plugins.enabled()) or 'none'}")
    if connections and not errors:
        for result in plugins.check():
            status = "ok" if result.ok else "FAILED"
            click.echo(f"check {result.name}: {status} {result.message}")
            if not result.ok:
                errors.append(f"plugin {result.name}: check failed: {result.message}")
    for e in errors:
        click.echo(f"error: {e}")
    if errors:
        click.echo(f"{len(errors)} error(s)")
        sys.exit(1)
    click.echo("configuration OK")
