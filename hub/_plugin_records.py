"""What the hub records about each plugin, and the checks a plugin must pass to load.

:class:`PluginRecord` is one plugin's outcome (loaded, skipped on purpose, or failed with its
error); :class:`PluginLoadError` reports failures when they are fatal. The checks compare a plugin
with this hub: its name (:func:`name_error`), the plugin API version it declares
(:func:`api_error`, against :data:`PLUGIN_API_VERSION`) and its hook implementations
(:func:`hook_errors`). Public names are re-exported by :mod:`hub.plugins`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import pluggy

from hub import hookspecs
from hub.config import RESERVED_PLUGIN_KEYS

__all__ = [
    "API_ATTRIBUTE",
    "PLUGIN_API_VERSION",
    "PLUGIN_NAME",
    "PluginLoadError",
    "PluginRecord",
    "api_error",
    "failed_record",
    "hook_errors",
    "name_error",
]

#: The hub's plugin API version, ``"major.minor"``. A plugin declaring the same major and a
#: minor no greater than this one is loaded; any other is reported and skipped.
PLUGIN_API_VERSION: Final = "1.0"
#: The module (or object) attribute a plugin declares the API version it targets with.
API_ATTRIBUTE: Final = "CONNECT_HUB_API"
#: What the name of an entry-point (or in-process registered) plugin must match.
PLUGIN_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")

_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$")


@dataclass(frozen=True, slots=True)
class PluginRecord:
    """What the hub knows about one plugin, for ``connect-hub plugins list``.

    :param name: the plugin's name (its entry point name, or module path).
    :param distribution: the distribution (package) that provides it, if any.
    :param version: that distribution's version.
    :param source: ``"entry point"``, ``"module"`` (``plugins.modules``), ``"builtin"`` or
        ``"registered"`` (registered in-process, e.g. by a test).
    :param enabled: True when the plugin is loaded and its hooks are called.
    :param reason: why it is enabled or not, in words.
    :param hooks: the hooks it implements (empty when not loaded).
    :param actions: the actions it offers to other plugins.
    :param api_version: the ``CONNECT_HUB_API`` it declares.
    :param error: the load failure, when it failed (``None`` when skipped on purpose).
    """

    name: str
    distribution: str | None = None
    version: str | None = None
    source: str = "entry point"
    enabled: bool = False
    reason: str = ""
    hooks: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    api_version: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """True when the plugin was wanted but could not be loaded."""
        return self.error is not None

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (``connect-hub plugins list --json``)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "source": self.source,
            "enabled": self.enabled,
            "reason": self.reason,
            "hooks": list(self.hooks),
            "actions": list(self.actions),
            "api_version": self.api_version,
            "error": self.error,
        }

    @property
    def label(self) -> str:
        """``name (distribution version)`` for messages."""
        if self.distribution:
            return f"{self.name} ({self.distribution} {self.version or '?'})"
        return self.name


class PluginLoadError(Exception):
    """Plugins failed to load with ``plugins.strict`` on; :attr:`records` lists the failures."""

    def __init__(self, records: Sequence[PluginRecord]) -> None:
        self.records = list(records)
        self.errors = [f"plugin {r.label}: {r.error}" for r in self.records]
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} plugin(s) failed to load:\n{lines}")


def failed_record(record: PluginRecord, error: str) -> PluginRecord:
    """``record`` marked as failed with ``error`` (not enabled, ``reason`` ``"failed: <error>"``)."""
    return replace(record, enabled=False, reason=f"failed: {error}", error=error)


def _parse_version(value: object) -> tuple[int, int] | None:
    match = _VERSION.match(str(value))
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def api_error(declared: object) -> str | None:
    """Why a plugin declaring ``declared`` cannot load on this hub, or None when it can."""
    hub_major, hub_minor = _parse_version(PLUGIN_API_VERSION) or (0, 0)
    if declared is None:
        return f"declares no {API_ATTRIBUTE} (this hub provides plugin API {PLUGIN_API_VERSION})"
    parsed = _parse_version(declared)
    if parsed is None:
        return f"{API_ATTRIBUTE} = {declared!r} is not a 'major' or 'major.minor' version"
    major, minor = parsed
    if major != hub_major or minor > hub_minor:
        return (
            f"incompatible plugin API: the plugin targets {API_ATTRIBUTE} {declared}, "
            f"this hub provides {PLUGIN_API_VERSION}"
        )
    return None


def name_error(name: str, source: str) -> str | None:
    """Why a plugin from ``source`` cannot be called ``name``, or None when it can.

    Entry-point and in-process registered plugins must match :data:`PLUGIN_NAME`; no plugin
    may take a reserved key of the ``plugins`` settings table.
    """
    if source in {"entry point", "registered"} and not PLUGIN_NAME.match(name):
        return f"plugin name {name!r} must match {PLUGIN_NAME.pattern}"
    if name in RESERVED_PLUGIN_KEYS:
        return f"plugin name {name!r} is reserved (a key of the plugins table)"
    return None


def hook_errors(pm: pluggy.PluginManager, name: str) -> str | None:
    """Hooks plugin ``name`` implements that this hub does not know, or wrappers on event hooks.

    :return: the problems in words, or None when every implementation is valid.
    """
    plugin = pm.get_plugin(name)
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        impls = [i for i in caller.get_hookimpls() if i.plugin_name == name]
        if caller.spec is None and not all(i.optionalhook for i in impls):
            problems.append(f"unknown hook {caller.name!r}")
        elif caller.name not in hookspecs.LIFECYCLE_HOOKS and any(i.hookwrapper or i.wrapper for i in impls):
            problems.append(f"{caller.name!r} is a wrapper; event hooks cannot be wrappers")
    if problems:
        return (
            "invalid hook implementations: "
            + "; ".join(problems)
            + f" (this hub provides plugin API {PLUGIN_API_VERSION})"
        )
    return None
