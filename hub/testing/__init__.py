"""Test helpers for Connect Hub and its plugins: a pytest plugin (entry point ``pytest11``).

Installed with the hub, so a plugin package's tests get these fixtures without any import:

``connect_hub``
    A whole hub for the test, on embedded defaults in a temporary folder: SQLite, the embedded broker,
    the outbox relay and real worker processes running the enabled plugins. Feed it a scenario and wait
    for every hook call::

        def test_my_plugin_sees_the_call(connect_hub):
            connect_hub.feed(connect_hub.scenario("inbound_voice"), agent="jane")
            counts = connect_hub.wait()
            assert counts.deliveries == {"succeeded": counts.total_deliveries}
            hooks = {d.hook for d in connect_hub.deliveries(plugin="my_plugin")}
            assert "on_contact_connected" in hooks

    Configure it with ``@pytest.mark.connect_hub(plugins=["my_plugin"], settings={...}, workers=1)``:
    ``plugins`` is the allow list (default: every installed plugin), ``settings`` extra ``HUB_*``
    environment variables or dotted keys (``{"plugins.my_plugin.path": "{folder}/out.log"}``; ``{folder}``
    is the hub's temporary folder, :attr:`HubHarness.folder`).

``agent_session``
    A bare :class:`hub.AgentSession` with a :class:`hub.ScriptedBackend`, for tests of code that uses
    the Streams object model without a database or workers.

This module imports only the standard library and pytest at import time (pytest loads it for every
test run); the hub runtime is imported when a fixture is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from hub import AgentSession
    from hub.db import DeliveryView
    from hub.runtime import IngestResult
    from hub.runtime._local import LocalRuntime, RuntimeCounts

__all__ = ["HubHarness", "agent_session", "connect_hub", "load_scenario_file", "settings_env"]


def load_scenario_file(name_or_path: str | Path) -> dict[str, Any]:
    """A scenario in the oracle's format: a path, or the name of one bundled with the hub (``inbound_voice``)."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return doc
    from importlib import resources  # noqa: PLC0415

    text = resources.files("hub").joinpath("scenarios", f"{name_or_path}.json").read_text(encoding="utf-8")
    bundled: dict[str, Any] = json.loads(text)
    return bundled


def settings_env(
    folder: Path, plugins: Sequence[str] = ("*",), settings: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """``HUB_*`` variables for an isolated hub in ``folder``: SQLite, the embedded broker, fast retries.

    ``settings`` keys are either ``HUB_*`` names or dotted setting keys (``workers.max_attempts``);
    string values may use ``{folder}`` for the hub's folder; other values are rendered as JSON, which
    dynaconf reads from environment variables as TOML.
    """
    env = {
        "HUB_ENV": "test",
        "HUB_DATABASE__URL": f"sqlite:///{folder / 'hub.sqlite3'}",
        "HUB_BROKER__URL": "embedded://",
        "HUB_BROKER__FOLDER": str(folder / "broker"),
        "HUB_PLUGINS__ENABLED": json.dumps(list(plugins)),
        "HUB_WORKERS__BACKOFF_BASE": "0.05",
        "HUB_WORKERS__BACKOFF_MAX": "0.5",
        "HUB_RELAY__POLL_INTERVAL": "0.02",
    }
    for key, value in (settings or {}).items():
        name = key if key.startswith("HUB_") else "HUB_" + key.upper().replace(".", "__")
        env[name] = value.replace("{folder}", str(folder)) if isinstance(value, str) else json.dumps(value)
    return env


class HubHarness:
    """A hub for one test: pipeline and relay in this process, worker subprocesses running the plugins.

    :param folder: where the database, the broker's files and plugin output go.
    :param plugins: the plugin allow list.
    :param settings: extra settings (see :func:`settings_env`).
    :param workers: worker processes (each with two pool processes).
    """

    def __init__(
        self,
        folder: Path,
        *,
        plugins: Sequence[str] = ("*",),
        settings: Mapping[str, Any] | None = None,
        workers: int = 1,
    ) -> None:
        from hub.runtime._local import LocalRuntime  # noqa: PLC0415

        self.folder = folder
        self.env = settings_env(folder, plugins, settings)
        self.runtime: LocalRuntime = LocalRuntime(self.env, workers=workers, concurrency=2)

    def start(self) -> HubHarness:
        """Migrate the database, start the workers and the relay; wait until the workers consume."""
        self.runtime.start()
        self.runtime.wait_workers_ready()
        return self

    def stop(self) -> None:
        """Stop the relay and the workers."""
        self.runtime.stop()

    @staticmethod
    def scenario(name_or_path: str | Path) -> dict[str, Any]:
        """Load a scenario (see :func:`load_scenario_file`)."""
        return load_scenario_file(name_or_path)

    def feed(self, scenario: Mapping[str, Any], *, agent: str = "agent-1") -> IngestResult:
        """Feed a scenario's configuration and snapshot steps as agent ``agent``'s data (one batch).

        The inputs are :func:`hub.runtime.scenario_inputs`, as ``connect-hub demo --scenarios`` feeds them.
        """
        from hub.runtime import scenario_inputs  # noqa: PLC0415

        return self.ingest(scenario_inputs(agent, scenario))

    def feed_snapshot(self, snapshot: Mapping[str, Any], *, agent: str = "agent-1") -> IngestResult:
        """Feed one ``GetAgentSnapshot`` snapshot."""
        from hub.runtime import AgentInput  # noqa: PLC0415

        return self.ingest([AgentInput(agent, "snapshot", dict(snapshot))])

    def ingest(self, items: Sequence[Any]) -> IngestResult:
        """Feed :class:`hub.runtime.AgentInput` items through the pipeline in one transaction."""
        pipeline = self.runtime.pipeline
        if pipeline is None:
            raise RuntimeError("start() the harness first")
        return pipeline.ingest(list(items))

    def wait(self, timeout: float = 60.0) -> RuntimeCounts:
        """Wait until every delivery succeeded or became a dead letter; returns the row counts."""
        return self.runtime.wait_finished(timeout)

    def deliveries(self, **filters: Any) -> list[DeliveryView]:
        """Deliveries (``plugin=``, ``hook=``, ``status=``, ``contact_id=`` ... as :func:`hub.db.list_deliveries`)."""
        from hub.db import list_deliveries, session_scope  # noqa: PLC0415

        assert self.runtime.engine is not None
        with session_scope(self.runtime.engine, write=False) as db:
            return list(list_deliveries(db, limit=filters.pop("limit", 100_000), **filters))

    def event_names(self) -> list[str]:
        """The persisted event names, in order."""
        from hub.db import list_events, session_scope  # noqa: PLC0415

        assert self.runtime.engine is not None
        with session_scope(self.runtime.engine, write=False) as db:
            return [e.name for e in list_events(db)]


@pytest.fixture
def connect_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubHarness]:
    """A started :class:`HubHarness` (see the module docstring); stopped after the test."""
    marker = request.node.get_closest_marker("connect_hub")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    harness = HubHarness(tmp_path / "hub", **options)
    harness.folder.mkdir(parents=True, exist_ok=True)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def agent_session() -> AgentSession:
    """A bare agent session with a scripted action backend (no database, no workers)."""
    from hub import AgentSession, ScriptedBackend  # noqa: PLC0415

    return AgentSession("agent-1", backend=ScriptedBackend())


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``connect_hub`` marker."""
    config.addinivalue_line(
        "markers", "connect_hub(plugins=None, settings=None, workers=1): configure the connect_hub fixture"
    )
