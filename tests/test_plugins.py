"""Plugin loading: entry points, tolerance, API versions, allow/deny lists, strict mode, calls."""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dynaconf import Dynaconf, Validator

from hub.config import ConfigurationError, load_settings
from hub.hookspecs import hookimpl
from hub.plugins import (
    PLUGIN_API_VERSION,
    CheckResult,
    HubPlugins,
    PluginActionError,
    PluginLoadError,
    get_plugins,
    load_plugins,
    reset_plugins,
)

GOOD = """
CONNECT_HUB_API = "1.0"
from hub.hookspecs import hookimpl

@hookimpl
def on_contact_connected(contact, ctx):
    return ("good", contact, ctx.idempotency_key)
"""


@pytest.fixture(autouse=True)
def _no_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Build throwaway installed distributions: a module plus a .dist-info with entry_points.txt."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    modules: list[str] = []

    def make(dist: str, entry_point: str, source: str, *, version: str = "1.0.0") -> str:
        module = f"hubtest_{entry_point}_{uuid.uuid4().hex[:8]}"
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[connect_hub]\n{entry_point} = {module}\n")
        modules.append(module)
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def settings_from(tmp_path: Path, body: str = "") -> Dynaconf:
    path = tmp_path / f"settings-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(body)
    return load_settings([path], environ={})


def record(plugins: HubPlugins, name: str) -> Any:
    [found] = [r for r in plugins.list_plugins() if r.name == name]
    return found


def ctx_for(plugins: HubPlugins, plugin: str, key: str = "k-1") -> Any:
    return plugins.context(
        plugin, event="contact::connected", idempotency_key=key, attempt=1, occurred_at=datetime.now(UTC)
    )


# --- tolerant loading -------------------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_reported_with_its_package_and_the_others_load(
    site: Callable[..., str], tmp_path: Path
) -> None:
    site("hub-good", "good", GOOD)
    site("broken-crm", "broken", "import crmlib_that_is_not_installed\n", version="2.3.1")

    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path))

    broken = record(plugins, "broken")
    assert not broken.enabled
    assert (broken.distribution, broken.version) == ("broken-crm", "2.3.1")
    assert "import failed: ModuleNotFoundError" in broken.error
    assert "crmlib_that_is_not_installed" in broken.error
    assert plugins.pm.get_plugin("broken") is None
    assert record(plugins, "good").as_dict() == {
        "name": "good",
        "distribution": "hub-good",
        "version": "1.0.0",
        "source": "entry point",
        "enabled": True,
        "reason": "loaded",
        "hooks": ["on_contact_connected"],
        "actions": [],
        "api_version": "1.0",
        "error": None,
    }
    assert [r.name for r in plugins.failures()] == ["broken"]
    assert ("good", "on_contact_connected") in plugins.deliveries_for("contact::connected")


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ('"2.0"', "incompatible plugin API: the plugin targets CONNECT_HUB_API 2.0, this hub provides 1.0"),
        ('"1.9"', "incompatible plugin API: the plugin targets CONNECT_HUB_API 1.9, this hub provides 1.0"),
        ('"one"', "CONNECT_HUB_API = 'one' is not a 'major' or 'major.minor' version"),
        (None, "declares no CONNECT_HUB_API (this hub provides plugin API 1.0)"),
    ],
)
def test_an_incompatible_or_missing_api_version_is_reported_and_not_loaded(
    site: Callable[..., str], tmp_path: Path, declared: str | None, expected: str
) -> None:
    header = f"CONNECT_HUB_API = {declared}\n" if declared else ""
    site("future-plugin", "future", header + GOOD.replace('CONNECT_HUB_API = "1.0"', ""))

    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path))

    future = record(plugins, "future")
    assert future.error == expected
    assert future.distribution == "future-plugin"
    assert plugins.pm.get_plugin("future") is None
    assert "future" not in plugins.implementers("on_contact_connected")


def test_a_major_only_declaration_of_the_current_api_loads(site: Callable[..., str], tmp_path: Path) -> None:
    assert PLUGIN_API_VERSION.startswith("1.")
    site("old-style", "oldstyle", GOOD.replace('"1.0"', '"1"'))
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path))
    assert record(plugins, "oldstyle").enabled


