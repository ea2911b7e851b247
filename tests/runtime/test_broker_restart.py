"""The broker restarted mid-stream, RabbitMQ and Redis: no delivery lost, repeats only with the same key.

Each test starts a PRIVATE broker on a free port (``tests/runtime/private_brokers.py``; the shared
ones on 5672/6379 serve other test runs) and a fresh PostgreSQL database. Agent data flows in
continuously through the pipeline while two ``connect-hub worker`` processes run the hooks of the
``hubtest_restart`` plugin (it records a start and a done line per call with the idempotency key and
the attempt, and takes a little time so a backlog builds up in the broker). When the broker holds
messages and a hook is running, the broker is stopped (gracefully, or SIGKILL), data keeps flowing
while it is down, it is started again on the same port, and more data flows after, until both
workers have run hooks again (they reconnected). Then:

* every delivery the pipeline created (the idempotency keys it reported) succeeded, none is dead;
* every such hook call happened at least once (a ``done`` line), none that was not expected;
* a repeated call carries the same idempotency key and a higher attempt (attempts are distinct per
  key, at most the attempts the database counted);
* per (ordering key, plugin) the calls started in delivery order, each after the previous one of
  its key completed;
* two worker processes took part.

Redis here keeps nothing on disk, so its restart loses the messages it held: only the outbox and the
relay's stale requeue (``relay.stale_after``, small here) bring them back; the tests check that this
path ran. RabbitMQ keeps them (durable queue, persistent messages, publisher confirms), which
:func:`test_rabbitmq_keeps_published_messages_across_restarts` checks directly at the broker.

A broker can also hang rather than go away: ``test_*_frozen_*`` stop it with SIGSTOP while the relay
holds an open connection to it (its sockets stay open, nothing is answered, a publish blocks for a
reply or a confirm). Ingest must not wait on it: every ``Pipeline.ingest`` meanwhile completes within
a deadline and its events and deliveries are in the database, only the publisher thread is stuck.
After SIGCONT the same outcome as above is checked (every delivery succeeded, in order per ordering
key, no dead letter, no idempotency key lost).
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hubtest_common import read
from kombu import Connection

from hub.db import list_deliveries, session_scope
from hub.runtime import AgentInput, IngestResult, Pipeline, Relay, create_app
from hub.runtime._local import LocalRuntime

from .conftest import RuntimeFactory, make_env
from .private_brokers import PrivateBroker, PrivateRabbitMQ, PrivateRedis

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]

PLUGIN = "hubtest_restart"
SCENARIOS = ("inbound_voice", "outbound_call", "missed_call", "two_chats")
#: Seconds each hook call takes: two single-process workers then run fewer than 20 calls a second,
#: fewer than the feeder creates (~25 a second), so messages wait in the broker.
HOOK_DELAY = 0.1
#: ``workers.hook_timeout`` (well below ``relay.stale_after``, as the settings documentation asks).
HOOK_TIMEOUT = 1.0
#: ``relay.stale_after``: how long a queued/running delivery may go untouched before it is requeued.
#: Small with Redis: its restart loses the messages it held, the stale requeue is the recovery under
#: test. Longer with RabbitMQ, which keeps its messages (durable queue, persistent messages, unacked ones
#: redelivered) - but not deliveries that a task cancelled at the connection loss had claimed for its
#: *drain*: no message refers to them, so they too wait for the stale requeue.
STALE_AFTER = {"redis": 4.0, "rabbitmq": 8.0}
#: Seconds between two feeder batches (load shaping, not synchronisation).
FEED_PACE = 0.1
#: Agents fed at once (one input of each per batch).
FEED_WIDTH = 2
#: Inputs fed after the broker is back (at least; until both workers ran hooks again), then the feeder stops.
INPUTS_AFTER = 40
#: Seconds one ``Pipeline.ingest`` may take while the broker hangs: generous on a shared 2-core machine,
#: and a deadline, not "forever" (a blocked ingest would wait for the broker until it came back).
INGEST_DEADLINE = 10.0
#: Batches ingested, one after the other, while the broker hangs.
BATCHES_FROZEN = 30


# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private ``redis-server`` (no persistence) on a free port, for this test only."""
    server = PrivateRedis.create(tmp_path / "redis")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    """A private RabbitMQ node on free ports with its own data folder, for this test only."""
    server = PrivateRabbitMQ.create(tmp_path / "rabbitmq")
    try:
        yield server
    finally:
        server.close()


