"""The example Connect Hub plugin: copy this package to start your own.

It appends one line to a file (``plugins.example.path``) for every connected contact, every
agent state change, every contact record and every contact event, exactly once per delivery even
when the hub retries it, and its ``hub_check`` tells whether that file can be written.

Settings (``config/settings.toml``)::

    [default.plugins.example]
    path = "var/example-plugin.log"   # "" logs the lines with the plugin's logger instead

Each line is ``<idempotency key> TAB <occurred at> TAB <event> TAB <text>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from dynaconf import Validator

from hub.hookspecs import hookimpl
from hub.plugins import CheckResult

if TYPE_CHECKING:
    from hub import Agent, AgentStateChange, Contact
    from hub.plugins import HookContext

try:  # POSIX: an exclusive lock makes "check the key, then append" atomic across workers
    import fcntl

    def _lock(fh: TextIO) -> None:
        fcntl.flock(fh, fcntl.LOCK_EX)

except ImportError:  # pragma: no cover - Windows: one worker process per file is then required

    def _lock(fh: TextIO) -> None:
        return None


__all__ = ["CONNECT_HUB_API", "DEFAULT_PATH", "NAME", "read_lines"]

#: The hub plugin API version this plugin is written for; the hub refuses an incompatible one.
CONNECT_HUB_API: Final = "1.0"
#: The plugin's name: its entry point name and its settings table, ``plugins.example``.
NAME: Final = "example"
#: Where lines go when ``plugins.example.path`` is not set.
DEFAULT_PATH: Final = "var/example-plugin.log"


# --- settings --------------------------------------------------------------------------------


@hookimpl
def hub_settings_validators() -> list[Validator]:
    """Validate ``plugins.example.path`` (a string; default :data:`DEFAULT_PATH`)."""
    return [
        Validator(
            f"plugins.{NAME}.path",
            default=DEFAULT_PATH,
            is_type_of=str,
            messages={"operations": "plugins.example.path must be a string path, got {value!r}"},
        )
    ]


@hookimpl
def hub_check(settings: Mapping[str, Any]) -> CheckResult:
    """Report whether the output file can be written (creates nothing)."""
    path = str(settings.get("path", DEFAULT_PATH))
    if not path:
        return CheckResult(ok=True, message="writing lines to the plugin's logger")
    target = Path(path)
    folder = target.parent.resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing ancestor decides whether it can be created
    probe = target if target.exists() else folder
    writable = (probe == target or folder.is_dir()) and os.access(probe, os.W_OK)
    message = f"{'can' if writable else 'cannot'} write {target}"
    return CheckResult(ok=writable, message=message, details={"path": str(target)})


# --- event hooks -----------------------------------------------------------------------------


@hookimpl
def on_contact_connected(contact: Contact, agent: Agent, ctx: HookContext) -> None:
    """Write ``contact <id> (<type>) connected to <agent>`` once per delivery."""
    _write(ctx, f"contact {contact.get_contact_id()} ({contact.get_type()}) connected to {agent.get_name()}")


@hookimpl
def on_agent_state_change(agent: Agent, change: AgentStateChange, ctx: HookContext) -> None:
    """Write ``agent <name>: <old state> -> <new state>`` once per delivery."""
    _write(ctx, f"agent {agent.get_name()}: {change.old_state} -> {change.new_state}")


@hookimpl
def on_contact_record(record: Mapping[str, Any], ctx: HookContext) -> None:
    """Write ``contact record <id> (<channel>, queue <name>, agent <username>): <disconnect reason>``."""
    queue = record.get("Queue") or {}
    agent = record.get("Agent") or {}
    _write(
        ctx,
        f"contact record {record.get('ContactId')} ({record.get('Channel')}, queue {queue.get('Name') or '-'}, "
        f"agent {agent.get('Username') or '-'}): {record.get('DisconnectReason') or '-'}",
    )


@hookimpl
def on_contact_event(event: Mapping[str, Any], ctx: HookContext) -> None:
    """Write ``contact event <id>: <eventType> (<channel>)``."""
    detail = event.get("detail") or {}
    _write(ctx, f"contact event {detail.get('contactId')}: {detail.get('eventType')} ({detail.get('channel')})")


# --- helpers ---------------------------------------------------------------------------------


def _write(ctx: HookContext, text: str) -> None:
    """Append one line for this delivery unless a line with its idempotency key is already there.

    The hub delivers at least once: after a crash or a timeout the same delivery runs again with
    the same ``ctx.idempotency_key``, and this check turns the retry into a no-op.
    """
    line = f"{ctx.occurred_at.isoformat()}\t{ctx.event}\t{text}"
    path = str(ctx.settings.get("path", DEFAULT_PATH))
    if not path:
        ctx.logger.info("%s %s", ctx.idempotency_key, line)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a+", encoding="utf-8") as fh:
        _lock(fh)  # released when the file is closed
        fh.seek(0)
        if any(existing.split("\t", 1)[0] == ctx.idempotency_key for existing in fh):
            ctx.logger.debug("delivery %s already written, skipped", ctx.idempotency_key)
            return
        fh.write(f"{ctx.idempotency_key}\t{line}\n")


def read_lines(path: str | os.PathLike[str]) -> list[tuple[str, str, str, str]]:
    """Read the file back as ``(idempotency key, occurred at, event, text)`` tuples."""
    target = Path(path)
    if not target.exists():
        return []
    rows = []
    for raw in target.read_text(encoding="utf-8").splitlines():
        key, occurred_at, event, text = raw.split("\t", 3)
        rows.append((key, occurred_at, event, text))
    return rows
