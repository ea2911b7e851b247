"""Finding, selecting and importing plugins, tolerantly.

Plugins are found through the ``connect_hub`` entry-point group (:func:`discover_entry_points`)
and through ``plugins.modules``; :class:`Selection` holds the ``plugins.enabled`` (allow) and
``plugins.disabled`` (deny) lists. A :class:`PluginLoader` imports each selected plugin on its
own: a blocked one is recorded with the reason, one that fails to import with its error, and
one that imports is handed to the facade (:class:`hub.plugins.HubPlugins`) to be checked and
registered. Public names are re-exported by :mod:`hub.plugins` where they are part of its API.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Final, Protocol

from hub import hookspecs
from hub._plugin_records import PluginRecord, failed_record

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dynaconf import Dynaconf

__all__ = [
    "ENTRY_POINT_GROUP",
    "Admit",
    "PluginLoader",
    "Selection",
    "discover_entry_points",
    "normalize_name",
]

#: The entry-point group plugins are discovered in.
ENTRY_POINT_GROUP: Final = hookspecs.PROJECT_NAME


def normalize_name(name: str) -> str:
    """A plugin or distribution name for comparison: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def discover_entry_points(
    group: str = ENTRY_POINT_GROUP,
) -> list[tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]]:
    """Return the installed entry points of ``group`` with their distributions, sorted by name.

    A distribution found twice on ``sys.path`` is listed once (the first, as imports would).
    """
    seen: set[tuple[str, str]] = set()
    found = []
    for dist in importlib.metadata.distributions():
        dist_name = normalize_name(dist.metadata["Name"] or "")
        for ep in dist.entry_points:
            if ep.group != group or (dist_name, ep.name) in seen:
                continue
            seen.add((dist_name, ep.name))
            found.append((ep, dist))
    return sorted(found, key=lambda pair: pair[0].name)


@dataclass(frozen=True, slots=True)
class Selection:
    """The ``plugins`` settings that choose what loads: allow and deny lists, strictness, modules."""

    enabled: tuple[str, ...] = ("*",)
    disabled: tuple[str, ...] = ()
    strict: bool = False
    modules: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Dynaconf | None) -> Selection:
        """Read ``plugins.enabled`` / ``disabled`` / ``strict`` / ``modules`` (defaults for ``None``)."""
        if settings is None:
            return cls()

        def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = settings.get(key)
            if value is None:
                return default
            if isinstance(value, str):  # tolerate HUB_PLUGINS__DISABLED=foo
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)

        return cls(
            enabled=names("plugins.enabled", ("*",)),
            disabled=names("plugins.disabled", ()),
            strict=bool(settings.get("plugins.strict", False)),
            modules=names("plugins.modules", ()),
        )

    def blocked_reason(self, names: Sequence[str]) -> str | None:
        """Why a plugin known by ``names`` (its name, its distribution) must not load, or None."""
        wanted = {normalize_name(n) for n in names if n}
        if wanted & {normalize_name(n) for n in self.disabled}:
            return "listed in plugins.disabled"
        if "*" not in self.enabled and not wanted & {normalize_name(n) for n in self.enabled}:
            return "not listed in plugins.enabled"
        return None


class Admit(Protocol):
    """Checks, registers and records one imported plugin (``HubPlugins._admit``)."""

    def __call__(self, obj: object, record: PluginRecord, *, check_api: bool) -> None: ...


class PluginLoader:
    """One tolerant loading pass: select and import each plugin on its own, recording the outcome.

    :param selection: what the settings allow.
    :param records: the facade's records by key, updated in place.
    :param admit: called with each plugin that imported, to check and register it.
    """

    def __init__(self, selection: Selection, records: dict[str, PluginRecord], admit: Admit) -> None:
        self.selection = selection
        self._records = records
        self._admit = admit

    def _fail(self, record: PluginRecord, error: str, *, key: bool = True) -> None:
        self._records[record.name if key else f"{record.name} ({record.distribution})"] = failed_record(record, error)

    def load_entry_point(self, ep: importlib.metadata.EntryPoint, dist: importlib.metadata.Distribution | None) -> None:
        """Load the plugin an entry point names, unless blocked or its name is already taken."""
        record = PluginRecord(
            name=ep.name,
            distribution=(dist.metadata["Name"] if dist is not None else None),
            version=(dist.version if dist is not None else None),
            source="entry point",
        )
        if ep.name in self._records and self._records[ep.name].enabled:
            other = self._records[ep.name]
            self._fail(record, f"plugin name {ep.name!r} is already used by {other.label}", key=False)
            return
        blocked = self.selection.blocked_reason([ep.name, record.distribution or ""])
        if blocked:
            self._records[ep.name] = replace(record, reason=blocked)
            return
        try:
            obj = ep.load()
        except Exception as exc:
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        self._admit(obj, record, check_api=True)

    def load_module(self, path: str, *, source: str) -> None:
        """Load a plugin module by dotted path (``source`` ``"builtin"`` or ``"module"``)."""
        record = PluginRecord(name=path, source=source)
        # Listing a module in plugins.modules enables it; only plugins.disabled can block it.
        blocked = None if source == "builtin" else replace(self.selection, enabled=("*",)).blocked_reason([path])
        if blocked:
            self._records[path] = replace(record, reason=blocked)
            return
        try:
            obj: ModuleType = importlib.import_module(path)
        except Exception as exc:
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        self._admit(obj, record, check_api=source != "builtin")

    def record_missing(self) -> None:
        """Record a failure for each name in ``plugins.enabled`` that matched no plugin found."""
        known = {normalize_name(r.name) for r in self._records.values()}
        known |= {normalize_name(r.distribution) for r in self._records.values() if r.distribution}
        for name in self.selection.enabled:
            if name != "*" and normalize_name(name) not in known:
                self._fail(
                    PluginRecord(name=name, source="settings"),
                    "listed in plugins.enabled but not installed",
                )