def test_unknown_hooks_and_bad_signatures_are_reported_and_check_pending_stays_clean(
    site: Callable[..., str], tmp_path: Path
) -> None:
    site("teleport", "teleport", GOOD + "\n@hookimpl\ndef on_contact_teleported(contact, ctx): pass\n")
    site("badsig", "badsig", GOOD + "\n@hookimpl\ndef on_agent_routable(agent, ctx, weather): pass\n")

    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path))

    assert "unknown hook 'on_contact_teleported'" in record(plugins, "teleport").error
    assert "weather" in record(plugins, "badsig").error
    assert not {"teleport", "badsig"} & set(plugins.implementers("on_contact_connected"))
    plugins.check_pending()  # raises if anything implementing an unknown hook stayed registered


def test_a_wrapper_on_an_event_hook_is_refused(site: Callable[..., str], tmp_path: Path) -> None:
    source = GOOD + "\n@hookimpl(wrapper=True)\ndef on_agent_offline(agent, ctx):\n    return (yield)\n"
    site("wrapping", "wrapping", source)
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path))
    assert "event hooks cannot be wrappers" in record(plugins, "wrapping").error


# --- allow and deny lists, strict mode --------------------------------------------------------


def test_a_denied_plugin_is_never_imported(site: Callable[..., str], tmp_path: Path) -> None:
    module = site("noisy-crm", "noisy", "raise SystemExit('imported!')\n")

    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, '[default.plugins]\ndisabled = ["noisy-crm"]\n'))

    noisy = record(plugins, "noisy")
    assert (noisy.enabled, noisy.reason, noisy.error) == (False, "listed in plugins.disabled", None)
    assert module not in sys.modules


def test_the_allow_list_loads_only_the_listed_plugins_by_entry_point_or_package_name(
    site: Callable[..., str], tmp_path: Path
) -> None:
    site("hub-good", "good", GOOD)
    site("hub-other", "other", GOOD)

    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, '[default.plugins]\nenabled = ["hub_other", "ghost"]\n'))

    assert plugins.enabled() == ["other"]
    assert record(plugins, "good").reason == "not listed in plugins.enabled"
    assert record(plugins, "ghost").error == "listed in plugins.enabled but not installed"


def test_the_deny_list_wins_over_the_allow_list(site: Callable[..., str], tmp_path: Path) -> None:
    site("hub-good", "good", GOOD)
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, '[default.plugins]\nenabled = ["good"]\ndisabled = ["good"]\n'))
    assert plugins.enabled() == []


def test_strict_mode_makes_any_failure_fatal_and_lists_every_one(site: Callable[..., str], tmp_path: Path) -> None:
    site("broken-crm", "broken", "import crmlib_that_is_not_installed\n")
    site("future-plugin", "future", GOOD.replace('"1.0"', '"2.0"'))
    site("hub-good", "good", GOOD)

    with pytest.raises(PluginLoadError) as caught:
        HubPlugins().load(settings_from(tmp_path, "[default.plugins]\nstrict = true\n"))

    text = str(caught.value)
    assert "2 plugin(s) failed to load" in text
    assert "broken (broken-crm 1.0.0): import failed" in text
    assert "future (future-plugin 1.0.0): incompatible plugin API" in text


def test_strict_mode_from_the_environment(
    site: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site("broken-crm", "broken", "import crmlib_that_is_not_installed\n")
    monkeypatch.setenv("HUB_PLUGINS__STRICT", "true")
    with pytest.raises(PluginLoadError):
        HubPlugins().load(settings_from(tmp_path))


def test_plugins_modules_loads_a_dotted_module_path(site: Callable[..., str], tmp_path: Path) -> None:
    module = site("unused", "unused", GOOD)
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, f'[default.plugins]\nenabled = []\nmodules = ["{module}"]\n'))
    assert plugins.enabled() == [module]
    assert record(plugins, module).source == "module"


# --- one load per process ---------------------------------------------------------------------


def test_load_plugins_is_idempotent_per_process(site: Callable[..., str], tmp_path: Path) -> None:
    counter = tmp_path / "imports"
    site("hub-count", "count", GOOD + f"\nwith open({str(counter)!r}, 'a') as f: f.write('x')\n")
    reset_plugins()
    try:
        first = load_plugins(settings_from(tmp_path))
        second = load_plugins(settings_from(tmp_path, "[default.plugins]\nenabled = []\n"))
        assert first is second is get_plugins()
        assert second.enabled() == first.enabled()
        assert counter.read_text() == "x"
    finally:
        reset_plugins()


# --- calling hooks ----------------------------------------------------------------------------


class Recorder:
    CONNECT_HUB_API = "1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def on_contact_connected(self, ctx: Any) -> str:  # opts in to ctx only
        self.calls.append(("connected", ctx.idempotency_key))
        return "recorded"


