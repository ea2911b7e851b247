"""Plugin loading and the typed plugin facade.

Plugins are found through the ``connect_hub`` entry-point group (first-party plugins under
``plugins/`` are packages discovered exactly like third-party ones) and through
``plugins.modules`` (dotted module paths). Loading is tolerant: each plugin is imported,
version-checked and registered on its own, and one that fails is recorded with its
distribution name and error while the others load; ``plugins.strict`` makes any failure fatal.

This module is the public face: the :class:`HubPlugins` facade and the per-process functions.
Discovery, allow/deny selection and tolerant importing live in :mod:`hub._plugin_loading`;
records, errors and the name/API/hook checks in :mod:`hub._plugin_records`.

Typical use, in the hub process and in every worker process::

    settings = load_settings()
    plugins = load_plugins(settings)            # idempotent, per process
    plugins.validate(settings)                  # raises ConfigurationError listing every error
    plugins.startup(hub)
    ...
    for plugin, hook in plugins.deliveries_for("contact::connected"):
        ...                                     # one delivery per (plugin, hook)
    ctx = plugins.context(plugin, event=..., idempotency_key=..., attempt=1, occurred_at=...)
    plugins.call(plugin, hook, contact=contact, agent=agent, ctx=ctx)
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pluggy
from dynaconf import Validator

from hub import hookspecs
from hub._context import Action, ActionRegistry, CheckResult, HookContext, PluginActionError, RegisterAction
from hub._plugin_loading import ENTRY_POINT_GROUP, PluginLoader, Selection, discover_entry_points
from hub._plugin_records import (
    API_ATTRIBUTE,
    PLUGIN_API_VERSION,
    PluginLoadError,
    PluginRecord,
    api_error,
    failed_record,
    hook_errors,
    name_error,
)
from hub.config import ConfigurationError, find_errors, plugin_settings

if TYPE_CHECKING:
    from dynaconf import Dynaconf

__all__ = [
    "API_ATTRIBUTE",
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "Action",
    "ActionRegistry",
    "CheckResult",
    "HookContext",
    "HubPlugins",
    "PluginActionError",
    "PluginLoadError",
    "PluginRecord",
    "RegisterAction",
    "create_plugin_manager",
    "discover_entry_points",
    "get_plugins",
    "list_plugins",
    "load_plugins",
    "reset_plugins",
]

logger = logging.getLogger("connect_hub.plugins")

#: Dotted paths of plugins that ship inside the hub, registered before any entry point.
BUILTIN_PLUGINS: tuple[str, ...] = ()


def create_plugin_manager() -> pluggy.PluginManager:
    """Return a new pluggy manager for project ``connect_hub`` with the hub's hookspecs added."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


