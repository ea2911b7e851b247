"""``connect-hub db``: database migrations."""

from __future__ import annotations

import click

from hub.config import ConfigurationError, hub_settings, load_settings, validate_settings
from hub.db import current_revision, head_revision, upgrade
from hub.runtime._local import ensure_sqlite_folder

__all__ = ["db"]


@click.group()
def db() -> None:
    """Manage the hub database (``database.url``)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.option("--url", default=None, help="Database URL (default: database.url from the settings).")
def upgrade_command(revision: str, url: str | None) -> None:
    """Apply the Alembic migrations (idempotent)."""
    if url is None:
        try:
            settings = load_settings()
            validate_settings(settings)
        except ConfigurationError as err:
            raise click.ClickException(str(err)) from err
        url = hub_settings(settings).database.url
    ensure_sqlite_folder(url)
    before = current_revision(url)
    upgrade(url, revision)
    after = current_revision(url)
    click.echo(f"database at revision {after} (was {before or 'empty'}; newest shipped: {head_revision()})")
