"""Batched writes: newer-only upserts with column merges, idempotent events and deliveries, receipts."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import (
    AgentRow,
    AgentStateHistory,
    ContactUpsert,
    Delivery,
    DeliveryRecord,
    Event,
    EventRecord,
    Receipt,
    StateChange,
    claim_receipts,
    get_contact,
    list_events,
    load_agents,
    prune_receipts,
    session_scope,
    write_batch,
)

T0 = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)


def t(seconds: float) -> dt.datetime:
    """T0 plus some seconds."""
    return T0 + dt.timedelta(seconds=seconds)


def upsert(engine: Engine, *contacts: ContactUpsert) -> None:
    """Write contact upserts, one transaction per call."""
    with session_scope(engine) as session:
        write_batch(session, contacts=list(contacts))


def contact(engine: Engine, contact_id: str = "c1") -> dict[str, object]:
    """The stored contact as a dict."""
    with session_scope(engine, write=False) as session:
        row = get_contact(session, contact_id)
        assert row is not None
        return {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs}


def test_contact_insert_then_newer_update_merges_columns(engine: Engine) -> None:
    upsert(
        engine,
        ContactUpsert(
            contact_id="c1", source_ts=t(0), source="streams", state="connected", queue_name="Sales", channel="VOICE"
        ),
    )
    upsert(
        engine,
        ContactUpsert(
            contact_id="c1",
            source_ts=t(60),
            source="ctr",
            state="ended",
            hold_duration_s=45,
            attributes={"crmCaseId": "CASE-1001"},
        ),
    )
    row = contact(engine)
    assert row["state"] == "ended"
    assert row["source"] == "ctr"
    assert row["source_ts"] == t(60)
    # Known values survive a newer input that lacks them.
    assert row["queue_name"] == "Sales"
    assert row["channel"] == "VOICE"
    assert row["hold_duration_s"] == 45
    assert row["attributes"] == {"crmCaseId": "CASE-1001"}


def test_stale_contact_input_never_overwrites_newer_data(engine: Engine) -> None:
    upsert(engine, ContactUpsert(contact_id="c1", source_ts=t(60), state="ended", queue_name="Sales"))
    upsert(
        engine,
        ContactUpsert(contact_id="c1", source_ts=t(10), state="connected", queue_name="Support", disconnect_reason="X"),
    )
    row = contact(engine)
    assert row["state"] == "ended"
    assert row["queue_name"] == "Sales"
    assert row["source_ts"] == t(60)
    assert row["disconnect_reason"] is None  # a stale input changes nothing at all


def test_duplicate_contact_input_is_a_no_op(engine: Engine) -> None:
    first = ContactUpsert(contact_id="c1", source_ts=t(5), state="connecting", attributes={"a": "1"})
    upsert(engine, first)
    before = contact(engine)
    upsert(engine, first)
    after = contact(engine)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_same_contact_several_times_in_one_batch_folds_like_successive_upserts(engine: Engine) -> None:
    upsert(
        engine,
        ContactUpsert(contact_id="c1", source_ts=t(30), state="ended", recording_location="s3://r"),
        ContactUpsert(contact_id="c1", source_ts=t(0), state="incoming", queue_arn="arn:q", state_at=t(0)),
        ContactUpsert(contact_id="c1", source_ts=t(10), state="connected", agent_key="agent-1"),
        ContactUpsert(contact_id="c2", source_ts=t(1), state="incoming"),
    )
    row = contact(engine)
    assert row["state"] == "ended"
    assert row["queue_arn"] == "arn:q"
    assert row["agent_key"] == "agent-1"
    assert row["recording_location"] == "s3://r"
    assert row["state_at"] == t(0)
    assert contact(engine, "c2")["state"] == "incoming"


def test_timestamps_round_trip_as_aware_utc_from_any_zone(engine: Engine) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    upsert(engine, ContactUpsert(contact_id="c1", source_ts=t(0).astimezone(paris), initiated_at=t(-5)))
    row = contact(engine)
    assert row["source_ts"] == t(0)
    assert row["source_ts"].tzinfo is not None  # type: ignore[attr-defined]
    # A newer input expressed in another zone is still recognised as newer.
    upsert(engine, ContactUpsert(contact_id="c1", source_ts=t(1).astimezone(paris), state="connected"))
    assert contact(engine)["state"] == "connected"


def test_naive_timestamps_are_rejected(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive datetime"), session_scope(engine) as session:
        write_batch(session, contacts=[ContactUpsert(contact_id="c1", source_ts=dt.datetime(2026, 1, 1))])


def agent(key: str = "a1", at: float = 0, **fields: object) -> AgentRow:
    """An agent row at T0 + ``at`` seconds."""
    return AgentRow(key=key, snapshot_at=t(at), **fields)  # type: ignore[arg-type]


def stored_agent(engine: Engine, key: str = "a1") -> dict[str, object]:
    """The stored agent as a dict."""
    with session_scope(engine, write=False) as session:
        (row,) = load_agents(session, [key])
        return {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs}


def test_agent_newer_snapshot_replaces_state_and_keeps_identity(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_batch(
            session,
            agents=[
                agent(
                    at=0,
                    username="aruiz",
                    name="Ana Ruiz",
                    state_name="Available",
                    next_state_name="Offline",
                    last_seq=3,
                    agent_data={"snapshot": {"state": {"name": "Available"}}},
                )
            ],
        )
    with session_scope(engine) as session:
        write_batch(session, agents=[agent(at=5, state_name="Busy", last_seq=7, agent_data={"v": 2})])
    row = stored_agent(engine)
    assert row["state_name"] == "Busy"
    assert row["next_state_name"] is None  # cleared by the newer snapshot
    assert row["username"] == "aruiz"
    assert row["name"] == "Ana Ruiz"
    assert row["last_seq"] == 7
    assert row["agent_data"] == {"v": 2}
    assert row["snapshot_at"] == t(5)


def test_stale_agent_snapshot_keeps_state_but_never_lowers_or_reuses_seq(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_batch(session, agents=[agent(at=10, state_name="Busy", last_seq=5)])
    with session_scope(engine) as session:
        write_batch(session, agents=[agent(at=1, state_name="Available", last_seq=2)])
    assert stored_agent(engine)["state_name"] == "Busy"
    assert stored_agent(engine)["last_seq"] == 5
    with session_scope(engine) as session:
        write_batch(session, agents=[agent(at=1, state_name="Available", last_seq=9)])
    row = stored_agent(engine)
    assert (row["state_name"], row["last_seq"], row["snapshot_at"]) == ("Busy", 9, t(10))


def test_state_history_is_idempotent(engine: Engine) -> None:
    changes = [
        StateChange(agent_key="a1", old_state=None, new_state="Available", occurred_at=t(0)),
        StateChange(agent_key="a1", old_state="Available", new_state="Busy", occurred_at=t(5)),
    ]
    for _ in range(2):
        with session_scope(engine) as session:
            write_batch(session, agents=[agent(at=5)], state_changes=changes)
    with session_scope(engine, write=False) as session:
        rows = session.scalars(sa.select(AgentStateHistory).order_by(AgentStateHistory.occurred_at)).all()
    assert [(r.old_state, r.new_state, r.occurred_at) for r in rows] == [
        (None, "Available", t(0)),
        ("Available", "Busy", t(5)),
    ]


def event(seq: int, name: str = "agent::state_change", contact_id: str | None = None) -> EventRecord:
    """An event of agent a1."""
    return EventRecord(
        name=name,
        occurred_at=t(seq),
        source="streams",
        agent_key="a1",
        seq=seq,
        contact_id=contact_id,
        payload={"n": seq},
    )


def delivery(seq: int, plugin: str = "p", hook: str = "on_event") -> DeliveryRecord:
    """A delivery for event ``seq`` of agent a1."""
    return DeliveryRecord(
        plugin=plugin, hook=hook, idempotency_key=f"a1:{seq}:{plugin}:{hook}", event_ref=("a1", seq), ordering_key="c1"
    )


def test_events_and_their_deliveries_are_written_together_and_linked(engine: Engine) -> None:
    with session_scope(engine) as session:
        result = write_batch(
            session,
            agents=[agent(at=2, last_seq=2)],
            events=[event(1, contact_id="c1"), event(2, "contact::connected::c1", "c1")],
            deliveries=[delivery(1), delivery(2), delivery(2, plugin="q")],
        )
    assert result.events_inserted == 2
    assert set(result.event_ids) == {("a1", 1), ("a1", 2)}
    assert len(result.delivery_ids) == 3
    with session_scope(engine, write=False) as session:
        rows = session.execute(sa.select(Delivery.plugin, Delivery.event_id, Delivery.status).order_by(Delivery.id))
        assert [tuple(r) for r in rows] == [
            ("p", result.event_ids["a1", 1], "pending"),
            ("p", result.event_ids["a1", 2], "pending"),
            ("q", result.event_ids["a1", 2], "pending"),
        ]
        stored = list_events(session, contact_id="c1")
    assert [(e.seq, e.name, e.payload) for e in stored] == [
        (1, "agent::state_change", {"n": 1}),
        (2, "contact::connected", {"n": 2}),
    ]


def test_rewriting_a_batch_inserts_nothing_new(engine: Engine) -> None:
    batch = {"events": [event(1), event(2)], "deliveries": [delivery(1), delivery(2)]}
    with session_scope(engine) as session:
        first = write_batch(session, **batch)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        second = write_batch(session, **batch)  # type: ignore[arg-type]
    assert second.events_inserted == 0
    assert second.delivery_ids == []
    assert second.event_ids == first.event_ids  # duplicates still resolve to the stored ids
    with session_scope(engine, write=False) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 2
        assert session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 2


def test_a_batch_overlapping_a_stored_one_maps_only_its_new_rows(engine: Engine) -> None:
    """Some rows already stored: the new ids are mapped to their own (agent, seq) and groups."""
    with session_scope(engine) as session:
        first = write_batch(session, events=[event(1), event(2)], deliveries=[delivery(1), delivery(2)])
    with session_scope(engine) as session:
        second = write_batch(
            session,
            events=[event(2), event(3), event(4)],
            deliveries=[delivery(2), delivery(3), delivery(3, plugin="q"), delivery(4)],
            deliveries_queued=True,
        )
    assert second.events_inserted == 2
    assert second.event_ids["a1", 2] == first.event_ids["a1", 2]
    assert second.event_ids["a1", 3] < second.event_ids["a1", 4]
    assert len(second.delivery_ids) == 3
    with session_scope(engine, write=False) as session:
        rows = {
            r.id: (r.event_id, r.plugin, r.status)
            for r in session.execute(sa.select(Delivery.id, Delivery.event_id, Delivery.plugin, Delivery.status))
        }
    assert [rows[i] for i in second.delivery_ids] == [
        (second.event_ids["a1", 3], "p", "queued"),
        (second.event_ids["a1", 3], "q", "queued"),
        (second.event_ids["a1", 4], "p", "queued"),
    ]
    # Per (ordering key, plugin): p's two new deliveries together, q's alone.
    p3, q3, p4 = second.delivery_ids
    assert second.delivery_groups == [[p3, p4], [q3]]


def test_deliveries_can_refer_to_events_of_an_earlier_batch(engine: Engine) -> None:
    with session_scope(engine) as session:
        ids = write_batch(session, events=[event(1)]).event_ids
    with session_scope(engine) as session:
        result = write_batch(session, deliveries=[delivery(1, plugin="late")])
        stored = session.get(Delivery, result.delivery_ids[0])
        assert stored is not None
        assert stored.event_id == ids["a1", 1]


def test_delivery_to_unknown_event_fails_the_whole_transaction(engine: Engine) -> None:
    with pytest.raises(LookupError), session_scope(engine) as session:
        write_batch(session, contacts=[ContactUpsert(contact_id="c9", source_ts=t(0))], deliveries=[delivery(99)])
    with session_scope(engine, write=False) as session:
        assert get_contact(session, "c9") is None


def test_agentless_events_get_ids_in_input_order(engine: Engine) -> None:
    records = [
        EventRecord(name="contact::record", occurred_at=t(i), source="ctr", contact_id=f"c{i}") for i in range(5)
    ]
    with session_scope(engine) as session:
        result = write_batch(session, events=records)
        names = {e.id: e.contact_id for e in list_events(session)}
    assert result.events_inserted == 5
    assert [names[i] for i in result.agentless_event_ids] == [f"c{i}" for i in range(5)]


def test_claim_receipts_returns_only_new_keys(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = claim_receipts(session, [Receipt("firehose", "r1"), Receipt("aes", "e1"), Receipt("aes", "e1")])
    assert first == {Receipt("firehose", "r1"), Receipt("aes", "e1")}
    with session_scope(engine) as session:
        second = claim_receipts(session, [Receipt("firehose", "r1"), Receipt("firehose", "r2"), Receipt("ctr", "r1")])
    assert second == {Receipt("firehose", "r2"), Receipt("ctr", "r1")}


def test_a_rolled_back_claim_frees_the_keys(engine: Engine) -> None:
    def ingest_that_fails_after_claiming() -> None:
        with session_scope(engine) as session:
            assert claim_receipts(session, [Receipt("firehose", "r1")]) == {Receipt("firehose", "r1")}
            raise RuntimeError("storage failed: Firehose will retry")

    with pytest.raises(RuntimeError, match="storage failed"):
        ingest_that_fails_after_claiming()
    with session_scope(engine) as session:
        assert claim_receipts(session, [Receipt("firehose", "r1")]) == {Receipt("firehose", "r1")}


def test_write_batch_receipts_are_seen_by_later_claims_and_pruned(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_batch(session, receipts=[Receipt("eventbridge", "ev-1")], now=t(0))
        write_batch(session, receipts=[Receipt("eventbridge", "ev-2")], now=t(100))
    with session_scope(engine) as session:
        assert claim_receipts(session, [Receipt("eventbridge", "ev-1")]) == set()
        assert prune_receipts(session, older_than=t(50)) == 1
    with session_scope(engine) as session:
        assert claim_receipts(session, [Receipt("eventbridge", "ev-1"), Receipt("eventbridge", "ev-2")]) == {
            Receipt("eventbridge", "ev-1")
        }


def test_large_batches_span_several_statements_in_order(engine: Engine) -> None:
    count = 4_500  # more rows than one SQLite statement takes
    records = [
        EventRecord(name="contact::record", occurred_at=t(i), source="ctr", contact_id=f"c{i}") for i in range(count)
    ]
    keyed = [event(seq) for seq in range(1, count + 1)]
    deliveries = [delivery(seq) for seq in range(1, count + 1)]
    contacts = [ContactUpsert(contact_id=f"c{i}", source_ts=t(i), queue_name="Sales") for i in range(count)]
    with session_scope(engine) as session:
        result = write_batch(session, events=[*records, *keyed], deliveries=deliveries, contacts=contacts)
        by_id = {e.id: e.contact_id for e in list_events(session, limit=2 * count)}
        assert get_contact(session, f"c{count - 1}") is not None
    assert [by_id[i] for i in result.agentless_event_ids] == [f"c{i}" for i in range(count)]
    assert len(result.event_ids) == count
    assert len(result.delivery_ids) == count
    assert result.events_inserted == 2 * count


def test_a_failing_statement_of_a_batch_raises_as_sqlalchemy_reports_it_and_writes_nothing(engine: Engine) -> None:
    """On PostgreSQL the batch's inserts are sent together (pipeline mode); a failure among them is an
    SQLAlchemy error like any other, and the transaction keeps nothing."""
    good = [event(1), event(2)]
    sourceless = EventRecord(name="contact::ended", occurred_at=t(1), source=None, contact_id="c1")  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as db:  # events.source is NOT NULL
        write_batch(db, agents=[agent()], events=[*good, sourceless])
    with session_scope(engine, write=False) as db:
        assert list_events(db) == []
        assert load_agents(db) == []
    with session_scope(engine) as db:  # the connection is usable again
        assert write_batch(db, agents=[agent()], events=good).events_inserted == 2
