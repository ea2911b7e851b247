"""``connect-hub deliveries``: list and filter deliveries, retry dead letters, replay a contact to a plugin."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from hub.config import ConfigurationError, hub_settings, load_settings, validate_settings
from hub.db import (
    DeliveryRecord,
    DeliveryStatus,
    create_engine_from_url,
    current_revision,
    list_dead_letters,
    list_deliveries,
    list_events,
    retry_dead_letters,
    session_scope,
    utcnow,
    write_batch,
)
from hub.hookspecs import hook_for_event

__all__ = ["deliveries", "replay_contact"]


def _engine(url: str | None) -> Engine:
    if url is None:
        try:
            settings = load_settings()
            validate_settings(settings)
        except ConfigurationError as err:
            raise click.ClickException(str(err)) from err
        url = hub_settings(settings).database.url
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        revision = current_revision(url)
    except SQLAlchemyError as err:
        raise click.ClickException(f"cannot open the database {shown}: {getattr(err, 'orig', None) or err}") from err
    if revision is None:
        raise click.ClickException(f"the database {shown} has no hub tables yet: run `connect-hub db upgrade` first")
    return create_engine_from_url(url)


@click.group(invoke_without_command=True)
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), default=None, help="Only this status.")
@click.option("--plugin", default=None, help="Only this plugin.")
@click.option("--contact", "contact_id", default=None, help="Only this contact id.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--url", default=None, help="Database URL (default: database.url from the settings).")
@click.pass_context
def deliveries(  # noqa: PLR0917 - click passes the options positionally
    ctx: click.Context, status: str | None, plugin: str | None, contact_id: str | None, limit: int, url: str | None
) -> None:
    """List deliveries (newest first), filtered by status, plugin or contact."""
    ctx.obj = {"url": url}
    if ctx.invoked_subcommand is not None:
        return
    engine = _engine(url)
    with session_scope(engine, write=False) as db:
        rows = list_deliveries(db, status=status, plugin=plugin, contact_id=contact_id, limit=limit, newest_first=True)
    engine.dispose()
    table = Table()
    for column in ("id", "plugin", "hook", "status", "attempts", "contact", "idempotency key", "last error"):
        table.add_column(column)
    for d in rows:
        table.add_row(
            str(d.id),
            d.plugin,
            d.hook,
            d.status.value,
            str(d.attempts),
            d.contact_id or "",
            d.idempotency_key,
            (d.last_error or "")[:80],
        )
    Console().print(table)


@deliveries.command("retry")
@click.option("--plugin", default=None, help="Only this plugin's dead letters.")
@click.option("--hook", default=None, help="Only this hook's dead letters.")
@click.option("--id", "ids", type=int, multiple=True, help="Dead letter id(s).")
@click.pass_context
def retry(ctx: click.Context, plugin: str | None, hook: str | None, ids: tuple[int, ...]) -> None:
    """Send dead letters back to the outbox (same idempotency key, attempts restart)."""
    engine = _engine(ctx.obj["url"])
    with session_scope(engine) as db:
        letters = list_dead_letters(db, plugin=plugin, hook=hook, limit=100_000)
        retried = retry_dead_letters(db, ids=list(ids) or None, plugin=plugin, hook=hook)
    engine.dispose()
    click.echo(f"{len(retried)} delivery(ies) back in the outbox (of {len(letters)} open dead letter(s))")


def replay_contact(engine: Engine, contact_id: str, plugin: str, *, implemented: set[str] | None = None) -> list[int]:
    """Create new deliveries of every stored event of ``contact_id`` to ``plugin``; returns their ids.

    The new deliveries get idempotency keys ``replay:<timestamp>:<event id>:<plugin>`` (a replay is a
    new delivery on purpose) and run in event order. ``implemented`` restricts to the hooks the plugin
    implements (all mapped hooks when ``None``).
    """
    stamp = utcnow().strftime("%Y%m%dT%H%M%S.%f")
    with session_scope(engine) as db:
        records = []
        for event in list_events(db, contact_id=contact_id, limit=100_000):
            hook = hook_for_event(event.name)
            if hook is None or (implemented is not None and hook not in implemented):
                continue
            records.append(
                DeliveryRecord(
                    plugin=plugin,
                    hook=hook,
                    idempotency_key=f"replay:{stamp}:{event.id}:{plugin}",
                    event_id=event.id,
                    contact_id=contact_id,
                    ordering_key=f"replay:{stamp}:{event.agent_key}|{contact_id}",
                )
            )
        result = write_batch(db, deliveries=records)
    return result.delivery_ids


@deliveries.command("replay")
@click.argument("contact_id")
@click.option("--plugin", required=True, help="The plugin to deliver to.")
@click.pass_context
def replay(ctx: click.Context, contact_id: str, plugin: str) -> None:
    """Re-deliver one contact's stored events to one plugin (new deliveries, in event order)."""
    from hub.plugins import load_plugins  # noqa: PLC0415 - plugins only needed here

    plugins = load_plugins(load_settings())
    if plugin not in plugins.enabled():
        raise click.ClickException(f"plugin {plugin!r} is not enabled (enabled: {', '.join(plugins.enabled())})")
    record = next(r for r in plugins.list_plugins() if r.name == plugin)
    engine = _engine(ctx.obj["url"])
    ids = replay_contact(engine, contact_id, plugin, implemented=set(record.hooks))
    engine.dispose()
    click.echo(f"{len(ids)} delivery(ies) of contact {contact_id} queued for {plugin}")
