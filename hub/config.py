"""Configuration: dynaconf settings files, ``HUB_`` environment variables and start-up validation.

Where settings come from, later sources overriding earlier ones:

1. the hub's built-in defaults (:data:`HUB_DEFAULTS`, applied by the validators, so a hub runs
   with no file at all);
2. the settings files: an explicit list passed to :func:`load_settings` (``--config``), else
   ``HUB_SETTINGS_FILES`` (comma-separated paths), else the repository's
   ``config/settings.toml``. Each file may have a ``<name>.local.toml`` sibling (dynaconf's
   convention, git-ignored);
3. the secrets file: ``HUB_SECRETS_FILE``, else ``config/.secrets.toml`` next to the first
   settings file when it exists (git-ignored; copy ``config/.secrets.toml.example``);
4. ``HUB_*`` environment variables, ``__`` nesting: ``HUB_DATABASE__URL``, ``HUB_HTTP__PORT``,
   ``HUB_INGEST__FIREHOSE__ACCESS_KEY``, ``HUB_PLUGINS__EXAMPLE__PATH``. Values are parsed as
   TOML (``8080`` is an int, ``true`` a bool, ``'["a", "b"]'`` a list).

Files have environments: ``[default]`` plus ``[development]``, ``[test]`` and ``[production]``,
chosen with ``HUB_ENV`` (default ``development``). In an environment section override single
keys with ``__`` (``http__port = 80``); a table there replaces the ``[default]`` table whole.

An explicitly named settings or secrets file that does not exist is an error (dynaconf would
silently skip it). :func:`load_settings` returns the :class:`dynaconf.Dynaconf` object;
:func:`validate_settings` runs the hub's validators and every plugin's at start-up and raises
one :class:`ConfigurationError` listing every problem; :func:`hub_settings` gives a typed,
read-only view of the hub's own settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynaconf import Dynaconf, Validator
from dynaconf.validator import ValidatorList

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_ENV",
    "DEFAULT_SETTINGS_FILE",
    "EMBEDDED_BROKER_URL",
    "ENV_SWITCHER",
    "HUB_DEFAULTS",
    "RESERVED_PLUGIN_KEYS",
    "SECRETS_FILE_ENVVAR",
    "SETTINGS_FILES_ENVVAR",
    "BrokerSettings",
    "ConfigurationError",
    "DatabaseSettings",
    "HttpSettings",
    "HubSettings",
    "IngestSettings",
    "PluginsSettings",
    "RelaySettings",
    "WorkersSettings",
    "find_errors",
    "hub_settings",
    "hub_validators",
    "load_settings",
    "plugin_settings",
    "resolve_settings_files",
    "validate_settings",
]

#: The repository's ``config/`` folder (``<repo>/config``), where the default files live.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
#: The settings file used when neither an explicit list nor ``HUB_SETTINGS_FILES`` is given.
DEFAULT_SETTINGS_FILE = CONFIG_DIR / "settings.toml"
#: Environment variable holding a comma-separated list of settings files.
SETTINGS_FILES_ENVVAR = "HUB_SETTINGS_FILES"
#: Environment variable naming the secrets file.
SECRETS_FILE_ENVVAR = "HUB_SECRETS_FILE"
#: Environment variable choosing the environment section (``development``, ``test``, ...).
ENV_SWITCHER = "HUB_ENV"
#: The environment used when neither ``env=`` nor ``HUB_ENV`` names one.
DEFAULT_ENV = "development"
#: ``broker.url`` value meaning the hub's embedded broker, which needs no server.
EMBEDDED_BROKER_URL = "embedded://"
#: Keys of the ``plugins`` table that are hub settings, so no plugin can be named after them.
RESERVED_PLUGIN_KEYS = frozenset({"enabled", "disabled", "strict", "modules"})

#: The hub's defaults, as documented in ``config/settings.toml`` ``[default]`` and
#: ``docs/configuration.md`` (a test keeps the three in step).
HUB_DEFAULTS: Mapping[str, Any] = {
    "database.url": "sqlite:///var/hub.sqlite3",
    "broker.url": EMBEDDED_BROKER_URL,
    "http.host": "127.0.0.1",
    "http.port": 8080,
    "ingest.firehose.access_key": "",
    "ingest.eventbridge.api_key": "",
    "ingest.eventbridge.basic_username": "",
    "ingest.eventbridge.basic_password": "",
    "ingest.bridge.secret": "",
    "ingest.bridge.token_ttl": 43200,
    "ingest.bridge.allowed_origins": [],
    "plugins.enabled": ["*"],
    "plugins.disabled": [],
    "plugins.strict": False,
    "plugins.modules": [],
    "workers.concurrency": 2,
    "workers.max_attempts": 8,
    "workers.backoff_base": 1.0,
    "workers.backoff_max": 300.0,
    "workers.hook_timeout": 30.0,
    "relay.batch_size": 500,
    "relay.poll_interval": 0.05,
}

# dynaconf would read the settings-file list and the environment name from variables of its own
# and let them beat our arguments. We resolve both ourselves (an explicit list or env wins over
# HUB_SETTINGS_FILES / HUB_ENV, and missing files are errors), so point dynaconf at names nobody
# sets. This also stops a stray SETTINGS_FILE_FOR_DYNACONF or ENV_FOR_DYNACONF.
_DYNACONF_FILES_ENVVAR = "_HUB_SETTINGS_FILES_RESOLVED_BY_HUB_CONFIG"
_DYNACONF_ENV_SWITCHER = "_HUB_ENV_RESOLVED_BY_HUB_CONFIG"


class ConfigurationError(Exception):
    """The configuration cannot be used; :attr:`errors` lists every problem found.

    Raised by :func:`load_settings` (a named file is missing or unreadable) and by
    :func:`validate_settings` (values fail the hub's or a plugin's validators). The message
    lists every error, one a line, so an operator fixes them all in one go.
    """

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: list[str] = list(errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"invalid configuration ({len(self.errors)} error(s)):\n{lines}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def resolve_settings_files(
    settings_files: Sequence[str | os.PathLike[str]] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Return the settings files to load, in order, as absolute paths.

    :param settings_files: an explicit list (the CLI's ``--config``); wins over the environment.
    :param environ: the environment to read ``HUB_SETTINGS_FILES`` from (``os.environ``).
    :raises ConfigurationError: an explicitly named file (argument or ``HUB_SETTINGS_FILES``)
        does not exist. The default ``config/settings.toml`` may be absent: the built-in
        defaults then apply.
    """
    env = os.environ if environ is None else environ
    if settings_files is not None:
        named = [Path(p) for p in settings_files]
    elif env.get(SETTINGS_FILES_ENVVAR, "").strip():
        named = [Path(p.strip()) for p in env[SETTINGS_FILES_ENVVAR].split(",") if p.strip()]
    else:
        return [DEFAULT_SETTINGS_FILE] if DEFAULT_SETTINGS_FILE.is_file() else []
    paths = [p.expanduser().resolve() for p in named]
    missing = [f"settings file not found: {p}" for p in paths if not p.is_file()]
    if missing:
        raise ConfigurationError(missing)
    return paths


