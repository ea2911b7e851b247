"""Mutable state of the simulated contact center: agents, contacts, agent legs and connections.

A *contact* is the customer interaction as Amazon Connect tracks it (one contact record). A *leg*
is one agent's view of a contact: the contact as it appears in that agent's snapshot, with the
agent's own connection. A missed contact goes back to its queue while the missing agent still
shows it as ``missed`` for a moment, so one contact can have several legs over its life.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.simulator.config import AgentStateSpec, QueueSpec, RoutingProfileSpec

__all__ = ["VOICE_TYPES", "Agent", "Connection", "Contact", "HoldTracker", "Leg"]

VOICE_TYPES = frozenset({"voice", "queue_callback"})


@dataclass
class Connection:
    """A participant connection (``connections[]`` entry of a snapshot contact)."""

    connection_id: str
    type: str  # agent | inbound | outbound
    initial: bool
    state: str
    state_ms: int
    endpoint: dict[str, Any] | None = None

    def set_state(self, state: str, now: int) -> None:
        """Move to ``state`` at ``now`` (no-op when unchanged, so the timestamp keeps its start)."""
        if state != self.state:
            self.state = state
            self.state_ms = now


@dataclass
class HoldTracker:
    """Customer hold accounting for the contact record."""

    started: int | None = None
    total_ms: int = 0
    longest_ms: int = 0
    count: int = 0

    def hold(self, now: int) -> None:
        """The customer was put on hold."""
        if self.started is None:
            self.started = now
            self.count += 1

    def resume(self, now: int) -> None:
        """The customer left hold."""
        if self.started is not None:
            span = now - self.started
            self.total_ms += span
            self.longest_ms = max(self.longest_ms, span)
            self.started = None


@dataclass
class Contact:
    """One contact (one contact record)."""

    contact_id: str
    initial_contact_id: str
    channel: str  # VOICE | CHAT | TASK
    type: str  # voice | queue_callback | chat | task
    initiation_method: str  # inbound | outbound | transfer | callback | api
    queue: QueueSpec
    initiation_ms: int
    customer: Connection | None
    previous_contact_id: str | None = None
    next_contact_id: str | None = None
    related_contact_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    customer_name: str | None = None
    task_name: str | None = None
    task_description: str | None = None
    references: dict[str, dict[str, str]] = field(default_factory=dict)
    enqueue_ms: int | None = None
    dequeue_ms: int | None = None
    connected_to_system_ms: int | None = None
    connected_to_agent_ms: int | None = None
    disconnect_ms: int | None = None
    acw_start_ms: int | None = None
    acw_end_ms: int | None = None
    disconnect_reason: str | None = None
    agent_id: str | None = None  # the agent the contact is (or was last) connected to
    agent_attempts: int = 0
    third_parties: list[Connection] = field(default_factory=list)
    holds: HoldTracker = field(default_factory=HoldTracker)
    queued: bool = False
    done: bool = False  # the contact record has been written
    transferred_to_queue: bool = False
    seq: int = 0  # creation order, breaks ties in the queue
    offered_to: str | None = None  # the agent currently ringing

    def other_connections(self) -> list[Connection]:
        """The customer connection (if any) followed by third-party connections."""
        return ([self.customer] if self.customer is not None else []) + self.third_parties


@dataclass
class Leg:
    """One agent's view of a contact."""

    contact: Contact
    agent_id: str
    state: str  # Streams contact state: incoming|pending|connecting|connected|missed|rejected|error|ended|paused
    state_ms: int
    connection: Connection
    offered_ms: int
    joining: bool = False  # accepted, media not yet connected (still PendingBusy)
    dialing: bool = False  # agent connected, customer being dialled (CallingCustomer)
    timers: list[Any] = field(default_factory=list)

    def set_state(self, state: str, now: int) -> None:
        """Move the leg's contact state (keeps the timestamp when unchanged)."""
        if state != self.state:
            self.state = state
            self.state_ms = now

    @property
    def active(self) -> bool:
        """Still being worked (ringing, connected, paused) as opposed to ended/missed/rejected/error."""
        return self.state in {"incoming", "pending", "connecting", "connected", "paused"}


@dataclass
class Agent:
    """One simulated agent and its session."""

    agent_id: str
    index: int
    username: str
    first_name: str
    last_name: str
    extension: str
    selected: AgentStateSpec
    selected_ms: int
    profile: RoutingProfileSpec
    manual: bool = False
    logged_in: bool = False
    logout_ms: int | None = None
    next_state: AgentStateSpec | None = None
    next_state_ms: int = 0
    error_state: str | None = None
    display: tuple[str, str, str | None] = ("Offline", "offline", None)  # name, type, state ARN key
    display_ms: int = 0
    legs: dict[str, Leg] = field(default_factory=dict)  # contact id -> leg, in offer order
    idle_since: int = 0

    def legs_of(self, channel: str) -> list[Leg]:
        """Legs whose contact is on ``channel``."""
        return [leg for leg in self.legs.values() if leg.contact.channel == channel]
