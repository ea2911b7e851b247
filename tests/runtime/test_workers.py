"""End to end with real ``celery worker`` subprocesses: embedded, PostgreSQL + RabbitMQ, PostgreSQL + Redis.

Agent data goes in through the pipeline; the relay publishes; two worker processes run the hooks of
the test plugins (real entry points). Checked: events and contact rows stored, every delivery
succeeded exactly once (same idempotency key), each contact's hook calls in event order, and more
than one worker process took part. Fault tests: SIGKILL mid-hook, broker unreachable while
publishing, a hook raising / hanging past its timeout / failing until it becomes a dead letter that
the CLI retries.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hubtest_common import read

from hub._interpreter import SWITCH_INTERVAL_S
from hub.cli._deliveries import deliveries as deliveries_cli
from hub.db import get_contact, list_dead_letters, list_deliveries, list_events, session_scope
from hub.runtime import AgentInput, Relay, RuntimeOptions, create_app, resolve_broker
from hub.runtime._local import LocalRuntime

from .conftest import RuntimeFactory, make_env

pytestmark = pytest.mark.timeout(150)

SCENARIOS = ("inbound_voice", "outbound_call", "missed_call", "two_chats")


def scenario(name: str) -> dict[str, Any]:
    """A bundled scenario."""
    return json.loads(resources.files("hub").joinpath("scenarios", f"{name}.json").read_text())  # type: ignore[no-any-return]


def inputs_for(key: str, doc: dict[str, Any]) -> list[AgentInput]:
    """Configuration (top level and per step) and snapshot inputs of a scenario for agent ``key``."""
    items = [AgentInput(key, "configuration", doc["configuration"])] if doc.get("configuration") else []
    for step in doc["steps"]:
        if step.get("configuration"):
            items.append(AgentInput(key, "configuration", step["configuration"]))
        if step.get("snapshot"):
            items.append(AgentInput(key, "snapshot", step["snapshot"]))
    return items


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def assert_all_succeeded_in_order(rt: LocalRuntime, recorded: list[dict[str, Any]], plugin: str) -> None:
    """Every delivery succeeded, each exactly once, in id order per ordering key."""
    assert rt.engine is not None
    with session_scope(rt.engine, write=False) as db:
        rows = list_deliveries(db, plugin=plugin, limit=100_000)
    assert rows
    assert {d.status.value for d in rows} == {"succeeded"}
    keys = [line["key"] for line in recorded]
    assert sorted(keys) == sorted(d.idempotency_key for d in rows), "each delivery ran exactly once"
    by_key = {d.idempotency_key: d for d in rows}
    per_order: dict[str | None, list[int]] = {}
    for line in sorted(recorded, key=lambda x: x["t"]):
        d = by_key[line["key"]]
        per_order.setdefault(d.ordering_key, []).append(d.id)
    for order_key, ids in per_order.items():
        assert ids == sorted(ids), f"hook calls of {order_key} out of order: {ids}"


@pytest.mark.parametrize(
    "backend",
    [
        "embedded",
        pytest.param("rabbitmq", marks=pytest.mark.services),
        pytest.param("redis", marks=pytest.mark.services),
    ],
)
def test_end_to_end_two_workers_in_order(
    backend: str, runtime_factory: RuntimeFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "embedded":
        db_url, broker = request.getfixturevalue("sqlite_url"), "embedded://"
    else:
        db_url = request.getfixturevalue("postgres_url")
        broker = request.getfixturevalue("rabbitmq_url" if backend == "rabbitmq" else "redis_url")
    env = make_env(tmp_path, db_url, broker, ["recorder"], HUB_RELAY__MAX_DELIVERIES_PER_MESSAGE="4")
    rt = runtime_factory(env, workers=2, concurrency=1)
    with rt:
        assert rt.pipeline is not None
        rt.wait_workers_ready()
        for round_ in range(3):
            for name in SCENARIOS:
                rt.pipeline.ingest(inputs_for(f"{name}-{round_}", scenario(name)))
        counts = rt.wait_finished(90)
        assert counts.finished == counts.total_deliveries, counts
        assert rt.engine is not None
        with session_scope(rt.engine, write=False) as db:
            names = {e.name for e in list_events(db, limit=100_000)}
            contact = get_contact(db, "c-in-1")
    assert {"agent::state_change", "contact::connected", "contact::destroyed"} <= names
    assert contact is not None
    assert contact.state == "ended"
    recorded = read(tmp_path / "recorder.jsonl")
    assert_all_succeeded_in_order(rt, recorded, "recorder")
    assert len({line["pid"] for line in recorded}) >= 2, "two worker processes took part"


@pytest.mark.parametrize("backend", ["embedded", pytest.param("rabbitmq", marks=pytest.mark.services)])
def test_worker_killed_mid_hook_redelivers_with_same_key(
    backend: str, runtime_factory: RuntimeFactory, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "embedded":
        db_url, broker = request.getfixturevalue("sqlite_url"), "embedded://"
    else:
        db_url, broker = request.getfixturevalue("postgres_url"), request.getfixturevalue("rabbitmq_url")
    pid_file = tmp_path / "killer.pid"
    env = make_env(tmp_path, db_url, broker, ["killer"], HUB_PLUGINS__KILLER__PID_PATH=str(pid_file))
    rt = runtime_factory(env, workers=1, concurrency=2)
    with rt:
        assert rt.pipeline is not None
        rt.pipeline.ingest(inputs_for("jane", scenario("inbound_voice")))
        wait_for(pid_file.exists, 60, "the hook to start")
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        counts = rt.wait_finished(60)
        assert counts.deliveries == {"succeeded": 1}, counts
        assert rt.engine is not None
        with session_scope(rt.engine, write=False) as db:
            (delivery,) = list_deliveries(db, plugin="killer")
    lines = read(tmp_path / "killer.jsonl")
    assert [(x["attempt"], x["phase"]) for x in lines] == [(1, "start"), (2, "start"), (2, "done")]
    assert {x["key"] for x in lines} == {delivery.idempotency_key}
    assert delivery.attempts == 2


def test_hook_raising_hanging_and_dead_letters_retried_via_cli(
    runtime_factory: RuntimeFactory, tmp_path: Path, sqlite_url: str
) -> None:
    ok_file = tmp_path / "flaky.ok"
    env = make_env(
        tmp_path,
        sqlite_url,
        "embedded://",
        ["hang", "flaky"],
        HUB_PLUGINS__HANG__HOOK_TIMEOUT="1.0",
        HUB_PLUGINS__FLAKY__MAX_ATTEMPTS="2",
        HUB_PLUGINS__FLAKY__OK_PATH=str(ok_file),
    )
    rt = runtime_factory(env, workers=1, concurrency=2)
    with rt:
        assert rt.pipeline is not None and rt.engine is not None
        rt.pipeline.ingest(inputs_for("jane", scenario("inbound_voice")))
        counts = rt.wait_finished(60)
        with session_scope(rt.engine, write=False) as db:
            hang = list_deliveries(db, plugin="hang")
            flaky = list_deliveries(db, plugin="flaky")
            letters = list_dead_letters(db, plugin="flaky")
        # The hanging hook timed out on attempt 1 and succeeded on attempt 2.
        assert [(d.status.value, d.attempts) for d in hang] == [("succeeded", 2)]
        # The raising hook ran out of its 2 attempts: dead letters with the reason.
        assert {(d.status.value, d.attempts) for d in flaky} == {("dead", 2)}
        assert len(letters) == len(flaky)
        assert all("attempts exhausted (2/2)" in dl.reason and "flaky failure" in dl.reason for dl in letters)
        assert counts.dead_letters == len(flaky)
        # Fixed: retry the dead letters through the CLI; they succeed, in order, with the same keys.
        ok_file.touch()
        result = CliRunner().invoke(deliveries_cli, ["--url", sqlite_url, "retry", "--plugin", "flaky"])
        assert result.exit_code == 0, result.output
        counts = rt.wait_finished(60)
        assert counts.deliveries == {"succeeded": len(flaky) + 1}, counts
    recorded = read(tmp_path / "flaky.jsonl")
    assert [x["key"] for x in recorded] == [d.idempotency_key for d in flaky]
    assert [x["new"] for x in recorded] == ["Available", "PendingBusy", "Busy", "AfterCallWork", "Available"]


@pytest.mark.services
def test_broker_unreachable_while_publishing_loses_nothing(
    runtime_factory: RuntimeFactory, tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    env = make_env(tmp_path, postgres_url, rabbitmq_url, ["recorder"])
    rt = runtime_factory(env, workers=1, concurrency=2)
    rt.start(start_relay=False)
    assert rt.pipeline is not None and rt.engine is not None and rt.relay is not None
    # A relay pointed at a port where no broker listens: the publish right after the commit fails and the
    # deliveries go back to the outbox; every relay round fails too, nothing leaves the outbox.
    broken = _with_broker(rt.options, "amqp://guest:guest@127.0.0.1:5999//")
    down = Relay(rt.engine, create_app(broken), broken)
    rt.pipeline.publisher = down.publish_committed
    rt.pipeline.ingest(inputs_for("jane", scenario("inbound_voice")))
    assert down.flush_published(30)
    assert down.eager.failed == rt.counts().total_deliveries > 0
    assert set(rt.counts().deliveries) == {"pending"}
    for _ in range(3):
        r = down.run_once()
        assert r.error is not None
        assert r.published == 0
    down.stop()
    down.close()
    counts = rt.counts()
    assert set(counts.deliveries) == {"pending"}, counts
    # The broker is back (the right URL): everything is published and executed.
    rt.relay.start()
    counts = rt.wait_finished(60)
    assert counts.deliveries == {"succeeded": counts.total_deliveries}
    assert_all_succeeded_in_order(rt, read(tmp_path / "recorder.jsonl"), "recorder")


def _fields(options: RuntimeOptions) -> dict[str, Any]:
    return {f: getattr(options, f) for f in options.__dataclass_fields__}


def _with_broker(options: RuntimeOptions, url: str) -> RuntimeOptions:
    fields = _fields(options)
    fields["broker"] = resolve_broker(url, options.database_url)
    return RuntimeOptions(**fields)


def test_a_started_runtime_tunes_the_interpreter_until_it_stops(
    runtime_factory: RuntimeFactory, tmp_path: Path, sqlite_url: str
) -> None:
    """See ``hub._interpreter``: the start-up heap frozen, a short switch interval; both undone at stop."""
    rt = runtime_factory(make_env(tmp_path, sqlite_url, "embedded://", ["flaky"]))
    interval, frozen = sys.getswitchinterval(), gc.get_freeze_count()
    rt.start(start_workers=False, start_relay=False)
    assert sys.getswitchinterval() == min(interval, SWITCH_INTERVAL_S)
    assert gc.get_freeze_count() > frozen
    rt.stop()
    assert (sys.getswitchinterval(), gc.get_freeze_count()) == (interval, frozen)
