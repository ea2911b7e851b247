"""``connect-hub serve``: the hub process: the HTTP ingest app on uvicorn, and the outbox relay.

Settings: ``http.host`` / ``http.port`` (``HUB_HTTP__HOST`` / ``HUB_HTTP__PORT``), ``database.url``
(``HUB_DATABASE__URL``, migrated to the newest revision at start), ``ingest.*`` credentials. Stops
gracefully on SIGINT / SIGTERM: uvicorn stops accepting connections and lets requests in flight finish
(each is one database transaction, so an interrupted one leaves nothing behind and Firehose retries it).
"""

from __future__ import annotations

import faulthandler
import logging
from pathlib import Path

import click
import uvicorn
from sqlalchemy.engine import make_url

from hub.config import ConfigurationError, hub_settings, load_settings, validate_settings
from hub.db import create_engine_from_url, normalize_url, upgrade

__all__ = ["serve"]

_log = logging.getLogger("hub.serve")


def _prepare_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (the default ``var/hub.sqlite3``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


@click.command()
@click.option(
    "--config", "config_files", multiple=True, type=click.Path(dir_okay=False), help="Settings file (repeatable)."
)
@click.option("--host", default=None, help="Listen address (default: the http.host setting).")
@click.option("--port", type=int, default=None, help="Listen port (default: the http.port setting).")
@click.option("--no-migrate", is_flag=True, help="Do not run the database migrations at start.")
@click.option("--no-relay", is_flag=True, help="Do not run the outbox relay in this process.")
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
def serve(
    *,
    config_files: tuple[str, ...],
    host: str | None,
    port: int | None,
    no_migrate: bool,
    no_relay: bool,
    log_level: str,
) -> None:
    """Run the HTTP ingest endpoints (Firehose, EventBridge, bridge), /healthz and the outbox relay.

    Runs until SIGINT or SIGTERM. The relay publishes the deliveries the endpoints write to the broker
    (``broker.url``) for ``connect-hub worker`` processes; while the broker is down they wait in the
    database outbox, so ingest keeps accepting input.
    """
    from hub.ingest import DatabaseSink, create_app  # noqa: PLC0415 - keep the CLI start-up light

    faulthandler.enable()  # a fatal error in an extension module prints every thread's stack to stderr
    from hub.plugins import load_plugins  # noqa: PLC0415

    try:
        settings = load_settings(list(config_files) if config_files else None)
        plugins = load_plugins(settings)
        validate_settings(settings, plugins.settings_validators())
    except ConfigurationError as err:
        raise click.ClickException(str(err)) from err
    typed = hub_settings(settings)
    url = typed.database.url
    _prepare_sqlite_folder(url)
    if not no_migrate:
        upgrade(url)
    engine = create_engine_from_url(url)
    sink = DatabaseSink(engine, hooks=plugins)
    app = create_app(settings, sink)
    bind_host = host or typed.http.host
    bind_port = port if port is not None else typed.http.port
    safe_url = normalize_url(url).render_as_string(hide_password=True)
    click.echo(f"connect-hub serve: http://{bind_host}:{bind_port} (database {safe_url})", err=True)
    config = uvicorn.Config(
        app,
        host=bind_host,
        port=bind_port,
        log_level=log_level,
        timeout_graceful_shutdown=30,
        access_log=False,
    )
    relay = None
    if not no_relay:
        from hub.runtime import Relay, RuntimeOptions  # noqa: PLC0415
        from hub.runtime import create_app as create_celery_app  # noqa: PLC0415

        options = RuntimeOptions.from_settings(typed, settings)
        relay = Relay(engine, create_celery_app(options), options)
        sink.publisher = relay.publish_committed  # each request's deliveries go out right after its commit
        relay.start()
    try:
        uvicorn.Server(config).run()
    finally:
        sink.close()  # the writes of requests uvicorn let finish are done
        if relay is not None:
            relay.stop()
        engine.dispose()
