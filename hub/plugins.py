"""Plugin loading and the typed plugin facade.

Plugins are found through the ``connect_hub`` entry-point group (first-party plugins under
``plugins/`` are packages discovered exactly like third-party ones) and through
``plugins.modules`` (dotted module paths). Loading is tolerant: each plugin is imported,
version-checked and registered on its own, and one that fails is recorded with its
distribution name and error while the others load; ``plugins.strict`` makes any failure fatal.

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

import importlib
import importlib.metadata
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Final

import pluggy
from dynaconf import Validator

from hub import hookspecs
from hub._context import Action, ActionRegistry, CheckResult, HookContext, PluginActionError, RegisterAction
from hub.config import RESERVED_PLUGIN_KEYS, ConfigurationError, find_errors, plugin_settings

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

#: The hub's plugin API version, ``"major.minor"``. A plugin declaring the same major and a
#: minor no greater than this one is loaded; any other is reported and skipped.
PLUGIN_API_VERSION: Final = "1.0"
#: The module (or object) attribute a plugin declares the API version it targets with.
API_ATTRIBUTE: Final = "CONNECT_HUB_API"
#: The entry-point group plugins are discovered in.
ENTRY_POINT_GROUP: Final = hookspecs.PROJECT_NAME
#: Dotted paths of plugins that ship inside the hub, registered before any entry point.
BUILTIN_PLUGINS: tuple[str, ...] = ()

_PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
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


@dataclass(frozen=True, slots=True)
class _Selection:
    enabled: tuple[str, ...] = ("*",)
    disabled: tuple[str, ...] = ()
    strict: bool = False
    modules: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Dynaconf | None) -> _Selection:
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


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse_version(value: object) -> tuple[int, int] | None:
    match = _VERSION.match(str(value))
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def _api_error(declared: object) -> str | None:
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


def create_plugin_manager() -> pluggy.PluginManager:
    """Return a new pluggy manager for project ``connect_hub`` with the hub's hookspecs added."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def discover_entry_points(
    group: str = ENTRY_POINT_GROUP,
) -> list[tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]]:
    """Return the installed entry points of ``group`` with their distributions, sorted by name.

    A distribution found twice on ``sys.path`` is listed once (the first, as imports would).
    """
    seen: set[tuple[str, str]] = set()
    found = []
    for dist in importlib.metadata.distributions():
        dist_name = _norm(dist.metadata["Name"] or "")
        for ep in dist.entry_points:
            if ep.group != group or (dist_name, ep.name) in seen:
                continue
            seen.add((dist_name, ep.name))
            found.append((ep, dist))
    return sorted(found, key=lambda pair: pair[0].name)


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
            selection = _Selection.from_settings(settings)
            self._strict = selection.strict
            for path in BUILTIN_PLUGINS:
                self._load_module(path, source="builtin", selection=selection)
            pairs = discover_entry_points() if entry_points is None else list(entry_points)
            for ep, dist in pairs:
                self._load_entry_point(ep, dist, selection)
            for path in selection.modules:
                self._load_module(path, source="module", selection=selection)
            self._record_missing(selection)
            self._loaded = True
            failures = [r for r in self._records.values() if r.failed]
            for record in failures:
                logger.warning("plugin %s not loaded: %s", record.label, record.error)
            if failures and selection.strict:
                raise PluginLoadError(failures)
            self.pm.check_pending()
            return self.list_plugins()

    def _blocked_reason(self, names: Sequence[str], selection: _Selection) -> str | None:
        wanted = {_norm(n) for n in names if n}
        if wanted & {_norm(n) for n in selection.disabled}:
            return "listed in plugins.disabled"
        if "*" not in selection.enabled and not wanted & {_norm(n) for n in selection.enabled}:
            return "not listed in plugins.enabled"
        return None

    def _load_entry_point(
        self,
        ep: importlib.metadata.EntryPoint,
        dist: importlib.metadata.Distribution | None,
        selection: _Selection,
    ) -> None:
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
        blocked = self._blocked_reason([ep.name, record.distribution or ""], selection)
        if blocked:
            self._records[ep.name] = replace(record, reason=blocked)
            return
        try:
            obj = ep.load()
        except Exception as exc:
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        self._admit(obj, record, check_api=True)

    def _load_module(self, path: str, *, source: str, selection: _Selection) -> None:
        record = PluginRecord(name=path, source=source)
        # Listing a module in plugins.modules enables it; only plugins.disabled can block it.
        blocked = None if source == "builtin" else self._blocked_reason([path], replace(selection, enabled=("*",)))
        if blocked:
            self._records[path] = replace(record, reason=blocked)
            return
        try:
            obj: ModuleType = importlib.import_module(path)
        except Exception as exc:
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        self._admit(obj, record, check_api=source != "builtin")

    def _record_missing(self, selection: _Selection) -> None:
        known = {_norm(r.name) for r in self._records.values()}
        known |= {_norm(r.distribution) for r in self._records.values() if r.distribution}
        for name in selection.enabled:
            if name != "*" and _norm(name) not in known:
                self._fail(
                    PluginRecord(name=name, source="settings"),
                    "listed in plugins.enabled but not installed",
                )

    def _fail(self, record: PluginRecord, error: str, *, key: bool = True) -> None:
        failed = replace(record, enabled=False, reason=f"failed: {error}", error=error)
        self._records[record.name if key else f"{record.name} ({record.distribution})"] = failed

    def _admit(self, obj: object, record: PluginRecord, *, check_api: bool) -> None:
        """Check, register and validate one imported plugin; record the outcome."""
        name = record.name
        declared = getattr(obj, API_ATTRIBUTE, None)
        record = replace(record, api_version=None if declared is None else str(declared))
        if record.source in {"entry point", "registered"} and not _PLUGIN_NAME.match(name):
            self._fail(record, f"plugin name {name!r} must match {_PLUGIN_NAME.pattern}")
            return
        if name in RESERVED_PLUGIN_KEYS:
            self._fail(record, f"plugin name {name!r} is reserved (a key of the plugins table)")
            return
        if check_api and (error := _api_error(declared)):
            self._fail(record, error)
            return
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # PluginValidationError, ValueError (already registered)
            self._fail(record, f"invalid plugin: {exc}")
            return
        self._forget_calls()
        if error := self._hook_errors(name):
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

    def _hook_errors(self, name: str) -> str | None:
        """Hooks the plugin implements that this hub does not know, or wrappers on event hooks."""
        plugin = self.pm.get_plugin(name)
        problems = []
        for caller in self.pm.get_hookcallers(plugin) or []:
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
