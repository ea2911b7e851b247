"""Configuration of a simulated contact center: instance, queues, agents, traffic and behaviour."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_AGENT_STATES",
    "AgentStateSpec",
    "QueueSpec",
    "RoutingProfileSpec",
    "SimulationConfig",
    "agent_resource_id",
]

_AGENT_NAMESPACE = uuid.UUID("6f1c2d3e-0000-4000-8000-00000000c0de")


def agent_resource_id(index: int) -> str:
    """The stable agent resource id (a UUID) of the ``index``-th simulated agent (0-based)."""
    return str(uuid.uuid5(_AGENT_NAMESPACE, f"agent-{index}"))


@dataclass(frozen=True)
class AgentStateSpec:
    """An agent status from the instance configuration (``getAgentStates``)."""

    name: str
    type: str  # routable | not_routable | offline
    state_id: str


DEFAULT_AGENT_STATES: tuple[AgentStateSpec, ...] = (
    AgentStateSpec("Available", "routable", "st-available"),
    AgentStateSpec("Lunch", "not_routable", "st-lunch"),
    AgentStateSpec("Break", "not_routable", "st-break"),
    AgentStateSpec("Training", "not_routable", "st-training"),
    AgentStateSpec("Offline", "offline", "st-offline"),
)


@dataclass(frozen=True)
class QueueSpec:
    """A standard queue: id (the last ARN segment), display name and the channels it serves."""

    queue_id: str
    name: str
    channels: tuple[str, ...] = ("VOICE", "CHAT", "TASK")


@dataclass(frozen=True)
class RoutingProfileSpec:
    """A routing profile: the queues its agents serve and their channel concurrency."""

    profile_id: str
    name: str
    queue_ids: tuple[str, ...]
    concurrency: dict[str, int]
    default_outbound_queue: str = "q-basic"


DEFAULT_ROUTING_PROFILES: tuple[RoutingProfileSpec, ...] = (
    RoutingProfileSpec(
        "rp-front-line", "Front Line", ("q-basic", "q-sales", "q-support"), {"VOICE": 1, "CHAT": 2, "TASK": 1}
    ),
    RoutingProfileSpec("rp-back-office", "Back Office", ("q-support", "q-basic"), {"VOICE": 1, "CHAT": 3, "TASK": 3}),
)


@dataclass
class SimulationConfig:
    """Everything that shapes a simulated contact center. Rates are per hour, durations in seconds.

    The defaults describe a small demo center: 10 agents on three queues, a mix of voice calls,
    chats, tasks and queue callbacks, with occasional misses, holds, transfers, conferences,
    breaks and errors.
    """

    agents: int = 10
    region: str = "us-west-2"
    account_id: str = "123456789012"
    instance_id: str = "5b9a3c1e-7d2f-4a60-9c1b-2e8f0a7d4c31"
    start: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    queues: tuple[QueueSpec, ...] = (
        QueueSpec("q-basic", "BasicQueue"),
        QueueSpec("q-support", "Support"),
        QueueSpec("q-sales", "Sales", ("VOICE", "CHAT")),
    )
    agent_states: tuple[AgentStateSpec, ...] = DEFAULT_AGENT_STATES
    #: routing profiles, assigned to agents in turn (agent i gets profile i mod n)
    routing_profiles: tuple[RoutingProfileSpec, ...] = DEFAULT_ROUTING_PROFILES
    #: arrivals per hour over the whole center (Poisson)
    arrival_rates: dict[str, float] = field(
        default_factory=lambda: {"VOICE": 60.0, "CHAT": 40.0, "TASK": 20.0, "CALLBACK": 8.0}
    )
    #: mean handle time (connected to agent) per channel, seconds (exponential, with a floor)
    handle_time: dict[str, float] = field(default_factory=lambda: {"VOICE": 180.0, "CHAT": 300.0, "TASK": 240.0})
    #: mean after-contact work per channel, seconds
    acw_time: dict[str, float] = field(default_factory=lambda: {"VOICE": 30.0, "CHAT": 15.0, "TASK": 20.0})
    ivr_time: tuple[float, float] = (3.0, 15.0)  # uniform, time in the flow before the queue
    ring_timeout: float = 20.0
    #: a missed / rejected / failed contact stays in the agent's snapshot this long unless cleared
    missed_linger: float = 20.0
    accept_delay: tuple[float, float] = (1.0, 6.0)
    patience: float = 240.0  # mean time a caller waits in queue before abandoning
    outbound_rate_per_agent: float = 1.0  # per hour, while available and idle
    # probabilities
    p_miss: float = 0.06
    p_reject: float = 0.03
    p_connect_error: float = 0.02
    p_hold: float = 0.25
    p_transfer: float = 0.06
    p_conference: float = 0.04
    p_agent_hangup: float = 0.3
    p_outbound_no_answer: float = 0.25
    p_task_pause: float = 0.2
    p_task_complete_without_acw: float = 0.3
    #: chance per hour that an idle available agent takes a break / goes to lunch
    break_rate: float = 0.8
    break_time: tuple[float, float] = (300.0, 900.0)
    p_break_enqueued: float = 0.5  # request the break as next state while busy
    error_recovery: tuple[float, float] = (3.0, 15.0)  # time until the agent sets Available again
    login_spread: float = 60.0  # agents log in within this many seconds after the start
    #: an agent logs out after this long on shift and logs in again a quarter of it later (0 = never)
    shift_length: float = 9000.0
    heartbeat_interval: float = 120.0
    #: the Streams worker re-sends the current agent data after every configuration poll (30 s in
    #: real life), giving identical updates; 0 leaves those duplicates out
    streams_resend_interval: float = 0.0
    #: agents (resource ids or usernames) the simulator does not drive: they only act through the backend
    manual_agents: tuple[str, ...] = ()
    first_names: tuple[str, ...] = (
        "Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon",
        "Kira", "Liam", "Mona", "Nils", "Olga", "Pablo",
    )  # fmt: skip
    last_names: tuple[str, ...] = (
        "Ruiz", "Okafor", "Martin", "Patel", "Novak", "Haddad", "Kim", "Laurent", "Silva",
        "Berg", "Sato", "Walsh", "Costa", "Meyer", "Ivanova", "Diaz",
    )  # fmt: skip

    @property
    def instance_arn(self) -> str:
        """``arn:aws:connect:<region>:<account>:instance/<id>``."""
        return f"arn:aws:connect:{self.region}:{self.account_id}:instance/{self.instance_id}"

    def profile_of(self, index: int) -> RoutingProfileSpec:
        """The routing profile of the ``index``-th agent."""
        if not self.routing_profiles:
            raise ValueError("a simulation needs at least one routing profile")
        return self.routing_profiles[index % len(self.routing_profiles)]

    def queue_spec(self, queue_id: str) -> QueueSpec:
        """The queue with id ``queue_id``."""
        for queue in self.queues:
            if queue.queue_id == queue_id:
                return queue
        raise KeyError(f"no queue {queue_id!r}")

    def arn(self, suffix: str) -> str:
        """An ARN under the instance, e.g. ``arn("queue/q-basic")``."""
        return f"{self.instance_arn}/{suffix}"