# ---------------------------------------------------------------------------------------- helpers
def scenario(name: str) -> dict[str, Any]:
    """A bundled scenario."""
    return json.loads(resources.files("hub").joinpath("scenarios", f"{name}.json").read_text())  # type: ignore[no-any-return]


def inputs_for(key: str, doc: dict[str, Any]) -> list[AgentInput]:
    """Configuration and snapshot inputs of a scenario for agent ``key``, in order."""
    items = [AgentInput(key, "configuration", doc["configuration"])] if doc.get("configuration") else []
    for step in doc["steps"]:
        if step.get("configuration"):
            items.append(AgentInput(key, "configuration", step["configuration"]))
        if step.get("snapshot"):
            items.append(AgentInput(key, "snapshot", step["snapshot"]))
    return items


def wait_for(condition: Callable[[], bool], timeout: float, what: str, details: Callable[[], str] = str) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds (with ``details()``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{details()}")
        time.sleep(0.05)


def queue_depth(url: str, queue: str) -> int:
    """Messages ready in ``queue`` at the broker (0 when the queue does not exist)."""
    with Connection(url, connect_timeout=2) as conn:
        try:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except conn.channel_errors:
            return 0


def agent_batches() -> Iterator[list[AgentInput]]:
    """Endless batches of agent data: one input of each of ``FEED_WIDTH`` agents per batch.

    Each agent plays one bundled scenario in order; a finished agent is replaced by a new one.
    """
    active: list[Iterator[AgentInput]] = []
    agents = 0
    while True:
        while len(active) < FEED_WIDTH:
            name = SCENARIOS[agents % len(SCENARIOS)]
            active.append(iter(inputs_for(f"{name}-{agents}", scenario(name))))
            agents += 1
        batch: list[AgentInput] = []
        for it in list(active):
            item = next(it, None)
            if item is None:
                active.remove(it)
            else:
                batch.append(item)
        if batch:
            yield batch


class Feeder(threading.Thread):
    """Feeds agent data continuously (:func:`agent_batches`).

    The idempotency keys the pipeline reports are collected: the hook calls that must happen.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(name="feeder", daemon=True)
        self.pipeline = pipeline
        self.keys: list[str] = []
        self.errors: list[Any] = []
        self.inputs = 0
        self.failure: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            for batch in agent_batches():
                if self._halt.is_set():
                    return
                result = self.pipeline.ingest(batch)
                self.errors.extend(result.errors)
                self.keys.extend(result.delivery_keys)
                self.inputs += len(batch)
                self._halt.wait(FEED_PACE)
        except BaseException as exc:
            self.failure = exc

    def halt(self) -> None:
        """Stop feeding and wait for the thread; re-raise what it raised."""
        self._halt.set()
        self.join(30)
        assert not self.is_alive(), "the feeder did not stop"
        if self.failure is not None:
            raise self.failure


def restart_env(tmp_path: Path, database_url: str, broker: PrivateBroker, **extra: str) -> dict[str, str]:
    """Settings: the ``hubtest_restart`` plugin (slow hooks, 8 attempts), the stale timeout for ``broker``."""
    return make_env(
        tmp_path,
        database_url,
        broker.url,
        [PLUGIN],
        HUB_PLUGINS__MODULES=f'["{PLUGIN}"]',
        HUB_PLUGINS__HUBTEST_RESTART__DELAY=str(HOOK_DELAY),
        HUB_PLUGINS__HUBTEST_RESTART__MAX_ATTEMPTS="8",
        HUB_RELAY__STALE_AFTER=str(STALE_AFTER[broker.kind]),
        HUB_WORKERS__HOOK_TIMEOUT=str(HOOK_TIMEOUT),
        HUB_RELAY__MAX_DELIVERIES_PER_MESSAGE="4",
        **extra,
    )


def publish_failures(relay: Relay) -> int:
    """Deliveries the relay could not publish so far (its rounds, and the pipeline's publishes if any)."""
    eager = getattr(relay, "eager", None)
    return relay.totals.failed + (eager.failed if eager is not None else 0)


def diagnostics(rt: LocalRuntime, broker: PrivateBroker, tmp_path: Path) -> str:
    """Counts, unfinished deliveries, relay totals, the broker's queues and log tails, for failure messages."""
    log = tmp_path / "workers.log"
    workers = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    relay = rt.relay.totals if rt.relay is not None else None
    assert rt.engine is not None
    with session_scope(rt.engine, write=False) as db:
        rows = list_deliveries(db, plugin=PLUGIN, limit=1_000_000)
    stuck_keys = {d.ordering_key for d in rows if d.status.value not in ("succeeded", "dead")}
    open_rows = [
        (d.id, d.idempotency_key, d.ordering_key, d.status.value, d.attempts)
        for d in sorted(rows, key=lambda d: d.id)
        if d.ordering_key in stuck_keys
    ]
    queues = ""
    if isinstance(broker, PrivateRabbitMQ) and not broker.frozen and broker.ready():
        try:
            queues = broker.rabbitmqctl("list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers")
        except (RuntimeError, OSError) as exc:
            queues = repr(exc)
    return (
        f"counts: {rt.counts()}\nunfinished and their ordering keys: {open_rows[:40]}\n"
        f"relay: {relay}\nqueues: {queues}\nworkers:\n{workers}\nbroker:\n{broker.log_tail(1500)}"
    )


def check_outcome(rt: LocalRuntime, expected: list[str], lines: list[dict[str, Any]]) -> dict[str, float]:
    """The assertions of the module docstring; returns a few numbers for the report."""
    assert rt.engine is not None
    with session_scope(rt.engine, write=False) as db:
        rows = list_deliveries(db, plugin=PLUGIN, limit=1_000_000)
    by_key = {d.idempotency_key: d for d in rows}
    assert len(expected) == len(set(expected)), "the pipeline reported an idempotency key twice"
    assert set(by_key) == set(expected), "deliveries differ from the keys the pipeline reported"
    not_ok = sorted((d.idempotency_key, d.status.value, d.attempts) for d in rows if d.status.value != "succeeded")
    assert not not_ok, f"deliveries not succeeded: {not_ok[:20]}"
    assert rt.counts().dead_letters == 0

    starts: dict[str, list[tuple[int, int]]] = {}  # key -> [(line index, attempt)]
    dones: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        assert line["plugin"] == PLUGIN
        assert line["key"] in by_key, f"a hook call with an unknown idempotency key: {line}"
        if line["phase"] == "start":
            starts.setdefault(line["key"], []).append((index, line["attempt"]))
        else:
            dones.setdefault(line["key"], []).append(index)
    missing = sorted(set(expected) - set(dones))
    assert not missing, f"{len(missing)} expected hook calls never completed: {missing[:20]}"

    repeats = 0
    for key, calls in starts.items():
        attempts = [a for _, a in calls]
        # Each call comes from its own claim: a repeat has a new, higher attempt and the same key.
        assert len(set(attempts)) == len(attempts), f"{key}: two calls with one attempt {attempts}"
        assert max(attempts) <= by_key[key].attempts, f"{key}: attempts {attempts} > {by_key[key].attempts}"
        repeats += len(calls) - 1

    per_order: dict[str, list[int]] = {}
    for d in sorted(rows, key=lambda d: d.id):
        if d.ordering_key is not None:
            per_order.setdefault(d.ordering_key, []).append(d.id)
    by_id = {d.id: d.idempotency_key for d in rows}
    for order_key, ids in per_order.items():
        first_starts = [min(i for i, _ in starts[by_id[i]]) for i in ids]
        assert first_starts == sorted(first_starts), f"{order_key}: calls started out of order"
        for earlier, later in itertools.pairwise(ids):
            done = min(dones[by_id[earlier]])
            begun = min(i for i, _ in starts[by_id[later]])
            assert done < begun, f"{order_key}: {by_id[later]} started before {by_id[earlier]} completed"
    assert len({line["pid"] for line in lines}) >= 2, "two worker processes took part"
    return {"deliveries": len(rows), "repeats": repeats, "calls": len(starts)}


def run_restart(
    rt: LocalRuntime, broker: PrivateBroker, tmp_path: Path, stop_signal: signal.Signals
) -> tuple[dict[str, float], Feeder]:
    """Feed, restart ``broker`` mid-stream, feed more, wait for the end, check it (module docstring)."""
    assert rt.pipeline is not None and rt.relay is not None
    queue = rt.options.queue
    recorded = tmp_path / f"{PLUGIN}.jsonl"
    rt.wait_workers_ready()
    feeder = Feeder(rt.pipeline)
    feeder.start()
    relay = rt.relay
    more: Callable[[], str] = lambda: diagnostics(rt, broker, tmp_path)  # noqa: E731
    try:
        # 1. A backlog waits in the broker and a hook is running: messages queued and in flight.
        wait_for(
            lambda: queue_depth(broker.url, queue) >= 3 and rt.counts().deliveries.get("running", 0) >= 1,
            30,
            "messages waiting in the broker while a hook runs",
            more,
        )
        failures = lambda: publish_failures(relay)  # noqa: E731
        failed = failures()
        t_stop = time.monotonic()
        broker.stop(stop_signal)
        # 2. Data keeps flowing while the broker is down; the relay cannot publish it.
        inputs_down = feeder.inputs
        wait_for(
            lambda: failures() > failed and feeder.inputs > inputs_down,
            30,
            "agent data and a failed publish while the broker is down",
            more,
        )
        broker.start()
        t_up = time.monotonic()
        inputs_up = feeder.inputs
        seen = len(read(recorded))
        workers = {p.pid for p in rt.procs}
        # 3. The broker is back: more data flows until both workers run hooks again (they reconnected).
        wait_for(
            lambda: (
                feeder.inputs >= inputs_up + INPUTS_AFTER
                and {x["worker"] for x in read(recorded)[seen:] if x["phase"] == "start"} >= workers
            ),
            30,
            "data, and hook calls in both workers, after the restart",
            more,
        )
    finally:
        feeder.halt()
    assert not feeder.errors, feeder.errors[:5]
    counts = rt.wait_finished(60)
    assert counts.finished == counts.total_deliveries, more()
    t_end = time.monotonic()
    numbers = check_outcome(rt, feeder.keys, read(recorded))
    numbers.update(
        inputs=feeder.inputs,
        inputs_while_down=inputs_up - inputs_down,
        requeued=relay.totals.requeued,
        publish_failed=failures(),
        down_s=round(t_up - t_stop, 1),
        finished_after_s=round(t_end - t_up, 1),
    )
    print(f"broker restart ({broker.kind}, {stop_signal.name}): {numbers}")
    return numbers, feeder


def run_freeze(rt: LocalRuntime, broker: PrivateBroker, tmp_path: Path, hold: float) -> dict[str, float]:
    """Use the broker, freeze it, ingest more (each within a deadline), thaw it, check the outcome.

    The broker stays frozen for ``BATCHES_FROZEN`` batches (back to back) and at least ``hold`` seconds
    (more batches, paced, meanwhile).
    """
    assert rt.pipeline is not None and rt.relay is not None and rt.engine is not None
    pipeline, relay, engine = rt.pipeline, rt.relay, rt.engine
    recorded = tmp_path / f"{PLUGIN}.jsonl"
    more: Callable[[], str] = lambda: diagnostics(rt, broker, tmp_path)  # noqa: E731
    batches = agent_batches()
    keys: list[str] = []

    def ingest() -> IngestResult:
        # A deadline on the commit: ``Pipeline.ingest`` is ``submit(...).result()`` without one.
        result = pipeline.submit(next(batches)).result(timeout=INGEST_DEADLINE)
        assert not result.errors, result.errors
        keys.extend(result.delivery_keys)
        return result

    # 1. The broker in use: deliveries published right after their commit and run by the workers, so the
    #    relay holds an open connection (the one the publisher thread and the relay rounds share).
    rt.wait_workers_ready()
    while len(keys) < 10:
        ingest()
    assert relay.flush_published(30), "the first deliveries were not published"
    wait_for(lambda: rt.counts().deliveries.get("succeeded", 0) >= 1, 30, "a hook call before the freeze", more)
    assert relay.eager.messages > 0 and relay.eager.failed == 0, relay.eager
    assert relay._connection is not None, "the relay holds no broker connection to hang on"
    before = rt.counts()
    slowest = 0.0
    written = 0
    frozen_keys: list[str] = []

    # 2. The broker hangs: ingest goes on, each batch committed within the deadline.
    pace = threading.Event()  # never set: load shaping between batches, not synchronisation
    broker.freeze()
    t_frozen = time.monotonic()
    try:
        batches_frozen = 0
        while batches_frozen < BATCHES_FROZEN or time.monotonic() - t_frozen < hold:
            if batches_frozen >= BATCHES_FROZEN:
                pace.wait(FEED_PACE)
            t0 = time.monotonic()
            result = ingest()
            slowest = max(slowest, time.monotonic() - t0)
            written += result.events_written
            frozen_keys += result.delivery_keys
            batches_frozen += 1
        assert frozen_keys, "no delivery created while the broker hung"
        with session_scope(engine, write=False) as db:
            stored = {d.idempotency_key for d in list_deliveries(db, plugin=PLUGIN, limit=1_000_000)}
        assert not set(frozen_keys) - stored, "deliveries of committed batches are missing in the database"
        assert rt.counts().events == before.events + written, "events of committed batches are missing"
        # Not a vacuous pass: the publisher really is stuck on the broker (it cannot publish for a second).
        assert not relay.flush_published(1.0), "the publisher got through to a frozen broker"
    finally:
        broker.thaw()
    frozen_s = time.monotonic() - t_frozen

    # 3. The broker is back: everything handed over is published, every delivery runs.
    t_thawed = time.monotonic()
    assert relay.flush_published(60), "the publisher did not resume after the broker came back"
    counts = rt.wait_finished(90)
    assert counts.finished == counts.total_deliveries, more()
    numbers = check_outcome(rt, keys, read(recorded))
    numbers.update(
        ingested_while_frozen=batches_frozen,
        deliveries_while_frozen=len(frozen_keys),
        slowest_ingest_s=round(slowest, 3),
        frozen_s=round(frozen_s, 1),
        finished_after_s=round(time.monotonic() - t_thawed, 1),
        publish_failed=publish_failures(relay),
        requeued=relay.totals.requeued,
    )
    print(f"broker frozen ({broker.kind}): {numbers}")
    return numbers


# ---------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_redis_restarted_mid_stream_loses_nothing(
    stop_signal: signal.Signals,
    private_redis: PrivateRedis,
    runtime_factory: RuntimeFactory,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    rt = runtime_factory(restart_env(tmp_path, postgres_url, private_redis), workers=2, concurrency=1)
    with rt:
        numbers, _ = run_restart(rt, private_redis, tmp_path, stop_signal)
    # Without persistence the restarted Redis held none of the waiting messages: the outbox brought
    # their deliveries back (stale requeue), which is what this test is about.
    assert numbers["requeued"] >= 1, numbers


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "sigkill"])
def test_rabbitmq_restarted_mid_stream_loses_nothing(
    stop_signal: signal.Signals,
    private_rabbitmq: PrivateRabbitMQ,
    runtime_factory: RuntimeFactory,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    rt = runtime_factory(restart_env(tmp_path, postgres_url, private_rabbitmq), workers=2, concurrency=1)
    with rt:
        run_restart(rt, private_rabbitmq, tmp_path, stop_signal)
        listed = private_rabbitmq.rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "durable")
    assert f"{rt.options.queue}\ttrue" in listed.splitlines(), listed


