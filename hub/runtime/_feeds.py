"""Feeding agent data into a :class:`~hub.runtime.Pipeline`: scenario files and the simulator.

Shared by ``connect-hub demo``, ``connect-hub simulate --persist`` and :mod:`hub.testing`, so a scenario
or a simulated contact center reaches the runtime the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.runtime._pipeline import AgentInput

__all__ = ["PipelineFeed", "scenario_inputs"]

JSON = dict[str, Any]


def scenario_inputs(agent: str, scenario: Mapping[str, Any], *, source: str = "streams") -> list[AgentInput]:
    """The agent inputs of a scenario in the oracle's format, as agent ``agent``'s data, in order.

    The scenario's ``configuration``, then for every step its ``configuration`` (when present) and its
    ``snapshot`` (when present). Action, inject and comment steps are not fed (no agent browser runs
    them); the snapshots that follow an action carry its effects.

    :param agent: the agent key the inputs are for (an ARN or a username).
    :param scenario: the decoded scenario (``{"configuration": ..., "steps": [...]}``).
    :param source: stored with the events (``streams``, ``demo``...).
    """
    inputs: list[AgentInput] = []
    if scenario.get("configuration") is not None:
        inputs.append(AgentInput(agent, "configuration", scenario["configuration"], source=source))
    for step in scenario.get("steps", []):
        if step.get("configuration") is not None:
            inputs.append(AgentInput(agent, "configuration", step["configuration"], source=source))
        if step.get("snapshot") is not None:
            inputs.append(AgentInput(agent, "snapshot", step["snapshot"], source=source))
    return inputs


class PipelineFeed:
    """A simulator sink (:class:`hub.simulator.Sink`) ingesting Streams agent data into the runtime.

    Agent data is buffered and ingested as one batch (one transaction) per simulated tick and on
    :meth:`flush`; the other sources (Agent Event Stream records, contact records, contact events) are
    not Streams inputs and are ignored.

    :param ingest: where batches go, usually :meth:`hub.runtime.Pipeline.ingest`.
    :param source: stored with the events.
    """

    def __init__(self, ingest: Callable[[list[AgentInput]], object], *, source: str = "simulator") -> None:
        """Feed batches to ``ingest``."""
        self._ingest = ingest
        self._source = source
        self._pending: list[AgentInput] = []
        #: Agent data items ingested so far.
        self.ingested = 0
        #: The agents whose data was fed.
        self.agents: set[str] = set()

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Buffer one agent's Streams agent data (``{snapshot, configuration}``).

        The agent is keyed by its ARN (``configuration.agentARN``) when the data has one, as the browser
        bridge and the Agent Event Stream key it and as contact records name it; else by ``agent_id``.
        """
        arn = (data.get("configuration") or {}).get("agentARN")
        key = arn if isinstance(arn, str) and arn else agent_id
        self._pending.append(AgentInput(key, "agent_data", data, source=self._source))
        self.agents.add(key)

    def agent_event(self, record: JSON) -> None:
        """Not a Streams input."""

    def contact_record(self, ctr: JSON) -> None:
        """Not a Streams input."""

    def contact_event(self, event: JSON) -> None:
        """Not a Streams input."""

    def tick(self, now_ms: int) -> None:
        """The simulated clock moved on: ingest what the last tick produced."""
        self.flush()

    def flush(self) -> None:
        """Ingest the buffered agent data (one batch)."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._ingest(batch)
            self.ingested += len(batch)
