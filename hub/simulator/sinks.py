"""Where the simulator's output goes: the :class:`Sink` protocol and in-process sinks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["AgentFilterSink", "CollectingSink", "FanoutSink", "Sink", "flush_sink", "tick_sink"]

JSON = dict[str, Any]


@runtime_checkable
class Sink(Protocol):
    """Receives exactly what the four real sources send, in simulated-time order.

    ``agent_data`` gets ``{"snapshot": <GetAgentSnapshot wire snapshot>, "configuration": <agent
    configuration>}`` (the ``agent::update`` payload before the Streams worker normalises it);
    ``agent_event`` an Agent Event Stream record; ``contact_record`` a CTR; ``contact_event`` an
    EventBridge contact event envelope. Payloads must be treated as read-only.
    """

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Streams agent data for one agent."""

    def agent_event(self, record: JSON) -> None:
        """One Agent Event Stream record."""

    def contact_record(self, ctr: JSON) -> None:
        """One contact record."""

    def contact_event(self, event: JSON) -> None:
        """One EventBridge contact event."""


@dataclass
class CollectingSink:
    """Keeps everything in memory, in emission order (``log`` interleaves all four kinds)."""

    agent_data_items: list[tuple[str, JSON]] = field(default_factory=list)
    agent_events: list[JSON] = field(default_factory=list)
    contact_records: list[JSON] = field(default_factory=list)
    contact_events: list[JSON] = field(default_factory=list)
    log: list[tuple[str, Any]] = field(default_factory=list)

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Store agent data."""
        self.agent_data_items.append((agent_id, data))
        self.log.append(("agent_data", (agent_id, data)))

    def agent_event(self, record: JSON) -> None:
        """Store an Agent Event Stream record."""
        self.agent_events.append(record)
        self.log.append(("agent_event", record))

    def contact_record(self, ctr: JSON) -> None:
        """Store a contact record."""
        self.contact_records.append(ctr)
        self.log.append(("contact_record", ctr))

    def contact_event(self, event: JSON) -> None:
        """Store a contact event."""
        self.contact_events.append(event)
        self.log.append(("contact_event", event))

    def snapshots_of(self, agent_id: str) -> list[JSON]:
        """The wire snapshots sent for ``agent_id``, in order."""
        return [data["snapshot"] for aid, data in self.agent_data_items if aid == agent_id]


class FanoutSink:
    """Sends everything to several sinks in turn."""

    def __init__(self, *sinks: Sink) -> None:
        """Fan out to ``sinks``."""
        self.sinks = sinks

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Forward agent data."""
        for sink in self.sinks:
            sink.agent_data(agent_id, data)

    def agent_event(self, record: JSON) -> None:
        """Forward an Agent Event Stream record."""
        for sink in self.sinks:
            sink.agent_event(record)

    def contact_record(self, ctr: JSON) -> None:
        """Forward a contact record."""
        for sink in self.sinks:
            sink.contact_record(ctr)

    def contact_event(self, event: JSON) -> None:
        """Forward a contact event."""
        for sink in self.sinks:
            sink.contact_event(event)

    def tick(self, now_ms: int) -> None:
        """Pass the simulated time on to sinks that buffer (see :func:`tick_sink`)."""
        for sink in self.sinks:
            tick_sink(sink, now_ms)

    def flush(self) -> None:
        """Flush sinks that buffer."""
        for sink in self.sinks:
            flush_sink(sink)


def tick_sink(sink: object, now_ms: int) -> None:
    """Call ``sink.tick(now_ms)`` if the sink buffers by time (e.g. Firehose batching)."""
    tick = getattr(sink, "tick", None)
    if callable(tick):
        tick(now_ms)


def flush_sink(sink: object) -> None:
    """Call ``sink.flush()`` if the sink buffers."""
    flush = getattr(sink, "flush", None)
    if callable(flush):
        flush()


class AgentFilterSink:
    """Passes on only the Streams agent data of agents accepted by ``keep``; drops everything else."""

    def __init__(self, inner: Sink, keep: Callable[[str], bool]) -> None:
        """Wrap ``inner``."""
        self.inner = inner
        self.keep = keep

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Forward the agent data of kept agents."""
        if self.keep(agent_id):
            self.inner.agent_data(agent_id, data)

    def agent_event(self, record: JSON) -> None:
        """Drop."""

    def contact_record(self, ctr: JSON) -> None:
        """Drop."""

    def contact_event(self, event: JSON) -> None:
        """Drop."""