def test_rabbitmq_keeps_published_messages_across_restarts(
    private_rabbitmq: PrivateRabbitMQ, runtime_factory: RuntimeFactory, tmp_path: Path, postgres_url: str
) -> None:
    """Published, not yet consumed messages survive a graceful stop and a SIGKILL of the node."""
    rt = runtime_factory(restart_env(tmp_path, postgres_url, private_rabbitmq), workers=2, concurrency=1)
    rt.start(start_workers=False, start_relay=False)
    assert rt.pipeline is not None and rt.relay is not None
    keys: list[str] = []
    for index, name in enumerate(SCENARIOS):
        keys += rt.pipeline.ingest(inputs_for(f"{name}-{index}", scenario(name))).delivery_keys
    # Publish what can go (a contact's later deliveries wait in the outbox for the earlier ones).
    # The pipeline publishes a batch's deliveries after its commit (``Relay.eager``); relay rounds the rest.
    assert rt.relay.flush_published(30)
    claimed = 1
    while claimed:
        r = rt.relay.run_once()
        assert r.error is None, r.error
        claimed = r.claimed
    rt.relay.close()
    eager = getattr(rt.relay, "eager", None)
    assert eager is None or eager.failed == 0, eager
    messages = rt.relay.totals.messages + (eager.messages if eager is not None else 0)
    assert messages > 0
    queue = rt.options.queue
    assert queue_depth(private_rabbitmq.url, queue) == messages
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        private_rabbitmq.stop(stop_signal)
        private_rabbitmq.start()
        assert queue_depth(private_rabbitmq.url, queue) == messages, f"messages lost by {stop_signal.name}"
    for index in range(rt.workers):
        rt.start_worker(f"hub{index}-restart")
    rt.relay.start()
    counts = rt.wait_finished(60)
    assert counts.deliveries == {"succeeded": len(keys)}, counts
    rt.stop()
    done = {line["key"] for line in read(tmp_path / f"{PLUGIN}.jsonl") if line["phase"] == "done"}
    assert done == set(keys)


