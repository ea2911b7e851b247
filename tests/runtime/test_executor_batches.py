"""The executor's batches, in-process on SQLite and PostgreSQL: one claim and one record transaction per
group, a failure stopping its group with the attempts of the rest given back, dead letters not blocking,
a group behind an in-flight delivery deferred and drained in order, redeliveries after a lost worker,
the time budget, and the ``SIGALRM`` hook timeout (main thread) with its thread fallback."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.config import WorkersSettings, load_settings
from hub.db import create_engine_from_url, list_dead_letters, list_deliveries, session_scope, upgrade
from hub.db._models import DELIVERIES
from hub.hookspecs import hookimpl
from hub.plugins import HubPlugins
from hub.runtime import Executor, HookTimeoutError, Pipeline, ordering_key
from hub.runtime._celery import task_time_limits

from .test_workers import inputs_for, scenario

PLUGIN = "scripted"
STATES = ["Available", "PendingBusy", "Busy", "AfterCallWork", "Available"]


class Scripted:
    """Records each ``on_agent_state_change`` call; ``before`` runs first (may raise or block)."""

    CONNECT_HUB_API = "1.0"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []
        self.before: Callable[[Any, Any], None] | None = None

    @hookimpl
    def on_agent_state_change(self, agent: Any, change: Any, ctx: Any) -> None:
        """Record the call (key, attempt, new state)."""
        if self.before is not None:
            self.before(ctx, change)
        self.calls.append((ctx.idempotency_key, ctx.attempt, change.new_state))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    upgrade(url)
    engine = create_engine_from_url(url)
    yield engine
    engine.dispose()


@pytest.fixture
def scripted() -> Scripted:
    """The test plugin object."""
    return Scripted()


@pytest.fixture
def plugins(scripted: Scripted) -> HubPlugins:
    """Only the scripted plugin, registered in-process."""
    hub_plugins = HubPlugins()
    hub_plugins.load(load_settings(), entry_points=[])
    hub_plugins.register(scripted, name=PLUGIN)
    return hub_plugins


def workers(max_attempts: int = 3, timeout: float = 5.0) -> WorkersSettings:
    """Worker settings with fast backoff."""
    return WorkersSettings(2, max_attempts, 0.01, 0.02, timeout, {}, {})


def state_changes(engine: Engine, plugins: HubPlugins) -> list[int]:
    """Ingest the inbound voice scenario; the ids of the plugin's 5 state-change deliveries, all ``queued``."""
    Pipeline(engine, plugins).ingest(inputs_for("jane", scenario("inbound_voice")))
    with session_scope(engine) as db:
        ids = [d.id for d in list_deliveries(db, plugin=PLUGIN, ordering_key=ordering_key("jane", None), limit=100)]
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id.in_(ids)).values(status="queued"))
    assert len(ids) == len(STATES)
    return ids


def rows(engine: Engine, ids: list[int]) -> list[Any]:
    """The deliveries, by id."""
    with session_scope(engine, write=False) as db:
        by_id = {d.id: d for d in list_deliveries(db, plugin=PLUGIN, limit=1000)}
    return [by_id[i] for i in ids]


def count_commits(engine: Engine) -> list[int]:
    """A one-element list counting the engine's commits from now on."""
    counter = [0]

    def on_commit(_conn: Any) -> None:
        counter[0] += 1

    sa.event.listen(engine, "commit", on_commit)
    return counter


def test_a_group_is_claimed_and_recorded_in_two_transactions(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)
    commits = count_commits(engine)
    outcome = Executor(engine, plugins, workers()).run_message([ids])
    assert commits[0] == 2  # the claim; the record (which also found nothing more to drain)
    assert outcome.succeeded == len(ids) and outcome.ran == ids
    assert [new for _key, _attempt, new in scripted.calls] == STATES
    done = rows(engine, ids)
    assert {(d.status.value, d.attempts) for d in done} == {("succeeded", 1)}
    assert all(d.started_at is not None and d.finished_at is not None and d.duration_ms is not None for d in done)
    assert [d.started_at for d in done] == sorted(d.started_at for d in done)  # each hook's own start time


