"""Firehose envelopes and batching, and the in-process sinks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from hub.simulator import (
    AgentFilterSink,
    CollectingSink,
    FanoutSink,
    FirehoseBatchingSink,
    Simulation,
    SimulationConfig,
    decode_envelope,
    firehose_envelope,
    run,
)
from hub.sources.agent_events import AgentEvent
from hub.sources.contact_records import ContactTraceRecord
from hub.sources.firehose import decode_batch, parse_request


def test_envelope_round_trips_and_matches_the_hub_parser() -> None:
    records: list[dict[str, Any]] = [{"EventId": "a", "n": 1}, {"ContactId": "b"}]
    envelope = firehose_envelope(records, "req-1", 1_772_442_153_000)
    assert envelope["requestId"] == "req-1" and envelope["timestamp"] == 1_772_442_153_000
    assert decode_envelope(envelope) == records
    parsed = parse_request(json.dumps(envelope).encode(), request_id_header="req-1")
    assert len(parsed.records) == 2


def test_batching_sink_groups_records_per_stream() -> None:
    delivered: list[tuple[str, dict[str, Any]]] = []
    sink = FirehoseBatchingSink(lambda stream, env: delivered.append((stream, env)), batch_size=100, seed=1)
    run(SimulationConfig(), 4, 1800, sink=sink)  # run() flushes the partial batches at the end
    streams = {stream for stream, _ in delivered}
    assert streams == {"agent-events", "contact-records"}
    for _, envelope in delivered:
        assert 1 <= len(envelope["records"]) <= 100
    agent_events = [r for s, e in delivered if s == "agent-events" for r in decode_envelope(e)]
    reference = CollectingSink()
    run(SimulationConfig(), 4, 1800, sink=reference)
    assert agent_events == reference.agent_events
    assert len({e["requestId"] for _, e in delivered}) == len(delivered)
    # the hub's own Firehose decoders accept every simulated record
    for stream, envelope in delivered:
        request = parse_request(json.dumps(envelope).encode())
        if stream == "agent-events":
            events = decode_batch(request, AgentEvent)
            assert not events.errors and len(events.items) == len(envelope["records"])
        else:
            records = decode_batch(request, ContactTraceRecord)
            assert not records.errors and len(records.items) == len(envelope["records"])


def test_batching_sink_rejects_impossible_batch_sizes() -> None:
    with pytest.raises(ValueError, match="10,000"):
        FirehoseBatchingSink(lambda s, e: None, batch_size=0)


def test_fanout_and_agent_filter() -> None:
    everything, only_one = CollectingSink(), CollectingSink()
    target = "agent03"
    sim = Simulation(SimulationConfig(), 2, None)
    agent_id = sim.center.agent(target).agent_id
    fan = FanoutSink(everything, AgentFilterSink(only_one, lambda a: a == agent_id))
    run(SimulationConfig(), 2, 1200, sink=fan)
    assert {a for a, _ in only_one.agent_data_items} == {agent_id}
    assert only_one.agent_data_items == [(a, d) for a, d in everything.agent_data_items if a == agent_id]
    assert not only_one.agent_events and not only_one.contact_records and not only_one.contact_events
    assert everything.contact_events


def test_batching_sink_delivers_by_simulated_buffer_interval() -> None:
    delivered: list[tuple[str, dict[str, Any]]] = []
    sink = FirehoseBatchingSink(lambda stream, env: delivered.append((stream, env)), buffer_seconds=60, seed=1)
    run(SimulationConfig(), 6, 900, sink=sink, tick=1.0)
    agent_batches = [decode_envelope(e) for s, e in delivered if s == "agent-events"]
    assert len(agent_batches) >= 10  # 15 simulated minutes, 60 s buffering, far below 500 records each
    for batch in agent_batches:
        stamps = [r["EventTimestamp"] for r in batch]
        assert _seconds(stamps[-1]) - _seconds(stamps[0]) <= 61
    stamps = [e["timestamp"] for _, e in delivered]
    assert stamps == sorted(stamps) and stamps[0] > 0  # envelopes carry the simulated delivery time


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