class Other:
    @hookimpl
    def on_contact_connected(self, contact: Any, agent: Any, ctx: Any) -> None:
        raise AssertionError("must not be called for another plugin's delivery")


def test_call_runs_only_the_named_plugins_implementation_with_the_arguments_it_asks_for() -> None:
    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    recorder = Recorder()
    plugins.register(recorder, "recorder", check_api=True)
    plugins.register(Other(), "other")

    assert plugins.deliveries_for("contact::connected") == [
        ("other", "on_contact_connected"),
        ("recorder", "on_contact_connected"),
    ]
    result = plugins.call(
        "recorder", "on_contact_connected", contact=object(), agent=object(), ctx=ctx_for(plugins, "recorder")
    )
    assert result == ["recorded"]
    assert recorder.calls == [("connected", "k-1")]
    with pytest.raises(LookupError):
        plugins.call("recorder", "on_agent_offline", agent=object(), ctx=ctx_for(plugins, "recorder"))
    with pytest.raises(TypeError, match="needs argument 'ctx'"):
        plugins.call("recorder", "on_contact_connected", contact=object())


def test_the_context_carries_the_plugins_own_settings_with_environment_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_PLUGINS__RECORDER__API_URL", "https://crm.example")
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, "[default.plugins.recorder]\nretries = 2\n"), entry_points=[])
    plugins.register(Recorder(), "recorder")

    ctx = ctx_for(plugins, "recorder")

    assert ctx.settings == {"retries": 2, "api_url": "https://crm.example"}
    assert ctx.logger.name == "connect_hub.plugins.recorder"
    assert ctx.plugin == "recorder"
    assert ctx.first_attempt


def test_actions_offered_by_one_plugin_are_called_by_another() -> None:
    class Crm:
        @hookimpl
        def hub_register_actions(self, register: Any) -> None:
            def create_ticket(subject: str, idempotency_key: str) -> str:
                """Create a ticket."""
                return f"ticket:{subject}:{idempotency_key}"

            register(create_ticket)

    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    crm = plugins.register(Crm(), "crm")
    ctx = ctx_for(plugins, "other")

    assert crm.actions == ("crm.create_ticket",)
    assert ctx.call_action("crm.create_ticket", subject="missed", idempotency_key="k-1") == "ticket:missed:k-1"
    assert [a.description for a in plugins.actions] == ["Create a ticket."]
    with pytest.raises(PluginActionError, match=r"unknown action 'crm\.delete_everything'"):
        ctx.call_action("crm.delete_everything")
    plugins.unregister("crm")
    assert "crm.create_ticket" not in plugins.actions


def test_a_plugin_registering_an_action_twice_is_not_loaded() -> None:
    class Twice:
        @hookimpl
        def hub_register_actions(self, register: Any) -> None:
            register(print, name="say")
            register(print, name="say")

    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    with pytest.raises(PluginLoadError, match="registered twice"):
        plugins.register(Twice(), "twice")
    assert plugins.pm.get_plugin("twice") is None
    assert "twice.say" not in plugins.actions


# --- lifecycle hooks are isolated per plugin --------------------------------------------------


class Starts:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.started: list[Any] = []
        self.stopped: list[Any] = []

    @hookimpl
    def hub_startup(self, hub: Any, settings: Any) -> None:
        if self.fail:
            raise RuntimeError("no route to CRM")
        self.started.append((hub, dict(settings)))

    @hookimpl
    def hub_shutdown(self, hub: Any) -> None:
        self.stopped.append(hub)
        raise RuntimeError("shutdown errors are only logged")


def test_a_failing_startup_disables_only_that_plugin_and_late_plugins_still_start(tmp_path: Path) -> None:
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, '[default.plugins.ok]\nurl = "https://ok"\n'), entry_points=[])
    ok, bad, late = Starts(), Starts(fail=True), Starts()
    plugins.register(ok, "ok")
    plugins.register(bad, "bad")
    hub = SimpleNamespace(settings=None)

    plugins.startup(hub)
    plugins.register(late, "late")

    assert ok.started == [(hub, {"url": "https://ok"})]
    assert late.started == [(hub, {})]
    assert record(plugins, "bad").error == "hub_startup raised RuntimeError: no route to CRM"
    assert plugins.enabled() == ["late", "ok"]
    plugins.shutdown(hub)
    assert ok.stopped == late.stopped == [hub]