#: How long the broker stays frozen at least: ``brief``, or past ``relay.stale_after`` (the relay's stale
#: requeue then meets deliveries still waiting in the publisher thread, or published late).
FREEZES = {"brief": lambda kind: 0.0, "past_stale": lambda kind: STALE_AFTER[kind] + 2.0}


@pytest.mark.parametrize("freeze", list(FREEZES))
def test_redis_frozen_ingest_goes_on(
    freeze: str, private_redis: PrivateRedis, runtime_factory: RuntimeFactory, tmp_path: Path, postgres_url: str
) -> None:
    """A hung Redis (SIGSTOP) stalls publishing, not ingest; after SIGCONT every delivery runs."""
    rt = runtime_factory(restart_env(tmp_path, postgres_url, private_redis), workers=2, concurrency=1)
    with rt:
        run_freeze(rt, private_redis, tmp_path, FREEZES[freeze](private_redis.kind))


@pytest.mark.parametrize("freeze", list(FREEZES))
def test_rabbitmq_frozen_ingest_goes_on(
    freeze: str, private_rabbitmq: PrivateRabbitMQ, runtime_factory: RuntimeFactory, tmp_path: Path, postgres_url: str
) -> None:
    """A hung RabbitMQ node (SIGSTOP: no publisher confirm comes) stalls publishing, not ingest."""
    rt = runtime_factory(restart_env(tmp_path, postgres_url, private_rabbitmq), workers=2, concurrency=1)
    with rt:
        run_freeze(rt, private_rabbitmq, tmp_path, FREEZES[freeze](private_rabbitmq.kind))


def test_workers_retry_the_broker_forever(runtime_factory: RuntimeFactory, tmp_path: Path, sqlite_url: str) -> None:
    """A worker never gives up reconnecting (Celery's default: exit after 100 attempts, ~45 minutes)."""
    rt = runtime_factory(
        make_env(tmp_path, sqlite_url, "redis://127.0.0.1:1/0", [PLUGIN], HUB_PLUGINS__MODULES=f'["{PLUGIN}"]')
    )
    assert create_app(rt.options).conf.broker_connection_max_retries is None
