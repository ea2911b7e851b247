"""The runtime's CLI commands, through click's runner (real settings from HUB_* variables)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli._config import config
from hub.cli._db import db
from hub.cli._deliveries import deliveries
from hub.cli._plugins import plugins


def test_config_check_lists_every_error_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WORKERS__CONCURRENCY", "0")
    monkeypatch.setenv("HUB_HTTP__PORT", "x")
    result = CliRunner().invoke(config, ["check"])
    assert result.exit_code == 1
    assert "workers.concurrency" in result.output
    assert "http.port" in result.output
    assert "2 error(s)" in result.output


def test_config_check_ok_shows_the_embedded_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_DATABASE__URL", f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    result = CliRunner().invoke(config, ["check"])
    assert result.exit_code == 0, result.output
    assert "embedded:// -> hubfs://" in result.output


def test_plugins_list_shows_enabled_and_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PLUGINS__DISABLED", '["example"]')
    result = CliRunner().invoke(plugins, ["list"])
    assert result.exit_code == 0, result.output
    assert "example" in result.output
    assert "listed in plugins.disabled" in result.output


def test_db_upgrade_then_list_empty_deliveries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'hub.sqlite3'}"
    result = CliRunner().invoke(db, ["upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    listed = CliRunner().invoke(deliveries, ["--url", url, "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    retried = CliRunner().invoke(deliveries, ["--url", url, "retry"])
    assert "0 delivery(ies) back in the outbox" in retried.output