def test_check_results_are_named_and_exceptions_become_failures() -> None:
    class Fine:
        @hookimpl
        def hub_check(self, settings: Any) -> CheckResult:
            return CheckResult(ok=True, message=f"settings {dict(settings)}")

    class Down:
        @hookimpl
        def hub_check(self, settings: Any) -> CheckResult:
            raise ConnectionError("CRM unreachable")

    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    plugins.register(Fine(), "fine")
    plugins.register(Down(), "down")

    results = {r.name: r for r in plugins.check()}

    assert results["fine"] == CheckResult(ok=True, message="settings {}", name="fine")
    assert not results["down"].ok
    assert results["down"].message == "ConnectionError: CRM unreachable"


def test_plugin_validators_are_run_with_the_hubs_and_a_broken_one_disables_its_plugin(
    tmp_path: Path,
) -> None:
    class Strict:
        @hookimpl
        def hub_settings_validators(self) -> list[Validator]:
            return [Validator("plugins.strictcrm.token", must_exist=True)]

    class Broken:
        @hookimpl
        def hub_settings_validators(self) -> list[Validator]:
            raise KeyError("oops")

    settings = settings_from(tmp_path, "[default.http]\nport = 0\n")
    plugins = HubPlugins()
    plugins.load(settings, entry_points=[])
    plugins.register(Strict(), "strictcrm")
    plugins.register(Broken(), "broken")

    with pytest.raises(ConfigurationError) as caught:
        plugins.validate()

    assert caught.value.errors == [
        "http.port must be an integer from 1 to 65535, got 0",
        "plugin strictcrm: plugins.strictcrm.token is required in env development",
    ]
    assert "hub_settings_validators raised KeyError" in record(plugins, "broken").error


def test_reserved_and_invalid_names_are_refused() -> None:
    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    with pytest.raises(PluginLoadError, match="reserved"):
        plugins.register(Recorder(), "enabled")
    with pytest.raises(PluginLoadError, match="must match"):
        plugins.register(Recorder(), "My-Plugin")


class NeedsToken:
    @hookimpl
    def hub_settings_validators(self) -> list[Validator]:
        return [Validator("plugins.needstoken.token", must_exist=True)]

    @hookimpl
    def on_agent_offline(self, agent: Any, ctx: Any) -> None:
        pass


def test_invalid_plugin_settings_disable_the_plugin_unless_strict(tmp_path: Path) -> None:
    tolerant = HubPlugins()
    tolerant.load(settings_from(tmp_path), entry_points=[])
    tolerant.register(NeedsToken(), "needstoken")
    tolerant.register(Recorder(), "recorder")

    tolerant.validate()

    assert tolerant.enabled() == ["recorder"]
    assert record(tolerant, "needstoken").error == (
        "invalid settings: plugins.needstoken.token is required in env development"
    )
    assert tolerant.deliveries_for("agent::offline") == []

    strict = HubPlugins()
    strict.load(settings_from(tmp_path, "[default.plugins]\nstrict = true\n"), entry_points=[])
    strict.register(NeedsToken(), "needstoken")
    with pytest.raises(ConfigurationError, match=r"plugin needstoken: plugins\.needstoken\.token is required"):
        strict.validate()


def test_a_validators_hook_returning_a_single_validator_disables_its_plugin() -> None:
    class Single:
        @hookimpl
        def hub_settings_validators(self) -> Validator:
            return Validator("plugins.single.x", must_exist=True)

    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    plugins.register(Single(), "single")
    assert plugins.settings_validators() == {}
    assert "not a Validator" in record(plugins, "single").error


def test_a_module_in_plugins_modules_can_still_be_denied(site: Callable[..., str], tmp_path: Path) -> None:
    module = site("unused", "unused", "raise SystemExit('imported!')\n")
    body = f'[default.plugins]\nenabled = []\nmodules = ["{module}"]\ndisabled = ["{module}"]\n'
    plugins = HubPlugins()
    plugins.load(settings_from(tmp_path, body))
    assert record(plugins, module).reason == "listed in plugins.disabled"
    assert module not in sys.modules


def test_registering_a_second_plugin_under_a_taken_name_leaves_the_first_alone() -> None:
    plugins = HubPlugins()
    plugins.load(None, entry_points=[])
    first = Recorder()
    plugins.register(first, "recorder")
    with pytest.raises(PluginLoadError, match="name already registered"):
        plugins.register(Recorder(), "recorder")
    assert record(plugins, "recorder").enabled
    assert plugins.pm.get_plugin("recorder") is first
