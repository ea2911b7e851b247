"""Hook timeouts in a real ``connect-hub worker`` (prefork pool): ``SIGALRM`` interrupts a hook sleeping far
past its timeout inside the pool process, and Celery's hard time limit kills a pool process stuck where no
signal handler can run (``SIGALRM`` blocked, as in C code); in both cases the delivery runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.db import list_deliveries, session_scope
from hub.runtime._local import LocalRuntime

from .conftest import make_env
from .test_workers import inputs_for, scenario

pytestmark = pytest.mark.timeout(150)

PLUGIN_SOURCE = textwrap.dedent(
    '''
    """Test plugin: attempt 1 of on_contact_connected hangs (``sleep``: interruptible; ``stuck``: SIGALRM
    blocked, so only killing the process stops it)."""
    import json, os, signal, time
    from pathlib import Path
    from hub.hookspecs import hookimpl
    CONNECT_HUB_API = "1.0"

    @hookimpl
    def on_contact_connected(contact, agent, ctx):
        out = Path(os.environ["HUBTEST_SLEEPER_DIR"])
        line = {"attempt": ctx.attempt, "pid": os.getpid(), "key": ctx.idempotency_key}
        with (out / "calls.jsonl").open("a") as fh:
            fh.write(json.dumps(line) + "\\n")
        if ctx.attempt > 1:
            return
        if os.environ["HUBTEST_SLEEPER_MODE"] == "wait":
            (out / "started").write_text(str(os.getpid()))
            while not (out / "release").exists():
                time.sleep(0.02)
            return
        if os.environ["HUBTEST_SLEEPER_MODE"] == "sleep":
            try:
                time.sleep(3600)
            finally:
                (out / "interrupted").write_text(str(os.getpid()))
        else:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(3600)
    '''
)


@pytest.fixture
def sleeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The plugin module ``hubtest_sleeper`` in a folder on this process's path; returns the folder."""
    folder = tmp_path / "sleeper"
    folder.mkdir()
    (folder / "hubtest_sleeper.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def runtimes(plugin_path: str) -> Iterator[list[LocalRuntime]]:
    """Runtimes to stop at the end."""
    made: list[LocalRuntime] = []
    yield made
    for rt in made:
        rt.stop(timeout=10)


def run_one(
    tmp_path: Path, sleeper: Path, plugin_path: str, runtimes: list[LocalRuntime], mode: str, **extra: str
) -> tuple[list[dict[str, Any]], Any]:
    """Ingest a call (one ``on_contact_connected``) and wait until its delivery finished."""
    env = make_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "embedded://",
        [],
        HUB_PLUGINS__MODULES='["hubtest_sleeper"]',
        HUB_WORKERS__HOOK_TIMEOUT="0.5",
        HUBTEST_SLEEPER_DIR=str(sleeper),
        HUBTEST_SLEEPER_MODE=mode,
        **extra,
    )
    log = (tmp_path / "workers.log").open("ab")
    worker_env = {"PYTHONPATH": os.pathsep.join([str(sleeper), plugin_path, os.environ.get("PYTHONPATH", "")])}
    rt = LocalRuntime(env, workers=1, concurrency=2, worker_output=log, worker_env=worker_env)
    runtimes.append(rt)
    with rt:
        assert rt.pipeline is not None and rt.engine is not None
        rt.pipeline.ingest(inputs_for("jane", scenario("inbound_voice")))
        counts = rt.wait_finished(100)
        assert counts.deliveries == {"succeeded": 1}, counts
        with session_scope(rt.engine, write=False) as db:
            (delivery,) = list_deliveries(db, plugin="hubtest_sleeper")
    log.close()
    calls = [json.loads(x) for x in (sleeper / "calls.jsonl").read_text().splitlines()]
    return calls, delivery


def test_a_sleeping_hook_is_interrupted_in_the_pool_process(
    tmp_path: Path, sleeper: Path, plugin_path: str, runtimes: list[LocalRuntime]
) -> None:
    calls, delivery = run_one(tmp_path, sleeper, plugin_path, runtimes, "sleep")
    assert [c["attempt"] for c in calls] == [1, 2]
    # The sleep of attempt 1 was interrupted inside the pool process (its finally ran there): no thread
    # was left sleeping, and the same process could run attempt 2.
    assert (sleeper / "interrupted").read_text() == str(calls[0]["pid"])
    assert delivery.attempts == 2
    assert {c["key"] for c in calls} == {delivery.idempotency_key}


def test_a_hook_stuck_beyond_signals_is_stopped_by_the_hard_time_limit(
    tmp_path: Path, sleeper: Path, plugin_path: str, runtimes: list[LocalRuntime]
) -> None:
    # hook timeout 0.5 s, relay.stale_after 12 s: hard time limit max(12 - 5, 2 x 0.5 + 10) = 11 s.
    calls, delivery = run_one(tmp_path, sleeper, plugin_path, runtimes, "stuck", HUB_RELAY__STALE_AFTER="12")
    assert [c["attempt"] for c in calls] == [1, 2]
    assert not (sleeper / "interrupted").exists()
    stuck = calls[0]["pid"]
    with pytest.raises(ProcessLookupError):  # the pool process running attempt 1 was killed
        os.kill(stuck, 0)
    assert calls[1]["pid"] != stuck
    assert delivery.attempts == 2
    log = (tmp_path / "workers.log").read_text()
    assert "Hard time limit (11.0s) exceeded" in log


def test_warm_shutdown_finishes_the_running_hook_and_records_it(
    tmp_path: Path, sleeper: Path, plugin_path: str, runtimes: list[LocalRuntime]
) -> None:
    """SIGTERM while a hook runs (embedded broker): the worker stops polling at once, lets the hook finish,
    records it, and exits; the delivery is not run again."""
    env = make_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "embedded://",
        [],
        HUB_PLUGINS__MODULES='["hubtest_sleeper"]',
        HUBTEST_SLEEPER_DIR=str(sleeper),
        HUBTEST_SLEEPER_MODE="wait",
    )
    worker_env = {"PYTHONPATH": os.pathsep.join([str(sleeper), plugin_path, os.environ.get("PYTHONPATH", "")])}
    rt = LocalRuntime(env, workers=1, concurrency=1, worker_env=worker_env)
    runtimes.append(rt)
    with rt:
        assert rt.pipeline is not None and rt.engine is not None
        rt.pipeline.ingest(inputs_for("jane", scenario("inbound_voice")))
        deadline = time.monotonic() + 60
        while not (sleeper / "started").exists():
            assert time.monotonic() < deadline, "the hook did not start"
            rt.check_workers()
            time.sleep(0.02)
        (proc,) = rt.procs
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):  # warm: it waits for the running hook
            proc.wait(1.0)
        (sleeper / "release").touch()
        proc.wait(30)
        assert proc.returncode == 0
        with session_scope(rt.engine, write=False) as db:
            (delivery,) = list_deliveries(db, plugin="hubtest_sleeper")
    assert (delivery.status.value, delivery.attempts) == ("succeeded", 1)
    calls = [json.loads(x) for x in (sleeper / "calls.jsonl").read_text().splitlines()]
    assert [c["attempt"] for c in calls] == [1]