def test_a_failure_stops_its_group_and_gives_the_claimed_attempts_back(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)
    failed = {"n": 0}

    def fail_busy_once(_ctx: Any, change: Any) -> None:
        if change.new_state == "Busy" and failed["n"] == 0:
            failed["n"] += 1
            raise RuntimeError("busy backend down")

    scripted.before = fail_busy_once
    executor = Executor(engine, plugins, workers())
    outcome = executor.run_message([ids])
    assert (outcome.succeeded, outcome.retrying, outcome.ran) == (2, 1, ids[:3])
    first, second, busy, acw, last = rows(engine, ids)
    assert (first.status.value, second.status.value) == ("succeeded", "succeeded")
    assert (busy.status.value, busy.attempts) == ("retrying", 1)
    assert busy.last_error == "RuntimeError: busy backend down"
    # Claimed with the group but not run: pending again, attempt count restored, due with the retry.
    assert [(d.status.value, d.attempts) for d in (acw, last)] == [("pending", 0), ("pending", 0)]
    assert acw.next_attempt_at == last.next_attempt_at == busy.next_attempt_at
    # The relay publishes the retry when due; it runs, then the rest is drained in order.
    with session_scope(engine) as db:
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id == busy.id).values(status="queued"))
    outcome = executor.run_message([[busy.id]])
    assert outcome.ran == ids[2:]
    assert [(new, attempt) for _key, attempt, new in scripted.calls] == [
        ("Available", 1),
        ("PendingBusy", 1),
        ("Busy", 2),
        ("AfterCallWork", 1),
        ("Available", 1),
    ]
    assert [d.attempts for d in rows(engine, ids)] == [1, 1, 2, 1, 1]


def test_a_dead_letter_does_not_block_the_rest_of_its_group(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)

    def fail_busy(_ctx: Any, change: Any) -> None:
        if change.new_state == "Busy":
            raise RuntimeError("never works")

    scripted.before = fail_busy
    outcome = Executor(engine, plugins, workers(max_attempts=1)).run_message([ids])
    assert (outcome.succeeded, outcome.dead, outcome.retrying) == (4, 1, 0)
    assert [d.status.value for d in rows(engine, ids)] == ["succeeded", "succeeded", "dead", "succeeded", "succeeded"]
    with session_scope(engine, write=False) as db:
        (letter,) = list_dead_letters(db, plugin=PLUGIN)
    assert letter.delivery_id == ids[2]
    assert "attempts exhausted (1/1)" in letter.reason


def test_a_group_behind_an_in_flight_delivery_is_deferred_then_drained_in_order(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    """Two messages of one key (as the ingest publishes them right after each commit) on two workers.

    While the first message's first hook runs, the second message arrives at another worker: its order
    check sees the earlier deliveries in flight and hands its group back without consuming attempts;
    the first worker then drains it, in order.
    """
    ids = state_changes(engine, plugins)
    first, second = ids[:2], ids[2:]
    other_worker = Executor(engine, plugins, workers())
    seen: list[Any] = []

    def meanwhile(_ctx: Any, change: Any) -> None:
        if not seen:
            seen.append(other_worker.run_message([second]))
            seen.append(rows(engine, second))

    scripted.before = meanwhile
    outcome = Executor(engine, plugins, workers()).run_message([first])
    blocked, deferred_rows = seen
    assert (blocked.deferred, blocked.ran, blocked.succeeded) == (3, [], 0)
    assert {(d.status.value, d.attempts) for d in deferred_rows} == {("pending", 0)}
    assert outcome.ran == ids
    assert [new for _key, _attempt, new in scripted.calls] == STATES
    assert {(d.status.value, d.attempts) for d in rows(engine, ids)} == {("succeeded", 1)}


def test_a_redelivered_batch_runs_one_lost_delivery_at_a_time(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    """A worker died mid-batch: its rows are still ``running`` (attempt counted); the redelivery runs them
    again one at a time, and a delivery whose worker was lost at every attempt becomes a dead letter."""
    ids = state_changes(engine, plugins)
    with session_scope(engine) as db:
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id.in_(ids)).values(status="running", attempts=1))
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id == ids[0]).values(attempts=3))
    commits = count_commits(engine)
    outcome = Executor(engine, plugins, workers(max_attempts=3)).run_message([ids])
    assert (outcome.dead, outcome.succeeded) == (1, 4)
    assert commits[0] == 2 * len(ids)  # one claim and one record per lost delivery
    assert [new for _key, _attempt, new in scripted.calls] == STATES[1:]
    assert {attempt for _key, attempt, _new in scripted.calls} == {2}
    first, *rest = rows(engine, ids)
    assert (first.status.value, first.attempts) == ("dead", 4)
    assert "worker process running the last attempt was lost" in (first.last_error or "")
    assert {(d.status.value, d.attempts) for d in rest} == {("succeeded", 2)}


def test_past_the_time_budget_the_rest_goes_back_without_an_attempt(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)
    scripted.before = lambda _ctx, _change: time.sleep(0.6)
    outcome = Executor(engine, plugins, workers(), time_budget=0.5).run_message([ids])
    assert outcome.ran == ids[:1]
    done = rows(engine, ids)
    assert (done[0].status.value, done[0].attempts) == ("succeeded", 1)
    assert {(d.status.value, d.attempts) for d in done[1:]} == {("pending", 0)}