class HubPlugins:
    """The typed facade over the pluggy manager: loading, listing and per-plugin hook calls.

    Create one per process with :func:`load_plugins` (or directly, for tests). Every call that
    runs plugin code isolates plugins from each other.
    """

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm: pluggy.PluginManager = pm or create_plugin_manager()
        self.actions = ActionRegistry()
        self._records: dict[str, PluginRecord] = {}
        self._settings: Dynaconf | None = None
        self._strict = False
        self._loaded = False
        self._lock = threading.RLock()
        self._impl_cache: dict[tuple[str, str], list[pluggy.HookImpl]] = {}
        self._delivery_cache: dict[str, list[tuple[str, str]]] = {}
        self._settings_cache: dict[str, Mapping[str, Any]] = {}
        self._loggers: dict[str, logging.Logger] = {}
        self._started_with: Any = None
        self._started = False

    # -- loading --------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True once :meth:`load` has run."""
        return self._loaded

    def load(
        self,
        settings: Dynaconf | None = None,
        *,
        entry_points: Iterable[tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution | None]]
        | None = None,
    ) -> list[PluginRecord]:
        """Load the built-in, entry-point and ``plugins.modules`` plugins once; later calls do nothing.

        :param settings: the hub settings (``plugins.enabled`` / ``disabled`` / ``strict`` /
            ``modules`` and the plugins' own tables); ``None`` loads every plugin, tolerant.
        :param entry_points: the entry points to consider instead of the installed ones.
        :return: a record per plugin found, loaded or not.
        :raises PluginLoadError: with ``plugins.strict``, when any plugin failed.
        """
        with self._lock:
            if self._loaded:
                return self.list_plugins()
            self._settings = settings
            selection = Selection.from_settings(settings)
            self._strict = selection.strict
            loader = PluginLoader(selection, self._records, self._admit)
            for path in BUILTIN_PLUGINS:
                loader.load_module(path, source="builtin")
            pairs = discover_entry_points() if entry_points is None else list(entry_points)
            for ep, dist in pairs:
                loader.load_entry_point(ep, dist)
            for path in selection.modules:
                loader.load_module(path, source="module")
            loader.record_missing()
            self._loaded = True
            failures = [r for r in self._records.values() if r.failed]
            for record in failures:
                logger.warning("plugin %s not loaded: %s", record.label, record.error)
            if failures and selection.strict:
                raise PluginLoadError(failures)
            self.pm.check_pending()
            return self.list_plugins()

    def _fail(self, record: PluginRecord, error: str) -> None:
        self._records[record.name] = failed_record(record, error)

    def _admit(self, obj: object, record: PluginRecord, *, check_api: bool) -> None:
        """Check, register and validate one imported plugin; record the outcome."""
        name = record.name
        declared = getattr(obj, API_ATTRIBUTE, None)
        record = replace(record, api_version=None if declared is None else str(declared))
        if error := name_error(name, record.source):
            self._fail(record, error)
            return
        if check_api and (error := api_error(declared)):
            self._fail(record, error)
            return
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # PluginValidationError, ValueError (already registered)
            self._fail(record, f"invalid plugin: {exc}")
            return
        self._forget_calls()
        if error := hook_errors(self.pm, name):
            self._drop(name)
            self._fail(record, error)
            return
        try:
            self._call_lifecycle(name, "hub_register_actions", register=self.actions.register_for(name))
        except Exception as exc:
            self._drop(name)
            self._fail(record, f"hub_register_actions failed: {type(exc).__name__}: {exc}")
            return
        self._records[name] = replace(
            record,
            enabled=True,
            reason="loaded",
            hooks=tuple(self._hooks_of(name)),
            actions=tuple(a.name for a in self.actions if a.plugin == name),
        )

    def _drop(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.actions.remove_plugin(name)
        self._forget_calls()

    def register(self, plugin: object, name: str | None = None, *, check_api: bool = False) -> PluginRecord:
        """Register a plugin object in-process (tests, embedding) with the same checks as loading.

        A plugin registered after :meth:`startup` receives ``hub_startup`` now.

        :param plugin: a module, class or instance with :data:`hub.hookspecs.hookimpl` functions.
        :param name: its name (default: ``plugin.__name__`` or the class name, lower-cased).
        :param check_api: also require a compatible ``CONNECT_HUB_API``.
        :raises PluginLoadError: the plugin is invalid (always fatal here: the caller asked).
        """
        with self._lock:
            label = name or getattr(plugin, "__name__", type(plugin).__name__).lower()
            if self.pm.get_plugin(label) is not None:
                taken = replace(self._records.get(label, PluginRecord(name=label)), error="name already registered")
                raise PluginLoadError([taken])
            self._admit(plugin, PluginRecord(name=label, source="registered"), check_api=check_api)
            record = self._records[label]
            if record.failed:
                del self._records[label]
                raise PluginLoadError([record])
            if self._started:
                self._start_one(label, self._started_with)
            return self._records[label]

    def unregister(self, name: str) -> None:
        """Remove a plugin and forget it (its actions too)."""
        with self._lock:
            self._drop(name)
            self._records.pop(name, None)

    # -- introspection --------------------------------------------------------------------

    def list_plugins(self) -> list[PluginRecord]:
        """Every plugin found, loaded or not, sorted by name."""
        return sorted(self._records.values(), key=lambda r: (r.name, r.distribution or ""))

    def failures(self) -> list[PluginRecord]:
        """The plugins that were wanted but failed to load."""
        return [r for r in self.list_plugins() if r.failed]

    def enabled(self) -> list[str]:
        """Names of the loaded plugins, sorted."""
        return [r.name for r in self.list_plugins() if r.enabled]

    def _hooks_of(self, name: str) -> list[str]:
        plugin = self.pm.get_plugin(name)
        return sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])

    def implementers(self, hook: str) -> list[str]:
        """Names of the loaded plugins implementing ``hook``, sorted."""
        caller = getattr(self.pm.hook, hook, None)
        if caller is None:
            return []
        return sorted({i.plugin_name for i in caller.get_hookimpls()})

    def deliveries_for(self, event: str) -> list[tuple[str, str]]:
        """The ``(plugin, hook)`` pairs an event becomes, one delivery each; ``[]`` if none."""
        found = self._delivery_cache.get(event)
        if found is None:
            hook = hookspecs.hook_for_event(event)
            found = [] if hook is None else [(plugin, hook) for plugin in self.implementers(hook)]
            self._delivery_cache[event] = found
        return list(found)

    def check_pending(self) -> None:
        """Raise ``pluggy.PluginValidationError`` if any registered plugin implements an unknown hook."""
        self.pm.check_pending()

    def plugin_settings(self, name: str) -> Mapping[str, Any]:
        """The plugin's own settings table, ``plugins.<name>``, read-only (cached after the first read).

        The cache is dropped by :meth:`validate`, whose validators may fill in defaults.
        """
        cached = self._settings_cache.get(name)
        if cached is None:
            cached = self._settings_cache[name] = MappingProxyType(plugin_settings(self._settings, name))
        return cached

    # -- calling --------------------------------------------------------------------------

    def _forget_calls(self) -> None:
        """Drop the per-(plugin, hook) and per-event lookups after a (un)registration."""
        self._impl_cache.clear()
        self._delivery_cache.clear()

    def _impls(self, plugin: str, hook: str) -> list[pluggy.HookImpl]:
        key = (plugin, hook)
        impls = self._impl_cache.get(key)
        if impls is None:
            caller = getattr(self.pm.hook, hook, None)
            found = caller.get_hookimpls() if caller is not None else []
            impls = [i for i in found if i.plugin_name == plugin]
            self._impl_cache[key] = impls
        return impls

    def call(self, plugin: str, hook: str, /, **kwargs: Any) -> list[Any]:
        """Call ``plugin``'s implementation(s) of ``hook`` only, and return their results.

        This is how a worker runs one delivery. Each implementation receives the arguments it
        names (pluggy's opt-in arguments); exceptions propagate to the caller.

        :raises LookupError: ``plugin`` does not implement ``hook``.
        :raises TypeError: an argument the implementation needs is missing from ``kwargs``.
        """
        impls = self._impls(plugin, hook)
        if not impls:
            raise LookupError(f"plugin {plugin!r} does not implement {hook!r}")
        results = []
        for impl in reversed(impls):  # pluggy's call order: last registered first
            try:
                args = {a: kwargs[a] for a in impl.argnames}
            except KeyError as exc:
                raise TypeError(f"{hook}() of plugin {plugin!r} needs argument {exc.args[0]!r}") from None
            results.append(impl.function(**args))
        return results

    def _call_lifecycle(self, plugin: str, hook: str, **kwargs: Any) -> list[Any]:
        return self.call(plugin, hook, **kwargs) if self._impls(plugin, hook) else []

    def _logger(self, plugin: str) -> logging.Logger:
        found = self._loggers.get(plugin)
        if found is None:
            found = self._loggers[plugin] = logging.getLogger(f"connect_hub.plugins.{plugin}")
        return found

    def context(
        self,
        plugin: str,
        *,
        event: str,
        idempotency_key: str,
        attempt: int,
        occurred_at: datetime,
    ) -> HookContext:
        """Build the :class:`HookContext` for one delivery attempt to ``plugin``."""
        return HookContext(
            plugin=plugin,
            event=event,
            idempotency_key=idempotency_key,
            attempt=attempt,
            occurred_at=occurred_at,
            settings=self.plugin_settings(plugin),
            logger=self._logger(plugin),
            actions=self.actions,
        )

    def _isolated(self, hook: str, **kwargs: Any) -> dict[str, list[Any] | BaseException]:
        out: dict[str, list[Any] | BaseException] = {}
        for name in self.implementers(hook):
            try:
                out[name] = self.call(name, hook, **kwargs)
            except Exception as exc:
                out[name] = exc
        return out

    def _disable(self, name: str, error: str) -> None:
        record = self._records.get(name, PluginRecord(name=name))
        self._drop(name)
        self._fail(record, error)
        logger.error("plugin %s disabled: %s", record.label, error)
        if self._strict:
            raise PluginLoadError([self._records[name]])

    def settings_validators(self) -> dict[str, list[Validator]]:
        """Collect each loaded plugin's ``hub_settings_validators``, by plugin name.

        A plugin whose hook raises or returns something other than validators is disabled
        and recorded (fatal with ``plugins.strict``).
        """
        collected: dict[str, list[Validator]] = {}
        for name, result in self._isolated("hub_settings_validators").items():
            if isinstance(result, BaseException):
                self._disable(name, f"hub_settings_validators raised {type(result).__name__}: {result}")
                continue
            try:
                validators = [v for returned in result if returned is not None for v in returned]
            except TypeError:  # returned a single object instead of an iterable
                validators = [None]
            if not all(isinstance(v, Validator) for v in validators):
                self._disable(name, "hub_settings_validators returned something that is not a Validator")
                continue
            collected[name] = validators
        return collected

    def validate(self, settings: Dynaconf | None = None) -> None:
        """Run the hub's validators and every loaded plugin's; fail fast or set bad plugins aside.

        Every validator runs (``validate_all``) and every error is collected. Errors in the
        hub's own settings always raise, listing every error (the plugins' too). With
        ``plugins.strict`` any plugin error raises as well; without it a plugin whose settings
        are invalid is disabled and recorded with all its errors, and the hub goes on.

        :raises hub.config.ConfigurationError: listing every error, each plugin's prefixed with
            ``plugin <name>:``.
        """
        target = settings if settings is not None else self._settings
        if target is None:
            raise ValueError("no settings: pass them here or to load()")
        validators = self.settings_validators()
        plugin_validators = {name: validators.get(name, []) for name in self.enabled()}
        hub_errors, by_plugin = find_errors(target, plugin_validators)
        self._settings_cache.clear()  # the validators may have filled in defaults
        plugin_errors = [f"plugin {name}: {error}" for name, found in by_plugin.items() for error in found]
        if hub_errors or (plugin_errors and self._strict):
            raise ConfigurationError(hub_errors + plugin_errors)
        for name, found in by_plugin.items():
            self._disable(name, "invalid settings: " + "; ".join(found))

    def _start_one(self, name: str, hub: Any) -> None:
        try:
            self._call_lifecycle(name, "hub_startup", hub=hub, settings=self.plugin_settings(name))
        except Exception as exc:
            self._disable(name, f"hub_startup raised {type(exc).__name__}: {exc}")

    def startup(self, hub: Any) -> None:
        """Call every plugin's ``hub_startup(hub, settings)`` with its own settings; one that raises is disabled."""
        with self._lock:
            self._started_with, self._started = hub, True
            for name in self.implementers("hub_startup"):
                self._start_one(name, hub)

    def shutdown(self, hub: Any) -> None:
        """Call every plugin's ``hub_shutdown(hub)``; exceptions are logged and ignored."""
        with self._lock:
            for name, result in self._isolated("hub_shutdown", hub=hub).items():
                if isinstance(result, BaseException):
                    logger.error("plugin %s: hub_shutdown raised %r", name, result)
            self._started_with, self._started = None, False

    def check(self) -> list[CheckResult]:
        """Run every plugin's ``hub_check`` with its own settings; failures become ``ok=False`` results."""
        results: list[CheckResult] = []
        for name in self.implementers("hub_check"):
            try:
                returned = self.call(name, "hub_check", settings=self.plugin_settings(name))
            except Exception as exc:
                results.append(CheckResult(ok=False, name=name, message=f"{type(exc).__name__}: {exc}"))
                continue
            for item in returned:
                if item is None:
                    continue
                result = (
                    item
                    if isinstance(item, CheckResult)
                    else CheckResult(ok=False, message=f"hub_check returned {type(item).__name__}")
                )
                results.append(replace(result, name=result.name or name))
        return results


