"""Start a Celery worker for the hub's queue: ``python -m hub.runtime._worker_main`` or ``connect-hub worker``.

Kept out of :mod:`hub.cli` so a worker process imports only what it needs (the CLI package also
imports the HTTP server).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from hub.config import hub_settings, load_settings
from hub.plugins import load_plugins
from hub.runtime._celery import create_app, task_time_limits
from hub.runtime._settings import RuntimeOptions

__all__ = ["main", "run_worker"]

_log = logging.getLogger("connect_hub.worker")


def run_worker(
    concurrency: int | None = None, loglevel: str = "info", pool: str = "prefork", hostname: str | None = None
) -> None:
    """Validate the settings and plugins, then run a Celery worker until it is stopped.

    :raises hub.config.ConfigurationError: invalid hub or plugin settings (every error listed).
    :raises hub.plugins.PluginLoadError: a plugin failed to load with ``plugins.strict``.
    """
    settings = load_settings()
    plugins = load_plugins(settings)
    plugins.validate(settings)
    typed = hub_settings(settings)
    options = RuntimeOptions.from_settings(typed, settings)
    app = create_app(options)
    _budget, hard = task_time_limits(typed.workers, options.stale_after)
    app.conf.task_time_limit = hard
    if hard >= options.stale_after:
        _log.warning(
            "relay.stale_after (%gs) is not above the workers' hard time limit (%gs): a hook stuck in C code"
            " may be started again by another worker before its process is killed",
            options.stale_after,
            hard,
        )
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency or typed.workers.concurrency}",
            f"--queues={options.queue}",
            f"--loglevel={loglevel}",
            f"--pool={pool}",
            f"--hostname={hostname or f'hub-{os.getpid()}@%h'}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``--concurrency``, ``--loglevel``, ``--pool``, ``--hostname``)."""
    parser = argparse.ArgumentParser(prog="python -m hub.runtime._worker_main")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--hostname", default=None)
    args = parser.parse_args(argv)
    run_worker(args.concurrency, args.loglevel, args.pool, args.hostname)


if __name__ == "__main__":
    main(sys.argv[1:])