def test_a_message_arriving_past_its_budget_goes_back_whole(engine: Engine, plugins: HubPlugins) -> None:
    ids = state_changes(engine, plugins)
    outcome = Executor(engine, plugins, workers(), time_budget=0.0).run_message([ids[:2], ids[2:]])
    assert (outcome.ran, outcome.deferred) == ([], len(ids))
    assert {(d.status.value, d.attempts) for d in rows(engine, ids)} == {("pending", 0)}


def test_a_hung_hook_on_the_main_thread_is_interrupted(
    engine: Engine, plugins: HubPlugins, scripted: Scripted, tmp_path: Path
) -> None:
    """``time.sleep(3600)`` with a 0.5 s timeout: the sleep is interrupted (its ``finally`` runs), the
    delivery is retried as for any failure, and the SIGALRM handler and timer in place are restored."""
    ids = state_changes(engine, plugins)
    marker = tmp_path / "interrupted"

    def hang(_ctx: Any, change: Any) -> None:
        if change.new_state == "PendingBusy":
            try:
                time.sleep(3600)
            finally:
                marker.write_text("the sleep was interrupted")

    scripted.before = hang
    assert threading.current_thread() is threading.main_thread()
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, _frame: fired.append(signum))
    previous_timer = signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        started = time.monotonic()
        outcome = Executor(engine, plugins, workers(timeout=0.5)).run_message([ids])
        elapsed = time.monotonic() - started
        handler_after = signal.getsignal(signal.SIGALRM)
        remaining, _interval = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.signal(signal.SIGALRM, previous)
        signal.setitimer(signal.ITIMER_REAL, *previous_timer)
    assert marker.read_text() == "the sleep was interrupted"
    assert elapsed < 30
    assert (outcome.succeeded, outcome.retrying) == (1, 1)
    hung = rows(engine, ids)[1]
    assert (hung.status.value, hung.attempts) == ("retrying", 1)
    assert hung.last_error == "HookTimeoutError: hook did not return within 0.5s"
    assert handler_after is not previous and not fired  # the test's handler is back, and did not fire
    assert 100.0 - elapsed - 1 < remaining <= 100.0  # its timer re-armed with the time left


def test_a_hook_swallowing_the_timeout_still_timed_out(engine: Engine, plugins: HubPlugins, scripted: Scripted) -> None:
    ids = state_changes(engine, plugins)

    def swallow(_ctx: Any, change: Any) -> None:
        if change.new_state == "Available":
            with contextlib.suppress(HookTimeoutError):
                time.sleep(3600)

    scripted.before = swallow
    outcome = Executor(engine, plugins, workers(timeout=0.2)).run_message([ids])
    assert (outcome.succeeded, outcome.retrying) == (0, 1)
    assert rows(engine, ids)[0].last_error == "HookTimeoutError: hook did not return within 0.2s"


def test_off_the_main_thread_a_hung_hook_is_abandoned_in_a_thread(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)
    release = threading.Event()
    hook_threads: list[str] = []

    def hang(_ctx: Any, change: Any) -> None:
        hook_threads.append(threading.current_thread().name)
        if change.new_state == "Available" and len(hook_threads) == 1:
            release.wait(60)

    scripted.before = hang
    box: list[Any] = []
    runner = threading.Thread(
        target=lambda: box.append(Executor(engine, plugins, workers(timeout=0.3)).run_message([ids]))
    )
    try:
        runner.start()
        runner.join(60)
        (outcome,) = box
        assert (outcome.succeeded, outcome.retrying) == (0, 1)
        assert rows(engine, ids)[0].last_error == "HookTimeoutError: hook did not return within 0.3s"
        assert hook_threads == [f"hook:{PLUGIN}.on_agent_state_change"]
    finally:
        release.set()


def test_task_time_limits_stay_under_the_stale_requeue() -> None:
    settings = WorkersSettings(2, 8, 1.0, 300.0, 30.0, {}, {"slow": 60.0})
    budget, hard = task_time_limits(settings, stale_after=2 * 60 + 30)
    assert hard == 145.0 and budget == 80.0  # stale_after - 5 s; hard - longest hook timeout - 5 s
    budget, hard = task_time_limits(WorkersSettings(2, 8, 1.0, 300.0, 5.0, {}, {}), stale_after=10)
    assert hard == 20.0 and budget == 10.0  # never under 2 x the longest hook timeout + 10 s


def test_executor_runs_on_a_fresh_engine_too(tmp_path: Path, plugins: HubPlugins, scripted: Scripted) -> None:
    """An executor without a held connection (``release`` after an error) works on its own engine."""
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    upgrade(url)
    engine = create_engine_from_url(url)
    try:
        ids = state_changes(engine, plugins)
        executor = Executor(engine, plugins, workers())
        assert executor.release(ids) == len(ids)
        assert {d.status.value for d in rows(engine, ids)} == {"pending"}
    finally:
        engine.dispose()