# ---------------------------------------------------------------------------------------------
# The per-process instance
# ---------------------------------------------------------------------------------------------


class _Process:
    """Holds this process's facade (a class attribute instead of a ``global``)."""

    plugins: HubPlugins | None = None
    lock = threading.Lock()


def get_plugins() -> HubPlugins:
    """Return this process's :class:`HubPlugins` (created on first use, not yet loaded)."""
    with _Process.lock:
        if _Process.plugins is None:
            _Process.plugins = HubPlugins()
        return _Process.plugins


def load_plugins(settings: Dynaconf | None = None) -> HubPlugins:
    """Load this process's plugins once and return the facade; later calls return it unchanged.

    Call it in the hub process and at the start of every worker process (Celery's
    ``worker_process_init``): plugin objects never travel in task messages.

    :raises PluginLoadError: with ``plugins.strict``, when any plugin failed.
    """
    plugins = get_plugins()
    plugins.load(settings)
    return plugins


def list_plugins() -> list[PluginRecord]:
    """The records of this process's plugins (for ``connect-hub plugins list``)."""
    return get_plugins().list_plugins()


def reset_plugins() -> None:
    """Forget this process's plugins so the next :func:`load_plugins` loads again (tests only)."""
    with _Process.lock:
        _Process.plugins = None
