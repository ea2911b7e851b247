"""The sink derives the next request while the last one is written (:mod:`hub.ingest._writes`).

Each test holds the writer thread at a gate, lets requests derive behind it, then opens the gate, so
the overlap is certain rather than left to timing. What must hold: a failed write fails the requests
derived on top of it (503, nothing written), their retries store exactly what a first-time success
would; a request repeating an in-flight request's dedupe keys waits for it and is a duplicate; a
second hub process writing the same agent in between is detected, and the retry is correct.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import create_engine_from_url, upgrade
from hub.ingest import DatabaseSink
from hub.ingest._writes import WriteQueue
from hub.plugins import HubPlugins
from hub.sources.agent_events import AgentEvent, decode_agent_event
from hub.sources.errors import SourceUnavailableError

from .conftest import counts, rows
from .payloads import agent_arn, call_records
from .test_storage_failures import EXPECTED_CHANGES, failing_inserts


def decoded(records: list[dict[str, Any]]) -> list[AgentEvent]:
    """AES records as the Firehose endpoint hands them to the sink."""
    return [decode_agent_event(json.dumps(r)) for r in records]


class Gate:
    """Holds ``sink``'s writer thread until :meth:`open`; counts the requests queued behind it."""

    def __init__(self, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch) -> None:
        self._open = threading.Event()
        self._queued = threading.Semaphore(0)
        writes: WriteQueue = sink._writes
        original = writes.submit

        def submit(write: Callable[[], Any], **kwargs: Any) -> Future[Any]:
            future = original(write, **kwargs)
            self._queued.release()
            return future

        monkeypatch.setattr(writes, "submit", submit)
        self._held = threading.Thread(target=writes.run, args=(self._open.wait,), daemon=True)
        self._held.start()

    def queued(self, n: int) -> None:
        """Wait until ``n`` more requests were derived and queued behind the gate."""
        for _ in range(n):
            assert self._queued.acquire(timeout=30), "a request was not derived"

    def open(self) -> None:
        """Let the writer run."""
        self._open.set()
        self._held.join(30)


