"""``connect-hub worker``: a Celery worker running the hub's deliveries."""

from __future__ import annotations

import click

from hub.config import ConfigurationError
from hub.plugins import PluginLoadError
from hub.runtime._worker_main import run_worker

__all__ = ["worker"]


@click.command()
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: workers.concurrency).")
@click.option("--loglevel", "-l", default="info", show_default=True, help="Celery log level.")
@click.option("--pool", default="prefork", show_default=True, help="Celery pool (prefork, threads, solo).")
@click.option("--hostname", "-n", default=None, help="Worker node name (default: hub-<pid>@<host>).")
def worker(concurrency: int | None, loglevel: str, pool: str, hostname: str | None) -> None:
    """Start a Celery worker consuming the hub's delivery queue.

    Settings come from the usual places (config/settings.toml, HUB_* variables): ``database.url``,
    ``broker.url``, ``workers.*``. The hub's and the plugins' settings are validated before the
    worker starts; each pool process loads the plugins and opens the database after the fork.
    """
    try:
        run_worker(concurrency, loglevel, pool, hostname)
    except (ConfigurationError, PluginLoadError) as err:
        raise click.ClickException(str(err)) from err
