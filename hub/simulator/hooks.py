"""The hooks through which the engine tells the behaviour model what happened."""

from __future__ import annotations

from typing import Protocol

from hub.simulator.model import Agent, Connection, Contact, Leg

__all__ = ["EngineListener"]


class EngineListener(Protocol):
    """Hooks through which the behaviour model learns what happened (all optional no-ops allowed)."""

    def offered(self, agent: Agent, leg: Leg) -> None:
        """A contact started ringing for ``agent``."""

    def connected(self, agent: Agent, leg: Leg) -> None:
        """``agent`` is connected to the contact of ``leg``."""

    def after_contact_work(self, agent: Agent, leg: Leg) -> None:
        """The contact ended; ``agent`` is in after-contact work for it."""

    def agent_error(self, agent: Agent) -> None:
        """``agent`` entered an error state (missed, failed connect)."""

    def third_party_connected(self, agent: Agent, leg: Leg, connection: Connection) -> None:
        """A third-party connection the agent added is connected."""

    def queued(self, contact: Contact) -> None:
        """``contact`` entered (or re-entered) its queue."""
