"""The ``connect-hub`` command line (click).

Every sub-command lives in its own module, imported only when that command runs (or when the
command list is shown), so ``connect-hub replay`` does not pay for the database and web stacks.
"""

from __future__ import annotations

import importlib
from typing import Final

import click

__all__ = ["COMMANDS", "main"]

COMMANDS: Final[dict[str, str]] = {
    "bridge": "hub.cli._bridge:bridge",
    "config": "hub.cli._config:config",
    "db": "hub.cli._db:db",
    "deliveries": "hub.cli._deliveries:deliveries",
    "demo": "hub.cli._demo:demo",
    "plugins": "hub.cli._plugins:plugins",
    "replay": "hub.cli._replay:replay",
    "serve": "hub.cli._serve:serve",
    "simulate": "hub.cli._simulate:simulate",
    "worker": "hub.cli._worker:worker",
}
"""Command name → ``module:attribute`` of its click command."""


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use (click's lazy-loading recipe)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name`` (``None`` for an unknown name)."""
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="connect-hub", prog_name="connect-hub")
def main() -> None:
    """Connect Hub: Amazon Connect Streams events, on the server, as plugin hook calls."""
