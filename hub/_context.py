"""What a hook implementation is handed besides the event: :class:`HookContext`, and the records
plugins exchange with the hub: :class:`Action` (offered to other plugins) and
:class:`CheckResult` (a connection test's outcome).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "Action",
    "ActionRegistry",
    "CheckResult",
    "HookContext",
    "PluginActionError",
    "RegisterAction",
]

_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PluginActionError(Exception):
    """An action cannot be registered (bad or duplicate name) or is unknown when called."""


@dataclass(frozen=True, slots=True)
class Action:
    """A callable one plugin offers to the others, registered through ``hub_register_actions``.

    :param name: the full name, ``"<plugin>.<action>"`` (the hub adds the plugin's name).
    :param plugin: the name of the plugin that offered it.
    :param func: called with the keyword arguments given to :meth:`HookContext.call_action`.
    :param description: one line for ``connect-hub plugins list``; defaults to the first line
        of ``func``'s docstring.
    """

    name: str
    plugin: str
    func: Callable[..., Any]
    description: str = ""


class RegisterAction(Protocol):
    """The ``register`` callback passed to ``hub_register_actions``."""

    def __call__(self, func: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> None:
        """Offer ``func`` to other plugins as ``"<this plugin>.<name>"``.

        :param func: the action; called with keyword arguments only.
        :param name: lowercase ``[a-z][a-z0-9_]*``; defaults to ``func.__name__``.
        :param description: defaults to the first line of ``func``'s docstring.
        :raises PluginActionError: the name is invalid or this plugin already registered it.
        """


class ActionRegistry:
    """Every action offered by the loaded plugins, by full name. Safe to read from threads."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._lock = threading.Lock()

    def register_for(self, plugin: str) -> RegisterAction:
        """Return the ``register`` callback for ``plugin``'s ``hub_register_actions`` call."""

        def register(func: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> None:
            short = name if name is not None else getattr(func, "__name__", "")
            if not _ACTION_NAME.match(short):
                raise PluginActionError(f"plugin {plugin}: action name {short!r} must match {_ACTION_NAME.pattern}")
            if not callable(func):
                raise PluginActionError(f"plugin {plugin}: action {short!r} is not callable")
            full = f"{plugin}.{short}"
            doc = (getattr(func, "__doc__", None) or "").strip().splitlines()
            record = Action(full, plugin, func, description or (doc[0] if doc else ""))
            with self._lock:
                if full in self._actions:
                    raise PluginActionError(f"plugin {plugin}: action {full!r} is registered twice")
                self._actions[full] = record

        return register

    def remove_plugin(self, plugin: str) -> None:
        """Forget every action ``plugin`` offered (when it is unregistered)."""
        with self._lock:
            for name in [n for n, a in self._actions.items() if a.plugin == plugin]:
                del self._actions[name]

    def get(self, name: str) -> Action:
        """Return the action called ``name`` (``"<plugin>.<action>"``).

        :raises PluginActionError: no loaded plugin offers it.
        """
        try:
            return self._actions[name]
        except KeyError:
            known = ", ".join(sorted(self._actions)) or "none"
            raise PluginActionError(f"unknown action {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def __iter__(self) -> Iterator[Action]:
        return iter(sorted(self._actions.values(), key=lambda a: a.name))

    def __len__(self) -> int:
        return len(self._actions)


@dataclass(frozen=True, slots=True)
class HookContext:
    """The context every event hook receives as ``ctx``.

    A hook call is one *delivery*: one event for one plugin, retried until it succeeds or its
    attempts run out. Deliveries are at least once, so a hook that has side effects must make
    them idempotent with :attr:`idempotency_key` (send it as the remote API's idempotency key,
    or record it next to the effect and skip keys already seen).

    :param plugin: the name of the plugin being called.
    :param event: the event name, e.g. ``"contact::connected"`` (see ``hub.hookspecs.EVENT_HOOKS``).
    :param idempotency_key: stable across every attempt of this delivery and unique per
        (plugin, hook, event occurrence).
    :param attempt: 1 for the first attempt, 2 for the first retry, ...
    :param occurred_at: when the event happened (timezone-aware, UTC).
    :param settings: this plugin's own settings table, ``plugins.<plugin>``.
    :param logger: a logger named ``connect_hub.plugins.<plugin>``.
    :param actions: actions offered by the loaded plugins; use :meth:`call_action`.
    """

    plugin: str
    event: str
    idempotency_key: str
    attempt: int
    occurred_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("connect_hub.plugins"))
    actions: ActionRegistry = field(default_factory=ActionRegistry)

    @property
    def first_attempt(self) -> bool:
        """True on the first attempt of this delivery (no earlier attempt can have had effects)."""
        return self.attempt == 1

    def call_action(self, name: str, /, **kwargs: Any) -> Any:
        """Call the action ``name`` (``"<plugin>.<action>"``) another plugin offers, and return its result.

        The action runs in this worker, inside this hook call; its exceptions propagate (and so
        fail this attempt). Pass ``idempotency_key=ctx.idempotency_key`` when the action accepts
        one.

        :raises PluginActionError: no loaded plugin offers ``name``.
        """
        return self.actions.get(name).func(**kwargs)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of a plugin's ``hub_check`` connection test (``connect-hub config check``).

    :param ok: True when the plugin can reach what it needs with the current settings.
    :param message: one line for the operator, e.g. ``"connected to CRM as api-user"``.
    :param name: what was checked; defaults to the plugin's name when empty.
    :param details: extra facts to show (never secrets).
    """

    ok: bool
    message: str = ""
    name: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
