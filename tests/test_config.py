"""Configuration: files, environments, HUB_ variables with __ nesting, secrets, validation."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dynaconf import Validator

from hub.config import (
    DEFAULT_SETTINGS_FILE,
    EMBEDDED_BROKER_URL,
    HUB_DEFAULTS,
    ConfigurationError,
    hub_settings,
    load_settings,
    plugin_settings,
    validate_settings,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _no_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, body: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


# --- defaults ---------------------------------------------------------------------------------


def test_the_settings_file_documents_exactly_the_built_in_defaults() -> None:
    with DEFAULT_SETTINGS_FILE.open("rb") as fh:
        default = flatten(tomllib.load(fh)["default"])
    hub_keys = {k: v for k, v in default.items() if not re.match(r"plugins\.(?!enabled|disabled|strict|modules)", k)}
    assert hub_keys == dict(HUB_DEFAULTS)


def test_every_setting_is_documented_with_its_environment_variable() -> None:
    text = DOCS.read_text()
    for key in HUB_DEFAULTS:
        assert f"`{key}`" in text, key
        assert "HUB_" + key.upper().replace(".", "__") in text, key


def test_with_no_settings_file_the_hub_runs_on_its_defaults(tmp_path: Path) -> None:
    settings = load_settings([], environ={})
    validate_settings(settings)
    view = hub_settings(settings)
    assert view.database.url == "sqlite:///var/hub.sqlite3"
    assert view.broker.url == EMBEDDED_BROKER_URL
    assert view.broker.embedded
    assert (view.http.host, view.http.port) == ("127.0.0.1", 8080)
    assert view.plugins.enabled == ("*",)
    assert view.env == "development"


def test_the_repository_settings_load_and_validate_in_every_environment() -> None:
    for env in ("development", "test", "production"):
        settings = load_settings(env=env, environ={})
        validate_settings(settings)
        assert hub_settings(settings).env == env
    production = hub_settings(load_settings(env="production", environ={}))
    assert (production.http.host, production.http.port) == ("0.0.0.0", 8080)  # __ kept the port
    assert production.plugins.strict


# --- environment variables --------------------------------------------------------------------


def test_hub_variables_override_nested_keys_with_double_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE__URL", "postgresql+psycopg://hub@127.0.0.1/hub")
    monkeypatch.setenv("HUB_BROKER__URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("HUB_HTTP__PORT", "9123")
    monkeypatch.setenv("HUB_INGEST__FIREHOSE__ACCESS_KEY", "fh-secret")
    monkeypatch.setenv("HUB_PLUGINS__ENABLED", '["example", "crm"]')
    monkeypatch.setenv("HUB_PLUGINS__EXAMPLE__PATH", "/tmp/x.log")

    settings = load_settings()
    validate_settings(settings)
    view = hub_settings(settings)

    assert view.database.url == "postgresql+psycopg://hub@127.0.0.1/hub"
    assert view.broker.url == "amqp://guest:guest@127.0.0.1:5672//"
    assert not view.broker.embedded
    assert view.http.port == 9123  # parsed as TOML: an int
    assert view.http.host == "127.0.0.1"  # the sibling key survives
    assert view.ingest.firehose_access_key == "fh-secret"
    assert view.ingest.eventbridge_api_key == ""
    assert view.plugins.enabled == ("example", "crm")  # replaced, not merged
    assert plugin_settings(settings, "example") == {"path": "/tmp/x.log"}


def test_hub_env_chooses_the_environment_and_the_argument_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[default]\nhttp__port = 1000\n[staging]\nhttp__port = 2000\n[test]\nhttp__port = 3000\n")
    monkeypatch.setenv("HUB_ENV", "staging")
    assert load_settings([path]).get("http.port") == 2000
    assert load_settings([path], env="test").get("http.port") == 3000


# --- files ------------------------------------------------------------------------------------


def test_a_named_settings_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings([tmp_path / "nope.toml", tmp_path / "nope2.toml"])
    assert caught.value.errors == [
        f"settings file not found: {tmp_path / 'nope.toml'}",
        f"settings file not found: {tmp_path / 'nope2.toml'}",
    ]


def test_hub_settings_files_is_read_checked_and_beaten_by_an_explicit_list(tmp_path: Path) -> None:
    first = write(tmp_path, "[default.http]\nport = 1111\n", "a.toml")
    second = write(tmp_path, "[default]\nhttp__port = 2222\n", "b.toml")
    environ = {"HUB_SETTINGS_FILES": f"{first}, {second}"}
    assert load_settings(environ=environ).get("http.port") == 2222
    assert load_settings([first], environ=environ).get("http.port") == 1111
    with pytest.raises(ConfigurationError, match=r"settings file not found: .*missing\.toml"):
        load_settings(environ={"HUB_SETTINGS_FILES": str(tmp_path / "missing.toml")})


def test_a_file_that_is_not_valid_toml_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "[default]\nport = \n")
    with pytest.raises(ConfigurationError, match=re.escape(f"cannot read {path}")):
        load_settings([path])


def test_secrets_next_to_the_settings_load_after_them_and_before_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[default.ingest.eventbridge]\napi_key = "from-settings"\nbasic_username = "u"\n')
    write(tmp_path, '[default]\ningest__eventbridge__api_key = "from-secrets"\n', ".secrets.toml")
    assert load_settings([path], environ={}).get("ingest.eventbridge.api_key") == "from-secrets"
    assert load_settings([path], environ={}).get("ingest.eventbridge.basic_username") == "u"
    monkeypatch.setenv("HUB_INGEST__EVENTBRIDGE__API_KEY", "from-env")
    assert load_settings([path], environ={}).get("ingest.eventbridge.api_key") == "from-env"


def test_a_named_secrets_file_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigurationError, match="secrets file not found"):
        load_settings([path], environ={"HUB_SECRETS_FILE": str(tmp_path / "gone.toml")})


def test_the_secrets_example_is_valid_toml() -> None:
    with (DEFAULT_SETTINGS_FILE.parent / ".secrets.toml.example").open("rb") as fh:
        assert "default" in tomllib.load(fh)


# --- validation -------------------------------------------------------------------------------


def test_validation_lists_every_error_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        "[default.http]\nport = 70000\n[default.workers]\nconcurrency = 0\nbackoff_base = 10\nbackoff_max = 5\n"
        '[default.plugins]\nenabled = "example"\n[default.plugins.crm]\nmax_attempts = 0\n',
    )
    monkeypatch.setenv("HUB_DATABASE__URL", "not a url")
    settings = load_settings([path], environ={})
    token = Validator("plugins.crm.token", must_exist=True, messages={"must_exist_true": "no token"})

    with pytest.raises(ConfigurationError) as caught:
        validate_settings(settings, {"crm": [token]})

    assert caught.value.errors == [
        "database.url must be a non-empty URL such as 'scheme://...', got 'not a url'",
        "http.port must be an integer from 1 to 65535, got 70000",
        "plugins.enabled must be a list of plugin names (['*'] for all), got 'example'",
        "workers.concurrency must be an integer >= 1, got 0",
        "workers.backoff_max (5) must be >= workers.backoff_base (10)",
        "plugin crm: plugins.crm.max_attempts must be an integer >= 1, got 0",
        "plugin crm: no token",
    ]
    assert "7 error(s)" in str(caught.value)


def test_a_broken_plugin_validator_is_reported_not_raised(tmp_path: Path) -> None:
    settings = load_settings([], environ={})
    broken = Validator("plugins.crm.x", condition=lambda v: 1 / 0)  # type: ignore[arg-type]
    settings.set("plugins.crm", {"x": 1})
    with pytest.raises(ConfigurationError) as caught:
        validate_settings(settings, {"crm": [broken]})
    assert caught.value.errors[0].startswith("plugin crm: its settings validators failed to run: ZeroDivisionError")


def test_per_plugin_attempt_limit_and_timeout_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "[default.plugins.crm]\nmax_attempts = 3\nhook_timeout = 2.5\n")
    settings = load_settings([path], environ={})
    validate_settings(settings, {"crm": []})
    workers = hub_settings(settings).workers
    assert (workers.max_attempts_for("crm"), workers.hook_timeout_for("crm")) == (3, 2.5)
    assert (workers.max_attempts_for("other"), workers.hook_timeout_for("other")) == (8, 30.0)


def test_dynaconfs_own_variables_cannot_silently_redirect_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = write(tmp_path, "[default.http]\nport = 4444\n[production]\nhttp__port = 5555\n", "other.toml")
    monkeypatch.setenv("ENV_FOR_DYNACONF", "production")
    assert load_settings(environ={}).current_env.lower() == "development"

    monkeypatch.setenv("SETTINGS_FILE_FOR_DYNACONF", str(other))
    with pytest.raises(ConfigurationError, match="unset SETTINGS_FILE_FOR_DYNACONF"):
        load_settings(environ={})
