"""Outbox relay and worker bookkeeping, ordering per key, dead letters."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import (
    DeadLetter,
    DeliveryRecord,
    DeliveryStatus,
    claim_due_deliveries,
    fetch_due_deliveries,
    get_delivery,
    is_next_in_order,
    list_dead_letters,
    list_deliveries,
    mark_deferred,
    mark_failed,
    mark_queued,
    mark_running,
    mark_succeeded,
    next_in_order,
    requeue_stale,
    retry_dead_letters,
    session_scope,
    write_batch,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def t(seconds: float) -> dt.datetime:
    """T0 plus some seconds."""
    return T0 + dt.timedelta(seconds=seconds)


def add(engine: Engine, *records: DeliveryRecord) -> list[int]:
    """Write deliveries at T0; return their ids."""
    with session_scope(engine) as session:
        return write_batch(session, deliveries=list(records), now=T0).delivery_ids


def rec(key: str, plugin: str = "p", ordering_key: str | None = "c1", **kw: object) -> DeliveryRecord:
    """A delivery record."""
    return DeliveryRecord(
        plugin=plugin, hook="on_event", idempotency_key=key, ordering_key=ordering_key, contact_id=ordering_key, **kw
    )  # type: ignore[arg-type]


def status(engine: Engine, delivery_id: int) -> DeliveryStatus:
    """Current status of a delivery."""
    with session_scope(engine, write=False) as session:
        view = get_delivery(session, delivery_id)
        assert view is not None
        return view.status


def test_due_deliveries_oldest_first_and_not_before_their_time(engine: Engine) -> None:
    ids = add(engine, rec("k1"), rec("k2", next_attempt_at=t(60)), rec("k3", ordering_key=None))
    with session_scope(engine) as session:
        due = fetch_due_deliveries(session, 10, now=t(1))
    assert [d.id for d in due] == [ids[0], ids[2]]
    with session_scope(engine) as session:
        assert [d.id for d in fetch_due_deliveries(session, 10, now=t(60))] == ids
        assert [d.id for d in fetch_due_deliveries(session, 2, now=t(60))] == ids[:2]


def test_claim_marks_queued_and_is_not_returned_again(engine: Engine) -> None:
    ids = add(engine, rec("k1"), rec("k2"))
    with session_scope(engine) as session:
        claimed = claim_due_deliveries(session, 10, now=t(1))
    assert [d.id for d in claimed] == ids
    assert claimed[0].idempotency_key == "k1"
    with session_scope(engine) as session:
        assert fetch_due_deliveries(session, 10, now=t(2)) == []
        (view,) = list_deliveries(session, status=DeliveryStatus.QUEUED, after_id=ids[0])
    assert view.id == ids[1]
    assert view.queued_at == t(1)


def test_worker_lifecycle_success(engine: Engine) -> None:
    (did,) = add(engine, rec("k1"))
    with session_scope(engine) as session:
        mark_queued(session, [did], now=t(1))
        assert mark_running(session, did, now=t(2)) == 1
        assert mark_succeeded(session, did, now=t(2.25))
    with session_scope(engine, write=False) as session:
        view = get_delivery(session, did)
    assert view is not None
    assert (view.status, view.attempts, view.started_at, view.finished_at) == ("succeeded", 1, t(2), t(2.25))
    assert view.duration_ms == pytest.approx(250)


def test_duplicate_message_after_success_does_not_run_again(engine: Engine) -> None:
    (did,) = add(engine, rec("k1"))
    with session_scope(engine) as session:
        assert mark_running(session, did) == 1
        assert mark_succeeded(session, did)
    with session_scope(engine) as session:
        assert mark_running(session, did) is None
        assert not mark_succeeded(session, did)
        assert not mark_failed(session, did, "late failure", dead=True)
    assert status(engine, did) is DeliveryStatus.SUCCEEDED
    with session_scope(engine) as session:
        assert mark_running(session, 10_000) is None


def test_redelivery_after_worker_loss_counts_a_new_attempt(engine: Engine) -> None:
    (did,) = add(engine, rec("k1"))
    with session_scope(engine) as session:
        assert mark_running(session, did) == 1
    with session_scope(engine) as session:  # the worker died; the broker redelivers
        assert mark_running(session, did) == 2
        assert mark_running(session, did, attempt=1) == 2  # an explicit attempt never lowers the count
        assert mark_running(session, did, attempt=5) == 5


def test_failure_schedules_a_retry(engine: Engine) -> None:
    (did,) = add(engine, rec("k1"))
    with session_scope(engine) as session:
        claim_due_deliveries(session, 10, now=t(1))
        mark_running(session, did, now=t(2))
        assert mark_failed(session, did, "ValueError: boom", t(30), now=t(3))
    with session_scope(engine) as session:
        assert fetch_due_deliveries(session, 10, now=t(29)) == []
        (due,) = fetch_due_deliveries(session, 10, now=t(30))
    assert (due.id, due.status, due.attempts, due.last_error) == (did, "retrying", 1, "ValueError: boom")
    assert due.duration_ms == pytest.approx(1000)


def test_dead_letters_are_listed_filtered_and_retried(engine: Engine) -> None:
    ids = add(engine, rec("k1", plugin="crm"), rec("k2", plugin="crm", ordering_key="c2"), rec("k3", plugin="log"))
    with session_scope(engine) as session:
        for did in ids:
            mark_running(session, did, attempt=3, now=t(1))
            assert mark_failed(session, did, f"attempts exhausted ({did})", dead=True, now=t(2))
    assert status(engine, ids[0]) is DeliveryStatus.DEAD
    with session_scope(engine) as session:
        assert fetch_due_deliveries(session, 10, now=t(100)) == []
        letters = list_dead_letters(session)
        crm = list_dead_letters(session, plugin="crm")
    assert [d.delivery_id for d in letters] == ids
    assert [d.delivery_id for d in crm] == ids[:2]
    assert letters[0].reason == f"attempts exhausted ({ids[0]})"
    assert letters[0].attempts == 3
    assert letters[0].created_at == t(2)

    with session_scope(engine) as session:
        assert retry_dead_letters(session, ids=[crm[0].id], now=t(10)) == [ids[0]]
        assert retry_dead_letters(session, ids=[crm[0].id], now=t(11)) == []  # already retried
        remaining = list_dead_letters(session)
        history = list_dead_letters(session, include_retried=True)
        (due,) = fetch_due_deliveries(session, 10, now=t(10))
    assert [d.delivery_id for d in remaining] == ids[1:]
    assert history[0].retried_at == t(10)
    assert (due.id, due.status, due.attempts, due.idempotency_key) == (ids[0], "pending", 0, "k1")

    with session_scope(engine) as session:  # everything left, by plugin
        assert retry_dead_letters(session, plugin="log") == [ids[2]]
        assert retry_dead_letters(session) == [ids[1]]
        assert list_dead_letters(session) == []


def test_a_retried_letter_that_dies_again_shows_twice_in_history(engine: Engine) -> None:
    (did,) = add(engine, rec("k1"))
    for round_ in range(2):
        with session_scope(engine) as session:
            mark_running(session, did)
            mark_failed(session, did, f"round {round_}", dead=True)
        with session_scope(engine) as session:
            retry_dead_letters(session)
    with session_scope(engine, write=False) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DeadLetter)) == 2
        assert [d.reason for d in list_dead_letters(session, include_retried=True)] == ["round 0", "round 1"]


def test_ordering_per_key_and_plugin(engine: Engine) -> None:
    a1, a2, b1, a3, other = add(
        engine, rec("a1"), rec("a2"), rec("b1", plugin="q"), rec("a3"), rec("x", ordering_key="c2")
    )
    with session_scope(engine) as session:
        assert next_in_order(session, "c1", "p") == a1
        assert next_in_order(session, "c1", "q") == b1
        assert [is_next_in_order(session, i) for i in (a1, a2, b1, a3, other)] == [True, False, True, False, True]
        heads = fetch_due_deliveries(session, 10, now=t(1), heads_only=True)
        assert [d.id for d in heads] == [a1, b1, other]
        mark_running(session, a1)
        mark_succeeded(session, a1)
        assert next_in_order(session, "c1", "p") == a2
        assert is_next_in_order(session, a2)
        # A dead letter does not block the key.
        mark_running(session, a2)
        mark_failed(session, a2, "dead", dead=True)
        assert is_next_in_order(session, a3)
        # A retrying delivery does.
        retry_dead_letters(session)
        assert not is_next_in_order(session, a3)
        mark_running(session, a2)
        mark_succeeded(session, a2)
        mark_running(session, a3)
        mark_succeeded(session, a3)
        assert next_in_order(session, "c1", "p") is None


def test_stale_queued_and_running_deliveries_are_requeued(engine: Engine) -> None:
    queued, running, fresh, done = add(engine, rec("k1"), rec("k2"), rec("k3"), rec("k4"))
    with session_scope(engine) as session:
        mark_queued(session, [queued, running, done], now=t(0))
        mark_running(session, running, now=t(10))
        mark_running(session, done, now=t(10))
        mark_succeeded(session, done, now=t(11))
        mark_queued(session, [fresh], now=t(95))
    with session_scope(engine) as session:
        assert requeue_stale(session, older_than=dt.timedelta(seconds=60), now=t(100)) == [queued, running]
        assert [d.id for d in fetch_due_deliveries(session, 10, now=t(100))] == [queued, running]
    assert status(engine, fresh) is DeliveryStatus.QUEUED
    assert status(engine, done) is DeliveryStatus.SUCCEEDED


def test_list_deliveries_filters(engine: Engine) -> None:
    ids = add(engine, rec("k1", plugin="crm"), rec("k2", plugin="log", ordering_key="c2"), rec("k3", plugin="crm"))
    with session_scope(engine) as session:
        mark_running(session, ids[0])
        mark_succeeded(session, ids[0])

        def listed(**kw: object) -> list[int]:
            return [d.id for d in list_deliveries(session, **kw)]  # type: ignore[arg-type]

        assert listed() == ids
        assert listed(plugin="crm") == [ids[0], ids[2]]
        assert listed(contact_id="c2") == [ids[1]]
        assert listed(status="pending") == ids[1:]
        assert listed(status=["succeeded", DeliveryStatus.PENDING], plugin="crm") == [ids[0], ids[2]]
        assert listed(newest_first=True, limit=2) == [ids[2], ids[1]]
        assert listed(newest_first=True, after_id=ids[2]) == [ids[1], ids[0]]
        assert listed(since=t(1)) == []
        assert listed(hook="other") == []


def test_a_delivery_that_is_not_next_is_deferred_without_an_attempt(engine: Engine) -> None:
    first, second = add(engine, rec("k1"), rec("k2"))
    with session_scope(engine) as session:
        claim_due_deliveries(session, 10, now=t(1))
        assert not is_next_in_order(session, second)
        assert mark_deferred(session, second, until=t(5))
        assert not mark_deferred(session, second)  # no longer queued
        mark_running(session, first)
        mark_succeeded(session, first)
        assert fetch_due_deliveries(session, 10, now=t(4)) == []
        (due,) = fetch_due_deliveries(session, 10, now=t(5))
    assert (due.id, due.status, due.attempts) == (second, "pending", 0)


def test_prune_history_keeps_what_may_still_run(engine: Engine) -> None:
    from hub.db import AgentRow, EventRecord, StateChange, list_events, prune_history

    def ev(seq: int) -> EventRecord:
        return EventRecord(name="agent::state_change", occurred_at=t(seq), source="t", agent_key="a1", seq=seq)

    with session_scope(engine) as session:
        write_batch(
            session,
            agents=[AgentRow(key="a1", snapshot_at=t(0))],
            state_changes=[StateChange(agent_key="a1", new_state="Available", occurred_at=t(0))],
            events=[ev(1), ev(2), ev(3), ev(500)],
            deliveries=[
                rec("done", event_ref=("a1", 1)),
                rec("dead", event_ref=("a1", 2)),
                rec("pending", event_ref=("a1", 3)),
            ],
            now=T0,
        )
        done, dead, _pending = (d.id for d in list_deliveries(session))
        mark_running(session, done, now=t(5))
        mark_succeeded(session, done, now=t(6))
        mark_running(session, dead, now=t(5))
        mark_failed(session, dead, "boom", dead=True, now=t(6))
    with session_scope(engine) as session:
        counts = prune_history(session, before=t(100))
        left = [e.seq for e in list_events(session)]
        deliveries = [d.idempotency_key for d in list_deliveries(session)]
    assert counts == {"deliveries": 1, "events": 1, "agent_state_history": 1, "ingest_receipts": 0}
    assert left == [2, 3, 500]
    assert deliveries == ["dead", "pending"]