@contextmanager
def in_flight(calls: list[Callable[[], Any]]) -> Iterator[list[Future[Any]]]:
    """Run ``calls`` concurrently (each a request waiting for its commit)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        yield [pool.submit(call) for call in calls]


def state_changes(engine: Engine, agent: str | None = None) -> list[tuple[str, str]]:
    """(old, new) states of the stored state history, in time order (one agent's, or all)."""
    query = "SELECT agent_key, old_state, new_state FROM agent_state_history ORDER BY agent_key, occurred_at"
    return [(r["old_state"], r["new_state"]) for r in rows(engine, query) if agent is None or agent in r["agent_key"]]


def test_a_failed_write_fails_the_requests_derived_on_top_of_it(
    engine: Engine, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = call_records()[:3], call_records()[3:]  # one agent: the second builds on the first
    other = call_records(agent=2, contact_id="c-2")  # another agent, derived after the failure
    gate = Gate(sink, monkeypatch)
    with (
        failing_inserts(engine, "events"),
        in_flight(
            [
                lambda: sink.ingest_agent_events("r1", decoded(first)),
                lambda: sink.ingest_agent_events("r2", decoded(second)),
            ]
        ) as (r1, r2),
    ):
        gate.queued(2)
        gate.open()
        for request in (r1, r2):
            with pytest.raises(SourceUnavailableError):
                request.result(30)
    assert all(n == 0 for n in counts(engine).values()), "nothing half-written"
    # Firehose retries both (in any order: the first one late here); each is stored once, and the
    # sessions advanced by the failed derivations were rebuilt from the database.
    assert sink.ingest_agent_events("r2", decoded(second)).accepted == 2
    assert sink.ingest_agent_events("r1", decoded(first)).stale == 3  # older than the stored snapshot
    assert sink.ingest_agent_events("r3", decoded(other)).accepted == 5
    assert state_changes(engine, agent_arn(2)) == EXPECTED_CHANGES
    seqs = [r["seq"] for r in rows(engine, "SELECT seq FROM events WHERE agent_key = :a ORDER BY id", a=agent_arn(1))]
    assert seqs == list(range(1, len(seqs) + 1))


def test_requests_derived_in_order_are_written_in_order(
    engine: Engine, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = call_records()
    gate = Gate(sink, monkeypatch)
    futures = []
    for i in range(5):  # five requests derived one after the other, all waiting for their writes
        futures.append(threading_submit(lambda i=i: sink.ingest_agent_events(f"r{i}", decoded([records[i]]))))
        gate.queued(1)
    gate.open()
    results = [f.result(30) for f in futures]
    assert [r.accepted for r in results] == [1] * 5
    assert state_changes(engine) == EXPECTED_CHANGES
    seqs = [r["seq"] for r in rows(engine, "SELECT seq FROM events ORDER BY id")]
    assert seqs == list(range(1, len(seqs) + 1))


def threading_submit(call: Callable[[], Any]) -> Future[Any]:
    """Run ``call`` in a thread of its own; its future."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def test_a_repeated_request_waits_for_the_one_in_flight_and_is_a_duplicate(
    engine: Engine, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = decoded(call_records())
    gate = Gate(sink, monkeypatch)
    first = threading_submit(lambda: sink.ingest_agent_events("same", records))
    gate.queued(1)
    # Firehose gave up waiting and sent the request again: same requestId, same records
    again = threading_submit(lambda: sink.ingest_agent_events("same", records))
    # and a different request carrying two of the same records (record-level dedupe)
    overlap = threading_submit(lambda: sink.ingest_agent_events("other", records[3:]))
    gate.open()
    assert first.result(30).accepted == 5
    assert again.result(30).duplicate_request
    assert overlap.result(30).duplicates == 2
    assert state_changes(engine) == EXPECTED_CHANGES


def test_another_hub_process_writing_the_agent_in_between_is_detected(
    engine: Engine, plugins: HubPlugins, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = call_records()
    sink.ingest_agent_events("r0", decoded(records[:2]))
    gate = Gate(sink, monkeypatch)
    late = threading_submit(lambda: sink.ingest_agent_events("r2", decoded(records[3:4])))
    gate.queued(1)
    # meanwhile a second hub process applies the agent's next record
    DatabaseSink(engine, hooks=plugins).ingest_agent_events("r1", decoded(records[2:3]))
    gate.open()
    with pytest.raises(SourceUnavailableError):
        late.result(30)
    # the retry is derived from the stored agent (the other process's record included)
    assert sink.ingest_agent_events("r2", decoded(records[3:4])).accepted == 1
    assert sink.ingest_agent_events("r3", decoded(records[4:])).accepted == 1
    assert state_changes(engine) == EXPECTED_CHANGES
    seqs = [r["seq"] for r in rows(engine, "SELECT seq FROM events ORDER BY id")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_write_finishing_while_the_next_request_reads_is_not_a_conflict(
    engine: Engine, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending agent versions are taken before the read: SQLite's read snapshot, opened before
    the earlier write committed, must not make its agent look written by someone else."""
    import hub.ingest._dbsink as dbsink

    records = call_records()
    sink.ingest_agent_events("r0", decoded(records[:1]))
    gate = Gate(sink, monkeypatch)
    earlier = threading_submit(lambda: sink.ingest_agent_events("r1", decoded(records[1:3])))
    gate.queued(1)
    lookups = 0
    original = dbsink.stored_receipts

    def stored_receipts(db: Any, receipts: Any) -> Any:
        nonlocal lookups
        found = original(db, receipts)  # the read transaction (SQLite: its snapshot) is now open
        lookups += 1
        if lookups == 2:  # the next request's record lookup: let the earlier write commit now
            gate.open()
            earlier.result(30)
        return found

    monkeypatch.setattr(dbsink, "stored_receipts", stored_receipts)
    assert sink.ingest_agent_events("r2", decoded(records[3:4])).accepted == 1
    assert sink.ingest_agent_events("r3", decoded(records[4:])).accepted == 1
    assert earlier.result(30).accepted == 2
    assert state_changes(engine) == EXPECTED_CHANGES
    assert sink._writes.generation == 0, "no write failed"


def test_a_closed_sink_refuses_requests_instead_of_hanging(sink: DatabaseSink) -> None:
    sink.close()
    with pytest.raises(SourceUnavailableError):
        sink.ingest_agent_events("r1", decoded(call_records()[:1]))
    with pytest.raises(SourceUnavailableError):  # the keys of the refused request are not left pending
        sink.ingest_agent_events("r1", decoded(call_records()[:1]))


def test_events_found_written_at_write_time_fail_the_request(
    engine: Engine, sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last check of a write: every event it prepared is new. Two hub processes deriving the same
    new agent on PostgreSQL pass the version check (no row to lock yet); the second must not commit
    with its events skipped as duplicates of the first's."""
    gate = Gate(sink, monkeypatch)
    request = threading_submit(lambda: sink.ingest_agent_events("r1", decoded(call_records()[:1])))
    gate.queued(1)
    with engine.begin() as connection:  # what the other process's commit leaves: the agent's first event
        connection.execute(
            sa.text(
                "INSERT INTO events (agent_key, seq, name, occurred_at, source, recorded_at) "
                "VALUES (:a, 1, 'agent::init', CURRENT_TIMESTAMP, 'aes', CURRENT_TIMESTAMP)"
            ),
            {"a": agent_arn(1)},
        )
    gate.open()
    with pytest.raises(SourceUnavailableError):
        request.result(30)
    assert counts(engine)["ingest_receipts"] == 0, "nothing of the request committed"


def test_a_publisher_failing_after_the_commit_does_not_fail_the_request(engine: Engine, sink: DatabaseSink) -> None:
    def broken(_groups: list[list[int]]) -> None:
        raise RuntimeError("publisher thread could not start")

    sink.publisher = broken
    result = sink.ingest_agent_events("r1", decoded(call_records()))
    assert result.accepted == 5 and result.deliveries > 0
    # committed as queued: the relay's stale requeue publishes them
    assert {r["status"] for r in rows(engine, "SELECT DISTINCT status FROM deliveries")} == {"queued"}
    assert sink._writes.generation == 0


def _rows_in_database_file(path: Path) -> int:
    # immutable=1 reads the database file alone, ignoring the WAL
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as file_only:
        stored: int = file_only.execute("SELECT count(*) FROM events").fetchone()[0]
    return stored


@pytest.mark.parametrize("threshold_reached", [True, False])
def test_sqlite_is_checkpointed_after_an_answered_write_once_the_wal_holds_enough_pages(
    tmp_path: Path, threshold_reached: bool
) -> None:
    """The WAL is copied into the database file on the writer thread after a write is answered, once
    it holds ``checkpoint_pages`` pages, so SQLite's automatic checkpoint does not land inside a later
    request's commit, and pages changed by several writes are copied once."""
    path = tmp_path / "hub.db"
    upgrade(f"sqlite:///{path}")
    engine = create_engine_from_url(f"sqlite:///{path}")
    sink = DatabaseSink(engine, checkpoint_pages=1 if threshold_reached else 1_000_000)
    try:
        sink.ingest_agent_events("r1", decoded(call_records()))
        sink._writes.run(lambda: None)  # the work after the write is done
        events = counts(engine)["events"]
        assert events > 0
        assert _rows_in_database_file(path) == (events if threshold_reached else 0)
    finally:
        sink.close()
        engine.dispose()
