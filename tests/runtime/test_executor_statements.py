"""The executor's list statements on SQLite (expanding ``IN``, executemany) and PostgreSQL (array
parameters, one ``UPDATE ... FROM unnest`` for the successes), on the paths the batch tests do not
take on both: progress recorded between hooks (``touch``), orphans given back, ``release``, and a
success not overwriting a delivery finished meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import create_engine_from_url, session_scope, upgrade
from hub.db._models import DELIVERIES
from hub.plugins import HubPlugins
from hub.runtime import Executor
from hub.runtime import _executor as executor_module

from .test_executor_batches import STATES, Scripted, engine, plugins, rows, scripted, state_changes, workers

__all__ = ["engine", "plugins", "scripted"]  # the fixtures, shared with the batch tests

_d = DELIVERIES.c


def started_at(engine: Engine, did: int) -> Any:
    """The delivery's ``started_at``."""
    with engine.connect() as conn:
        return conn.execute(sa.select(_d.started_at).where(_d.id == did)).scalar_one()


def test_a_long_batch_records_its_progress_and_refreshes_the_claimed_rows(
    engine: Engine, plugins: HubPlugins, scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_module, "FLUSH_SECONDS", 0.0)  # record (and touch) after every hook
    ids = state_changes(engine, plugins)
    seen: list[tuple[str, Any, Any]] = []

    def observe(_ctx: Any, _change: Any) -> None:
        (first, *_rest, last) = rows(engine, ids)
        seen.append((first.status.value, first.started_at, started_at(engine, last.id)))

    scripted.before = observe
    outcome = Executor(engine, plugins, workers()).run_message([ids])
    assert outcome.succeeded == len(ids) and outcome.ran == ids
    assert [new for _key, _attempt, new in scripted.calls] == STATES
    assert seen[0][0] == "running" and all(status == "succeeded" for status, _s, _l in seen[1:])
    claimed_at = seen[0][2]
    assert seen[1][2] > claimed_at  # the last row (not run yet) was touched by the first flush
    done = rows(engine, ids)
    assert {(d.status.value, d.attempts) for d in done} == {("succeeded", 1)}
    assert done[0].started_at == seen[1][1]  # recorded at the first flush, with its own start time
    assert [d.started_at for d in done] == sorted(d.started_at for d in done)
    assert all(d.duration_ms is not None and d.duration_ms >= 0 for d in done)


def test_a_success_does_not_overwrite_a_delivery_finished_meanwhile(
    engine: Engine, plugins: HubPlugins, scripted: Scripted
) -> None:
    ids = state_changes(engine, plugins)

    def finish_elsewhere(_ctx: Any, change: Any) -> None:
        if change.new_state == "Busy":  # e.g. an operator marked it dead while it ran
            with session_scope(engine) as db:
                db.execute(sa.update(DELIVERIES).where(_d.id == ids[2]).values(status="dead", last_error="by hand"))

    scripted.before = finish_elsewhere
    outcome = Executor(engine, plugins, workers()).run_message([ids])
    assert outcome.succeeded == len(ids)
    done = rows(engine, ids)
    assert [d.status.value for d in done] == ["succeeded", "succeeded", "dead", "succeeded", "succeeded"]
    assert done[2].last_error == "by hand" and done[2].finished_at is None


def test_orphans_of_a_lost_worker_go_back_with_their_attempts(engine: Engine, plugins: HubPlugins) -> None:
    ids = state_changes(engine, plugins)
    with session_scope(engine) as db:
        db.execute(sa.update(DELIVERIES).where(_d.id.in_(ids[2:])).values(status="running", attempts=2))
    outcome = Executor(engine, plugins, workers(), time_budget=0.0).run_message([ids])
    assert (outcome.ran, outcome.deferred) == ([], 2)
    assert [(d.status.value, d.attempts) for d in rows(engine, ids)] == [("pending", 0)] * 2 + [("pending", 2)] * 3


def test_release_hands_the_message_back(engine: Engine, plugins: HubPlugins) -> None:
    ids = state_changes(engine, plugins)
    executor = Executor(engine, plugins, workers())
    assert executor.release(ids[1:]) == len(ids) - 1
    assert [d.status.value for d in rows(engine, ids)] == ["queued"] + ["pending"] * (len(ids) - 1)


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database (the interleaving below cannot happen on SQLite, which runs one
    write transaction at a time)."""
    upgrade(postgres_url)
    engine = create_engine_from_url(postgres_url)
    yield engine
    engine.dispose()


def test_a_deferred_delivery_is_taken_once_the_earlier_ones_record_commits(
    postgres_engine: Engine, plugins: HubPlugins
) -> None:
    """The interleaving that left a deferred delivery to the relay's backstop on PostgreSQL.

    Worker A is recording the first delivery of a key (its transaction holds the row, and its drain
    read, before this worker's deferral committed, found nothing ready). Worker B, given the second,
    defers it because the first still reads as running; its re-check must wait for A's commit instead
    of reading the first as running once more, then take the second itself.
    """
    engine = postgres_engine
    ids = state_changes(engine, plugins)
    with session_scope(engine) as db:
        db.execute(sa.update(DELIVERIES).where(_d.id == ids[0]).values(status="running", attempts=1))
    with engine.connect() as worker_a, ThreadPoolExecutor(1) as pool:
        recording = worker_a.begin()
        worker_a.execute(sa.update(DELIVERIES).where(_d.id == ids[0]).values(status="succeeded"))
        outcome = pool.submit(Executor(engine, plugins, workers()).run_message, [[ids[1]]])
        with engine.connect() as monitor:  # B's re-check waits for A's row lock
            deadline = time.monotonic() + 30
            while not monitor.execute(sa.text(WAITING_ON_A_LOCK)).scalar_one() and not outcome.done():
                assert time.monotonic() < deadline, "worker B never waited for worker A"
                monitor.rollback()
        assert not outcome.done()
        recording.commit()
        result = outcome.result(30)
    assert result.deferred == 1 and result.ran == [ids[1]]
    assert [r.status.value for r in rows(engine, ids[:2])] == ["succeeded", "succeeded"]


WAITING_ON_A_LOCK = (
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)
