"""The ``connect-hub`` command line (click).

Every sub-command lives in its own module and is registered on :data:`main` here.
"""

from __future__ import annotations

import click

from hub.cli._bridge import bridge
from hub.cli._replay import replay
from hub.cli._serve import serve
from hub.cli._simulate import simulate
from hub.cli._worker import worker
from hub.cli._db import db
from hub.cli._demo import demo
from hub.cli._deliveries import deliveries
from hub.cli._plugins import plugins
from hub.cli._config import config

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="connect-hub", prog_name="connect-hub")
def main() -> None:
    """Connect Hub: Amazon Connect Streams events, on the server, as plugin hook calls."""


main.add_command(replay)
main.add_command(serve)
main.add_command(worker)
main.add_command(db)
main.add_command(demo)
main.add_command(deliveries)
main.add_command(plugins)
main.add_command(config)
main.add_command(bridge)
main.add_command(simulate)
