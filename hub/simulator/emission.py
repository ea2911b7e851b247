"""Turns model changes into output: Streams agent data and Agent Event Stream records per changed
agent, heartbeats, contact events and contact records, all sent to one :class:`Sink`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.simulator.agent_events import aes_record, aes_snapshot
from hub.simulator.agent_state import display_state
from hub.simulator.clock import Scheduler, Timer
from hub.simulator.config import SimulationConfig
from hub.simulator.contact_events import contact_event
from hub.simulator.contact_records import contact_record
from hub.simulator.ids import IdSource
from hub.simulator.model import Agent, Contact
from hub.simulator.sinks import Sink
from hub.simulator.streams_wire import agent_configuration, agent_snapshot

__all__ = ["Emitter"]

JSON = dict[str, Any]
_HEARTBEAT_AFTER_LOGOUT_MS = 3_600_000


class Emitter:
    """Renders and sends; remembers what each agent last looked like so only changes go out."""

    def __init__(
        self, config: SimulationConfig, sink: Sink, scheduler: Scheduler, ids: IdSource, agents: list[Agent]
    ) -> None:
        """Emit for ``agents`` (in this order) to ``sink``."""
        self.config = config
        self.sink = sink
        self.scheduler = scheduler
        self.ids = ids
        self.agents = agents
        self.dirty: set[str] = set()
        #: computes a contact record's ``VoiceIdResult`` (set by the simulation when Voice ID is on)
        self.voice_id_result: Callable[[Contact], JSON | None] | None = None
        self._last_wire: dict[str, JSON] = {}
        self._last_data: dict[str, JSON] = {}
        self._resends: dict[str, Timer] = {}
        self._last_aes: dict[str, JSON] = {}
        self._heartbeats: dict[str, Timer] = {}
        self._configs = {a.agent_id: agent_configuration(config, a) for a in agents}

    def configuration(self, agent_id: str) -> JSON:
        """The (static) Streams agent configuration of ``agent_id``."""
        return self._configs[agent_id]

    def current_data(self, agent: Agent, now: int) -> JSON:
        """Agent data as it would be sent now (``getAgentSnapshot`` + configuration)."""
        return {"snapshot": agent_snapshot(self.config, agent, now), "configuration": self._configs[agent.agent_id]}

    def flush(self, now: int) -> None:
        """Emit agent data and ``STATE_CHANGE`` records for every dirty agent whose view changed."""
        if not self.dirty:
            return
        for agent in self.agents:
            if agent.agent_id not in self.dirty:
                continue
            shown = display_state(agent)
            if shown != agent.display:
                agent.display = shown
                agent.display_ms = now
            if not agent.logged_in:
                continue
            snapshot = agent_snapshot(self.config, agent, now)
            key = {k: v for k, v in snapshot.items() if k != "snapshotTimestamp"}
            if key != self._last_wire.get(agent.agent_id):
                self._last_wire[agent.agent_id] = key
                data = {"snapshot": snapshot, "configuration": self._configs[agent.agent_id]}
                self._last_data[agent.agent_id] = data
                self.sink.agent_data(agent.agent_id, data)
            current = aes_snapshot(self.config, agent)
            previous = self._last_aes.get(agent.agent_id)
            if current != previous:
                self._agent_event(agent, "STATE_CHANGE", now, current, previous)
        self.dirty.clear()

    def _agent_event(self, agent: Agent, kind: str, now: int, current: JSON, previous: JSON | None) -> None:
        self._last_aes[agent.agent_id] = current
        self.sink.agent_event(
            aes_record(self.config, agent, kind, self.ids.uuid(), now, current=current, previous=previous)
        )
        old = self._heartbeats.get(agent.agent_id)
        if old is not None:
            old.cancel()
        interval = int(self.config.heartbeat_interval * 1000)
        self._heartbeats[agent.agent_id] = self.scheduler.after(interval, lambda: self._heartbeat(agent))

    def _heartbeat(self, agent: Agent) -> None:
        now = self.scheduler.now
        recent_logout = agent.logout_ms is not None and now - agent.logout_ms < _HEARTBEAT_AFTER_LOGOUT_MS
        if not (agent.logged_in or recent_logout):
            self._heartbeats.pop(agent.agent_id, None)
            return
        current = self._last_aes.get(agent.agent_id) or aes_snapshot(self.config, agent)
        self._agent_event(agent, "HEART_BEAT", now, current, current)

    def _resend(self, agent: Agent) -> None:
        if not agent.logged_in:
            self._resends.pop(agent.agent_id, None)
            return
        data = self._last_data.get(agent.agent_id)
        if data is not None:
            self.sink.agent_data(agent.agent_id, data)  # the same snapshot again, as the worker does
        interval = int(self.config.streams_resend_interval * 1000)
        self._resends[agent.agent_id] = self.scheduler.after(interval, lambda: self._resend(agent))

    def login(self, agent: Agent, now: int) -> None:
        """Send ``LOGIN`` (the agent's Streams data starts with the next flush)."""
        current = aes_snapshot(self.config, agent)
        self._last_wire.pop(agent.agent_id, None)
        self._last_data.pop(agent.agent_id, None)
        if self.config.streams_resend_interval > 0 and agent.agent_id not in self._resends:
            interval = int(self.config.streams_resend_interval * 1000)
            self._resends[agent.agent_id] = self.scheduler.after(interval, lambda: self._resend(agent))
        self._agent_event(agent, "LOGIN", now, current, self._last_aes.get(agent.agent_id, current))

    def logout(self, agent: Agent, now: int) -> None:
        """Send ``LOGOUT``."""
        current = aes_snapshot(self.config, agent)
        self._agent_event(agent, "LOGOUT", now, current, self._last_aes.get(agent.agent_id, current))

    def contact_event(self, contact: Contact, event_type: str, now: int) -> None:
        """Send one EventBridge contact event."""
        self.sink.contact_event(contact_event(self.config, contact, event_type, self.ids.uuid(), now))

    def contact_record(self, contact: Contact, handler: Agent | None, now: int) -> None:
        """Send the contact record of a completed contact."""
        result = self.voice_id_result(contact) if self.voice_id_result is not None else None
        self.sink.contact_record(contact_record(self.config, contact, handler, now, result))