def _resolve_secrets_file(
    secrets_file: str | os.PathLike[str] | None, files: Sequence[Path], env: Mapping[str, str]
) -> Path | None:
    if secrets_file is None and env.get(SECRETS_FILE_ENVVAR, "").strip():
        secrets_file = env[SECRETS_FILE_ENVVAR].strip()
    if secrets_file is not None:
        path = Path(secrets_file).expanduser().resolve()
        if not path.is_file():
            raise ConfigurationError([f"secrets file not found: {path}"])
        return path
    folder = files[0].parent if files else CONFIG_DIR
    candidate = folder / ".secrets.toml"
    return candidate if candidate.is_file() else None


def _check_toml_syntax(paths: Iterable[Path]) -> None:
    errors = []
    for path in paths:
        if path.suffix != ".toml":
            continue
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            errors.append(f"cannot read {path}: {exc}")
    if errors:
        raise ConfigurationError(errors)


def load_settings(
    settings_files: Sequence[str | os.PathLike[str]] | None = None,
    *,
    env: str | None = None,
    secrets_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Dynaconf:
    """Load the hub's settings and return the :class:`dynaconf.Dynaconf` object.

    Nothing is validated here (call :func:`validate_settings` once the plugins are loaded), but
    files are checked: every named file must exist and parse.

    :param settings_files: settings files to load instead of ``HUB_SETTINGS_FILES`` or the
        default ``config/settings.toml``.
    :param env: the environment section to use; default ``HUB_ENV``, else ``development``.
    :param secrets_file: a secrets file to load last; default ``HUB_SECRETS_FILE``, else
        ``.secrets.toml`` next to the first settings file when present.
    :param environ: where to read ``HUB_SETTINGS_FILES`` / ``HUB_SECRETS_FILE`` / ``HUB_ENV``
        (default ``os.environ``). ``HUB_*`` setting overrides are always read from
        ``os.environ`` by dynaconf.
    :raises ConfigurationError: a named file is missing or is not valid TOML.
    """
    environment = os.environ if environ is None else environ
    files = resolve_settings_files(settings_files, environ=environment)
    secrets = _resolve_secrets_file(secrets_file, files, environment)
    _check_toml_syntax([*files, *([secrets] if secrets else [])])
    root = files[0].parent if files else CONFIG_DIR
    options: dict[str, Any] = {
        "envvar_prefix": "HUB",
        "environments": True,
        "env_switcher": _DYNACONF_ENV_SWITCHER,
        "env": env or environment.get(ENV_SWITCHER) or DEFAULT_ENV,
        "root_path": str(root),
        "settings_files": [str(p) for p in files],
        "envvar": _DYNACONF_FILES_ENVVAR,
        "load_dotenv": False,
        "merge_enabled": False,
    }
    if secrets is not None:
        options["secrets"] = str(secrets)
    settings = Dynaconf(**options)
    settings.as_dict()  # load now, so broken files fail here and not on first attribute access
    _check_loaded_files(settings, [*files, *([secrets] if secrets else [])])
    return settings


def _check_loaded_files(settings: Dynaconf, expected: Sequence[Path]) -> None:
    """Refuse files dynaconf loaded on its own (``SETTINGS_FILE_FOR_DYNACONF`` in the environment)."""
    core = getattr(settings, "__core__", None)
    loaded = getattr(getattr(core, "config", None), "loaded_files", None)
    if not isinstance(loaded, list):  # pragma: no cover - another dynaconf version: nothing to check
        return
    allowed = {p.resolve() for p in expected}
    allowed |= {p.with_name(f"{p.stem}.local{p.suffix}").resolve() for p in expected}
    foreign = [f for f in loaded if Path(f).resolve() not in allowed]
    if foreign:
        raise ConfigurationError(
            [
                f"dynaconf loaded {f}, which the hub was not asked to load: unset SETTINGS_FILE_FOR_DYNACONF "
                f"and use --config or {SETTINGS_FILES_ENVVAR}"
                for f in foreign
            ]
        )


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _rule(name: str, check: Callable[[Any], bool], expected: str) -> Validator:
    """A validator for ``name`` with the hub's default and a readable message."""
    return Validator(
        name,
        must_exist=True,
        default=HUB_DEFAULTS[name],
        condition=check,
        messages={
            "condition": f"{name} must be {expected}, got {{value!r}}",
            "must_exist_true": f"{name} is required",
        },
    )


def hub_validators() -> list[Validator]:
    """Return the hub's own validators, one per setting, each applying the documented default."""
    url = "a non-empty URL such as 'scheme://...'"
    return [
        _rule("database.url", lambda v: isinstance(v, str) and "://" in v, url),
        _rule("broker.url", lambda v: isinstance(v, str) and "://" in v, url),
        _rule("http.host", lambda v: isinstance(v, str) and bool(v), "a host name or address"),
        _rule("http.port", lambda v: _is_int(v) and 1 <= v <= 65535, "an integer from 1 to 65535"),
        _rule("ingest.firehose.access_key", lambda v: isinstance(v, str), "a string"),
        _rule("ingest.eventbridge.api_key", lambda v: isinstance(v, str), "a string"),
        _rule("ingest.eventbridge.basic_username", lambda v: isinstance(v, str), "a string"),
        _rule("ingest.eventbridge.basic_password", lambda v: isinstance(v, str), "a string"),
        _rule("ingest.bridge.secret", lambda v: isinstance(v, str), "a string (32+ characters to enable the bridge)"),
        _rule("ingest.bridge.token_ttl", lambda v: _is_int(v) and v > 0, "a positive number of seconds"),
        _rule(
            "ingest.bridge.allowed_origins", _is_str_list, "a list of page origins such as 'https://crm.example.com'"
        ),
        _rule("plugins.enabled", _is_str_list, "a list of plugin names (['*'] for all)"),
        _rule("plugins.disabled", _is_str_list, "a list of plugin names"),
        _rule("plugins.strict", lambda v: isinstance(v, bool), "true or false"),
        _rule("plugins.modules", _is_str_list, "a list of dotted module paths"),
        _rule("workers.concurrency", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        _rule("workers.max_attempts", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        _rule("workers.backoff_base", lambda v: _is_number(v) and v > 0, "a number > 0 (seconds)"),
        _rule("workers.backoff_max", lambda v: _is_number(v) and v > 0, "a number > 0 (seconds)"),
        _rule("workers.hook_timeout", lambda v: _is_number(v) and v > 0, "a number > 0 (seconds)"),
        _rule("relay.batch_size", lambda v: _is_int(v) and 1 <= v <= 100_000, "an integer, 1-100000"),
        _rule("relay.poll_interval", lambda v: _is_number(v) and v > 0, "a number > 0 (seconds)"),
    ]


def _plugin_override_validators(plugin: str) -> list[Validator]:
    """Hub-owned optional per-plugin overrides: ``plugins.<name>.max_attempts`` / ``hook_timeout``."""
    out = []
    for key, check, expected in (
        ("max_attempts", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
        ("hook_timeout", lambda v: _is_number(v) and v > 0, "a number > 0 (seconds)"),
    ):
        name = f"plugins.{plugin}.{key}"
        out.append(
            Validator(
                name,
                condition=check,
                messages={"condition": f"{name} must be {expected}, got {{value!r}}"},
            )
        )
    return out


def _cross_field_errors(settings: Dynaconf) -> list[str]:
    errors = []
    base, ceiling = settings.get("workers.backoff_base"), settings.get("workers.backoff_max")
    if _is_number(base) and _is_number(ceiling) and ceiling < base:
        errors.append(f"workers.backoff_max ({ceiling}) must be >= workers.backoff_base ({base})")
    return errors


def find_errors(
    settings: Dynaconf,
    plugin_validators: Mapping[str, Sequence[Validator]] | None = None,
) -> tuple[list[str], dict[str, list[str]]]:
    """Run every validator and return the errors instead of raising: ``(hub errors, by plugin)``.

    The hub's validators also fill in the documented defaults. Plugin errors are not prefixed;
    a plugin whose validators are broken (raise something other than a validation error) gets
    one error saying so. Plugins without errors are absent from the mapping.
    """
    errors = [str(e) for e in ValidatorList(settings, hub_validators()).validate_all(raise_error=False)]
    errors += _cross_field_errors(settings)
    by_plugin: dict[str, list[str]] = {}
    for plugin, validators in (plugin_validators or {}).items():
        group = [*_plugin_override_validators(plugin), *validators]
        try:
            found = [str(e) for e in ValidatorList(settings, group).validate_all(raise_error=False)]
        except Exception as exc:  # a plugin's validator itself is broken
            found = [f"its settings validators failed to run: {exc!r}"]
        if found:
            by_plugin[plugin] = found
    return errors, by_plugin


def validate_settings(
    settings: Dynaconf,
    plugin_validators: Mapping[str, Sequence[Validator]] | None = None,
) -> None:
    """Validate the hub's settings and every given plugin's, listing every error at once.

    Runs the hub's validators (which also fill in the documented defaults), the optional
    per-plugin overrides ``plugins.<name>.max_attempts`` / ``hook_timeout``, and the validators
    each plugin contributed through ``hub_settings_validators`` (see
    :meth:`hub.plugins.HubPlugins.validate`, which calls this). Plugin errors are prefixed with
    ``plugin <name>:``.

    :param settings: the object from :func:`load_settings`.
    :param plugin_validators: validators by plugin name.
    :raises ConfigurationError: with every error found.
    """
    errors, by_plugin = find_errors(settings, plugin_validators)
    errors += [f"plugin {plugin}: {error}" for plugin, found in by_plugin.items() for error in found]
    if errors:
        raise ConfigurationError(errors)


def plugin_settings(settings: Dynaconf | None, plugin: str) -> dict[str, Any]:
    """Return a plugin's own settings table, ``plugins.<plugin>``, as a plain dict (or ``{}``).

    Top-level keys are lower-cased, so ``HUB_PLUGINS__EXAMPLE__PATH`` reaches the plugin as
    ``path`` whatever case the environment gives it.
    """
    if settings is None:
        return {}
    table = settings.get(f"plugins.{plugin}")
    if not isinstance(table, Mapping):
        return {}
    return {str(k).lower(): _plain(v) for k, v in table.items()}


def _plain(value: Any) -> Any:
    """dynaconf's nested ``DataDict`` / ``BoxList`` as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Typed view
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``database.*``: where the hub keeps agents, contacts, events and deliveries."""

    url: str


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """``broker.*``: the Celery/kombu broker; :data:`EMBEDDED_BROKER_URL` needs no server."""

    url: str

    @property
    def embedded(self) -> bool:
        """True when the hub's embedded broker is configured."""
        return self.url == EMBEDDED_BROKER_URL


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``http.*``: the address ``connect-hub serve`` listens on."""

    host: str
    port: int


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """``ingest.*``: credentials the HTTP ingest endpoints check (empty: reject every request)."""

    firehose_access_key: str
    eventbridge_api_key: str
    eventbridge_basic_username: str
    eventbridge_basic_password: str


@dataclass(frozen=True, slots=True)
class PluginsSettings:
    """``plugins.*``: which plugins load (allow and deny lists), strictness, extra modules."""

    enabled: tuple[str, ...]
    disabled: tuple[str, ...]
    strict: bool
    modules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkersSettings:
    """``workers.*``: hook execution: concurrency, attempts, backoff, per-hook timeout."""

    concurrency: int
    max_attempts: int
    backoff_base: float
    backoff_max: float
    hook_timeout: float
    per_plugin_max_attempts: Mapping[str, int]
    per_plugin_hook_timeout: Mapping[str, float]

    def max_attempts_for(self, plugin: str) -> int:
        """Attempt limit for ``plugin``: ``plugins.<plugin>.max_attempts`` or ``workers.max_attempts``."""
        return self.per_plugin_max_attempts.get(plugin, self.max_attempts)

    def hook_timeout_for(self, plugin: str) -> float:
        """Hook timeout for ``plugin``: ``plugins.<plugin>.hook_timeout`` or ``workers.hook_timeout``."""
        return self.per_plugin_hook_timeout.get(plugin, self.hook_timeout)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """``relay.*``: the outbox relay that publishes deliveries to the broker."""

    batch_size: int
    poll_interval: float


@dataclass(frozen=True, slots=True)
class HubSettings:
    """A typed, read-only view of the hub's own settings (see :func:`hub_settings`)."""

    env: str
    database: DatabaseSettings
    broker: BrokerSettings
    http: HttpSettings
    ingest: IngestSettings
    plugins: PluginsSettings
    workers: WorkersSettings
    relay: RelaySettings


def hub_settings(settings: Dynaconf) -> HubSettings:
    """Return the typed view of ``settings``; call :func:`validate_settings` first.

    Values missing from ``settings`` fall back to :data:`HUB_DEFAULTS`.
    """

    def get(name: str) -> Any:
        value = settings.get(name)
        return HUB_DEFAULTS[name] if value is None else value

    overrides_attempts: dict[str, int] = {}
    overrides_timeout: dict[str, float] = {}
    table = settings.get("plugins") or {}
    for name, value in table.items():
        if str(name).lower() in RESERVED_PLUGIN_KEYS or not isinstance(value, Mapping):
            continue
        per_plugin = {str(k).lower(): v for k, v in value.items()}
        # Plugin names are lower case; HUB_PLUGINS__FLAKY__MAX_ATTEMPTS reaches dynaconf as ``FLAKY``.
        plugin = str(name).lower()
        if _is_int(per_plugin.get("max_attempts")):
            overrides_attempts[plugin] = int(per_plugin["max_attempts"])
        if _is_number(per_plugin.get("hook_timeout")):
            overrides_timeout[plugin] = float(per_plugin["hook_timeout"])
    return HubSettings(
        env=str(settings.current_env).lower(),
        database=DatabaseSettings(url=get("database.url")),
        broker=BrokerSettings(url=get("broker.url")),
        http=HttpSettings(host=get("http.host"), port=int(get("http.port"))),
        ingest=IngestSettings(
            firehose_access_key=get("ingest.firehose.access_key"),
            eventbridge_api_key=get("ingest.eventbridge.api_key"),
            eventbridge_basic_username=get("ingest.eventbridge.basic_username"),
            eventbridge_basic_password=get("ingest.eventbridge.basic_password"),
        ),
        plugins=PluginsSettings(
            enabled=tuple(get("plugins.enabled")),
            disabled=tuple(get("plugins.disabled")),
            strict=bool(get("plugins.strict")),
            modules=tuple(get("plugins.modules")),
        ),
        workers=WorkersSettings(
            concurrency=int(get("workers.concurrency")),
            max_attempts=int(get("workers.max_attempts")),
            backoff_base=float(get("workers.backoff_base")),
            backoff_max=float(get("workers.backoff_max")),
            hook_timeout=float(get("workers.hook_timeout")),
            per_plugin_max_attempts=overrides_attempts,
            per_plugin_hook_timeout=overrides_timeout,
        ),
        relay=RelaySettings(batch_size=int(get("relay.batch_size")), poll_interval=float(get("relay.poll_interval"))),
    )
