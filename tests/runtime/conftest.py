"""Fixtures for the runtime tests: test plugins as real entry points, databases, brokers, a runtime.

The test plugins (``tests/runtime/plugins``) are registered through a throwaway ``*.dist-info`` folder
put on ``sys.path`` here and on ``PYTHONPATH`` for the worker subprocesses, so they are discovered
exactly like installed plugins. PostgreSQL, RabbitMQ and Redis come from the shared fixtures in
``tests/conftest.py`` (skipped when unreachable, a failure under ``CI=true``). Every test gets its
own database (SQLite file, or a fresh PostgreSQL database) and its own broker queue name.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from hub.config import load_settings
from hub.plugins import HubPlugins
from hub.runtime._local import LocalRuntime

PLUGIN_DIR = Path(__file__).parent / "plugins"
ENTRY_POINTS = {
    "recorder": "hubtest_recorder",
    "killer": "hubtest_faulty:killer",
    "hang": "hubtest_faulty:hang",
    "flaky": "hubtest_faulty:flaky",
}

if str(PLUGIN_DIR) not in sys.path:  # the test modules read the plugins' output with hubtest_common
    sys.path.insert(0, str(PLUGIN_DIR))


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH holding the test plugins and their dist-info (also added to this process)."""
    root = tmp_path_factory.mktemp("dists")
    dist = root / "connect_hub_runtime_testplugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: connect-hub-runtime-testplugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[connect_hub]\n" + "".join(f"{name} = {target}\n" for name, target in ENTRY_POINTS.items())
    )
    for p in (str(PLUGIN_DIR), str(root)):
        if p not in sys.path:
            sys.path.insert(0, p)
    return os.pathsep.join([str(PLUGIN_DIR), str(root), str(Path(__file__).parents[2])])


def make_env(folder: Path, database_url: str, broker_url: str, enabled: list[str], **extra: str) -> dict[str, str]:
    """``HUB_*`` settings for one test: database, broker, a unique queue, plugins and their files."""
    env = {
        "HUB_ENV": "test",
        "HUB_DATABASE__URL": database_url,
        "HUB_BROKER__URL": broker_url,
        "HUB_BROKER__QUEUE": f"hubtest-{uuid.uuid4().hex[:10]}",
        "HUB_BROKER__FOLDER": str(folder / "broker"),
        "HUB_PLUGINS__ENABLED": "[" + ", ".join(f'"{p}"' for p in enabled) + "]",
        "HUB_PLUGINS__STRICT": "true",
        "HUB_WORKERS__BACKOFF_BASE": "0.05",
        "HUB_WORKERS__BACKOFF_MAX": "0.2",
        "HUB_RELAY__POLL_INTERVAL": "0.02",
        "HUB_RELAY__STALE_AFTER": "20",
    }
    for name in enabled:
        env[f"HUB_PLUGINS__{name.upper()}__PATH"] = str(folder / f"{name}.jsonl")
    env.update(extra)
    return env


RuntimeFactory = Callable[..., LocalRuntime]


@pytest.fixture
def runtime_factory(plugin_path: str, tmp_path: Path) -> Iterator[RuntimeFactory]:
    """Build (not start) :class:`LocalRuntime` objects whose workers see the test plugins; stopped at the end."""
    made: list[LocalRuntime] = []
    log = (tmp_path / "workers.log").open("ab")

    def factory(env: dict[str, str], **kwargs: Any) -> LocalRuntime:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            settings = load_settings()
            plugins = HubPlugins()
            plugins.load(settings)
            plugins.validate(settings)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        worker_env = {"PYTHONPATH": plugin_path + os.pathsep + os.environ.get("PYTHONPATH", "")}
        rt = LocalRuntime(env, plugins=plugins, worker_output=log, worker_env=worker_env, **kwargs)
        made.append(rt)
        return rt

    yield factory
    for rt in made:
        rt.stop(timeout=10)
    log.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file for this test."""
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


@pytest.fixture
def postgres_url(fresh_postgres_database: Callable[[], AbstractContextManager[URL]]) -> Iterator[str]:
    """A fresh, randomly named PostgreSQL database for this test (dropped afterwards)."""
    with fresh_postgres_database() as url:
        yield url.render_as_string(hide_password=False)
