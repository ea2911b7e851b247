"""Generators of random but plausible oracle scenarios (GetAgentSnapshot wire data, actions, ...).

The generator is a small world model (:class:`ScenarioBuilder`) driven by a :class:`Chooser`. With
:class:`HypothesisChooser` it is the hypothesis strategy :func:`scenarios` (shrinkable); with
:class:`RandomChooser` it gives deterministic streams from a seed (used by ``bench/replay.py``).

Generated data is always *valid* (every contact has a ``state`` with a ``timestamp``, every connection
has a state, actions only target contacts and connections that the page can see), so the real library
never fails on it; malformed data is tested elsewhere. The wire shape follows SPEC.md §8 and
``scenarios/build.js`` of the streams-oracle.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")
Json = dict[str, Any]

REGION, ACCOUNT = "us-west-2", "123456789012"
INSTANCE = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/11111111-2222-3333-4444-555555555555"
AGENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
BASIC_QUEUE = {"queueARN": f"{INSTANCE}/queue/q-basic", "name": "BasicQueue"}
SUPPORT_QUEUE = {"queueARN": f"{INSTANCE}/queue/q-support", "name": "Support"}
AGENT_QUEUE = {"queueARN": f"{INSTANCE}/queue/agent/{AGENT_ID}", "name": None}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC).timestamp()

CONFIGURED_STATES = {
    "Available": "routable",
    "Lunch": "not_routable",
    "Break": "not_routable",
    "Training": "not_routable",
    "Offline": "offline",
}
ALWAYS_CONFIGURED = ("Available", "Lunch", "Offline")  # safe targets for "$agentState:<name>"
SYSTEM_STATES = ("Busy", "PendingBusy", "CallingCustomer", "Dialing", "Joining", "PendingAvailable")
ERROR_STATES = (
    "Error", "AgentHungUp", "BadAddressAgent", "BadAddressCustomer", "Default", "FailedConnectAgent",
    "FailedConnectCustomer", "InvalidLocale", "LineEngagedAgent", "LineEngagedCustomer", "MissedCallAgent",
    "MissedCallCustomer", "MultipleCcpWindows", "RealtimeCommunicationError",
)  # fmt: skip
CONTACT_STATES = (
    "init", "incoming", "pending", "connecting", "connected",
    "missed", "error", "ended", "rejected", "paused",
)  # fmt: skip
CONNECTION_STATES = ("init", "connecting", "connected", "hold", "disconnected", "silent_monitor", "barge")
CHANNELS = ("voice", "queue_callback", "chat", "task")
# Plausible next contact states; anything else is drawn with a lower probability.
LIFECYCLE = {
    "init": ("incoming", "connecting"),
    "incoming": ("connecting", "pending", "missed", "rejected"),
    "pending": ("connecting", "connected"),
    "connecting": ("connected", "missed", "error", "rejected"),
    "connected": ("ended", "paused", "error"),
    "paused": ("connected", "ended"),
    "missed": ("ended",),
    "error": ("ended",),
    "ended": ("ended",),
    "rejected": ("ended",),
}
FINISHED = frozenset({"ended", "missed", "rejected", "error"})
INJECTS = (
    ("agent::websocket_connection_lost", {"status": "lost"}),
    ("agent::websocket_connection_gained", None),
)
ERROR_RESPONSES = (
    {"code": "InvalidStateException", "message": "not in a state that allows this", "statusCode": 400},
    {"code": "ResourceNotFoundException", "message": "no such contact", "statusCode": 404},
    {"code": "InternalServiceException", "message": "try again", "statusCode": 500},
)


class Chooser(Protocol):
    """Source of choices for :class:`ScenarioBuilder`."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``; implementations shrink toward ``lo``."""
        ...

    def choice(self, items: Sequence[T]) -> T:
        """One of ``items``; implementations shrink toward the first."""
        ...


class RandomChooser:
    """Deterministic choices from a seeded :class:`random.Random`."""

    def __init__(self, seed: int) -> None:
        """Seed the generator."""
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        """Uniform integer in ``[lo, hi]``."""
        return self.rng.randint(lo, hi)

    def choice(self, items: Sequence[T]) -> T:
        """Uniform choice."""
        return self.rng.choice(items)


class HypothesisChooser:
    """Choices drawn through hypothesis (so failing scenarios shrink)."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        """Wrap a ``draw`` function from :func:`hypothesis.strategies.composite`."""
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        """Drawn with :func:`hypothesis.strategies.integers`."""
        value: int = self.draw(st.integers(lo, hi))
        return value

    def choice(self, items: Sequence[T]) -> T:
        """Drawn with :func:`hypothesis.strategies.sampled_from`."""
        value: T = self.draw(st.sampled_from(items))
        return value


def chance(c: Chooser, percent: int) -> bool:
    """True with roughly ``percent`` % probability (shrinks to False)."""
    return c.integer(0, 99) >= 100 - percent


@dataclass
class Conn:
    """A connection in the world model."""

    connection_id: str
    type: str
    initial: bool
    state: str
    at: float
    extra: Json = field(default_factory=dict)


@dataclass
class Contact:
    """A contact in the world model."""

    contact_id: str
    channel: str
    state: str
    at: float
    conns: list[Conn]
    extra: Json = field(default_factory=dict)


def base_configuration(variant: int = 0) -> Json:
    """The agent configuration (oracle format); ``variant`` changes states, concurrency and flags."""
    names = ["Available", "Lunch", "Break", "Offline"]
    if variant % 3 == 1:
        names = ["Available", "Lunch", "Offline", "Training"]
    elif variant % 3 == 2:
        names = ["Offline", "Lunch", "Available"]
    states = [
        {"agentStateARN": f"{INSTANCE}/agent-state/st-{n.lower()}", "type": CONFIGURED_STATES[n], "name": n}
        for n in names
    ]
    return {
        "name": "Jane Doe",
        "username": "jane.doe",
        "softphoneEnabled": True,
        "softphoneAutoAccept": variant % 2 == 1,
        "extension": "+15555550199",
        "agentARN": f"{INSTANCE}/agent/{AGENT_ID}",
        "agentPreferences": {"locale": "en_US"},
        "routingProfile": {
            "name": "Basic Routing Profile",
            "routingProfileARN": f"{INSTANCE}/routing-profile/rp-basic",
            "defaultOutboundQueue": SUPPORT_QUEUE if variant % 4 == 3 else BASIC_QUEUE,
            "channelConcurrencyMap": {"VOICE": 1, "CHAT": 2 + variant % 3, "TASK": 3},
            "queues": [BASIC_QUEUE, SUPPORT_QUEUE, AGENT_QUEUE],
        },
        "agentStates": states,
        "permissions": ["outboundCall", "voiceId"],
        "dialableCountries": ["us", "ca", "gb"],
    }


class ScenarioBuilder:
    """Builds one scenario step by step from a :class:`Chooser`.

    ``chaos`` (0-100) is the percentage of state moves that ignore :data:`LIFECYCLE` (0 gives a
    realistic contact-centre flow, as used by the benchmark).
    """

    def __init__(self, c: Chooser, *, chaos: int = 30, max_contacts: int = 4) -> None:
        """Start an empty world."""
        self.c = c
        self.chaos = chaos
        self.max_contacts = max_contacts
        self.epoch = chance(c, 50)
        self.fractional = chance(c, 30)
        self.now = 0.0
        self.serial = 0
        self.contacts: list[Contact] = []
        self.gone: list[Contact] = []
        self.agent: tuple[str, str, float] = ("Available", "routable", 0.0)
        self.next_state: str | None = None
        self.next_state_null = False
        self.last_snapshot: Json | None = None
        self.config_variant = c.integer(0, 5)
        self.steps: list[Json] = []

    # -- wire encoding ---------------------------------------------------------------------
    def ts(self, at: float) -> float | str:
        """A wire timestamp ``at`` seconds after T0: epoch seconds or ISO-8601, per scenario."""
        if self.epoch:
            return round(T0 + at, 3)
        return datetime.fromtimestamp(T0 + at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def agent_state(self, name: str, type_: str, at: float) -> Json:
        """Wire ``AgentState``."""
        arn = f"{INSTANCE}/agent-state/st-{name.lower()}" if name in CONFIGURED_STATES else None
        return {"agentStateARN": arn, "type": type_, "name": name, "startTimestamp": self.ts(at)}

    def wire_conn(self, k: Conn) -> Json:
        """Wire ``Connection``."""
        return {
            "connectionId": k.connection_id,
            "type": k.type,
            "initial": k.initial,
            "state": {"type": k.state, "timestamp": self.ts(k.at)},
            "mute": False,
            **k.extra,
        }

    def wire_contact(self, x: Contact) -> Json:
        """Wire ``Contact``."""
        extra = {k: v for k, v in x.extra.items() if k != "_initial"}
        return {
            "contactId": x.contact_id,
            "initialContactId": x.extra.get("_initial", x.contact_id),
            "type": x.channel,
            "state": {"type": x.state, "timestamp": self.ts(x.at)},
            "queue": BASIC_QUEUE,
            "queueTimestamp": self.ts(max(0.0, x.at - 5)),
            "connections": [self.wire_conn(k) for k in x.conns],
            "attributes": {},
            "contactDuration": "0",
            **extra,
        }

    def snapshot(self) -> Json:
        """The current world as ``GetAgentSnapshot.snapshot`` wire data."""
        name, type_, at = self.agent
        snap: Json = {
            "state": self.agent_state(name, type_, at),
            "agentAvailabilityState": {"state": "Available", "timeStamp": self.ts(0)},
            "contacts": [self.wire_contact(x) for x in self.contacts],
            "snapshotTimestamp": self.ts(self.now),
        }
        if self.next_state is not None:
            snap["nextState"] = self.agent_state(self.next_state, CONFIGURED_STATES[self.next_state], self.now)
        elif self.next_state_null:
            snap["nextState"] = None
        return snap

    # -- world changes ---------------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh contact id: UUID-like, short, or integer-like (JS orders those first)."""
        self.serial += 1
        n = self.serial
        form = self.c.integer(0, 9)
        if form <= 1:
            return str(self.c.integer(0, 40) * 7 + n)
        if form <= 3:
            return f"c-{n}"
        return f"{n:08x}-1111-4222-8333-{n * 7919:012x}"

    def make_contact(self) -> Contact:
        """A new contact on a random channel, in a plausible first state."""
        c = self.c
        channel = c.choice(CHANNELS)
        cid = self.new_id()
        while any(x.contact_id == cid for x in self.contacts):
            cid = self.new_id()
        state = c.choice(("connecting", "incoming", "connected", "init", "pending", "ended", "missed"))
        at = max(0.0, self.now - c.integer(0, 3))
        agent_state = "connected" if state == "connected" else "connecting"
        phone = {"type": "phone_number", "phoneNumber": f"+155555501{c.integer(0, 99):02d}"}
        extra: Json = {"initiationMethod": c.choice(("inbound", "outbound", "transfer", "callback", "api"))}
        wire_variant = c.integer(0, 9)  # nulls and optional members as the real wire has them
        if wire_variant == 1:
            extra.update(queue=None, queueTimestamp=None)
        elif wire_variant == 2:
            extra.update(queue=SUPPORT_QUEUE, attributes={"tier": {"name": "tier", "value": "gold"}})
        elif wire_variant == 3:
            extra.update(contactDuration=None, relatedContactId="c-related", initiationMethod=None)
        conns: list[Conn]
        if channel == "task":
            conns = [Conn(f"k-{cid}-a", "agent", True, agent_state, at)]
            extra.update(
                _initial=None,
                name=f"Task {cid}",
                description="synthetic task",
                references={"Ticket": {"type": "URL", "value": f"https://tickets.example.com/{cid}"}},
            )
        elif channel == "chat":
            media = {"chatMediaInfo": {"chatAutoAccept": False, "connectionData": None, "customerName": None}}
            conns = [
                Conn(f"k-{cid}-a", "agent", False, agent_state, at, {"endpoint": {"type": "agent"}, **media}),
                Conn(f"k-{cid}-c", "inbound", True, "connected", at, {"chatMediaInfo": {"customerName": "C"}}),
            ]
            extra["contactFeatures"] = {"attachmentsEnabled": True, "multiPartyConferenceEnabled": False}
        else:
            soft = {"callType": "audio_only", "autoAccept": False, "mediaLegContextToken": "mlct"}
            conns = [
                Conn(f"k-{cid}-a", "agent", False, agent_state, at, {"softphoneMediaInfo": soft}),
                Conn(
                    f"k-{cid}-c",
                    c.choice(("inbound", "outbound")),
                    True,
                    "connected",
                    at,
                    {"endpoint": phone},
                ),
            ]
            if channel == "queue_callback":
                extra.update(_initial=f"{cid}-orig", initiationMethod="callback")
        return Contact(cid, channel, state, at, conns, extra)

    def move_contact(self, x: Contact) -> None:
        """Move a contact to a new state (plausible, or any state with ``chaos`` %)."""
        options = CONTACT_STATES if chance(self.c, self.chaos) else LIFECYCLE[x.state]
        x.state = self.c.choice(options)
        x.at = self.now
        agent = next((k for k in x.conns if k.type == "agent"), None)
        if agent is not None:
            agent.state = {"connected": "connected", "paused": "connected"}.get(
                x.state, "connecting" if x.state in {"incoming", "pending", "connecting"} else "disconnected"
            )
            agent.at = self.now

    def change_connection(self, x: Contact) -> None:
        """Hold/resume a leg, add or drop a third party, or set a random connection state."""
        c = self.c
        what = c.integer(0, 5)
        others = [k for k in x.conns if k.type != "agent"]
        if what <= 1 and others:  # hold / resume the customer
            k = others[0]
            k.state = "connected" if k.state == "hold" else "hold"
            k.at = self.now
        elif what in {2, 5} and x.channel in {"voice", "queue_callback"} and len(x.conns) < 4:
            phone = {"type": "phone_number", "phoneNumber": f"+155555502{c.integer(0, 99):02d}"}
            n = len(x.conns)
            x.conns.append(
                Conn(f"k-{x.contact_id}-t{n}", "outbound", False, "connecting", self.now, {"endpoint": phone})
            )
        elif what == 3 and len(others) > 1:
            third = others[-1]
            if chance(c, 50):
                x.conns.remove(third)
            else:
                third.state = "disconnected"
                third.at = self.now
        else:
            k = c.choice(x.conns)
            k.state = c.choice(CONNECTION_STATES)
            k.at = self.now

    def change_agent(self) -> None:
        """New agent state: configured, system, AfterCallWork, error names, odd name/type pairs."""
        c = self.c
        kind = c.integer(0, 9)
        if kind <= 3:
            name = c.choice(tuple(CONFIGURED_STATES))
            type_ = CONFIGURED_STATES[name]
        elif kind <= 5:
            name, type_ = c.choice(SYSTEM_STATES), "system"
        elif kind == 6:
            name, type_ = "AfterCallWork", "system"
        elif kind <= 8:
            name, type_ = c.choice(ERROR_STATES), c.choice(("error", "error", "system"))
        else:
            name = c.choice(("Init", "AfterCallWork", "Offline", "SomethingElse", "Available"))
            type_ = c.choice(("init", "routable", "not_routable", "offline", "system", "error"))
        self.agent = (name, type_, self.now if (name, type_) != self.agent[:2] else self.agent[2])

    def _tidy(self) -> bool:
        """In realistic mode, whether some finished contact is waiting to be cleared."""
        return self.chaos == 0 and any(x.state in FINISHED for x in self.contacts)

    def mutate(self) -> None:
        """Apply 0-3 random changes to the world."""
        c = self.c
        for _ in range(c.integer(0, 3)):
            op = c.integer(0, 11)
            if op <= 2 and self.contacts:
                self.move_contact(c.choice(self.contacts))
            elif op <= 4 and len(self.contacts) < self.max_contacts and not (op == 4 and self._tidy()):
                x = self.make_contact()
                if self.gone and chance(c, 25):  # a removed contact comes back
                    back = self.gone.pop(c.integer(0, len(self.gone) - 1))
                    if all(y.contact_id != back.contact_id for y in self.contacts):
                        x = back
                        x.state, x.at = c.choice(("connecting", "connected", "ended")), self.now
                self.contacts.insert(c.integer(0, len(self.contacts)), x)
            elif op <= 5 and self.contacts:
                finished = [i for i, x in enumerate(self.contacts) if x.state in FINISHED]
                realistic = finished and self.chaos == 0  # the agent clears finished work
                index = c.choice(finished) if realistic else c.integer(0, len(self.contacts) - 1)
                self.gone.append(self.contacts.pop(index))
            elif op == 6 and self.contacts:
                self.change_connection(c.choice(self.contacts))
            elif op <= 8:
                self.change_agent()
            elif op == 9:
                self.next_state = c.choice(ALWAYS_CONFIGURED) if self.next_state is None else None
                self.next_state_null = self.next_state is None and chance(c, 50)
            elif op == 10 and len(self.contacts) > 1:  # wire order differs from timestamp order
                self.contacts.append(self.contacts.pop(0))

    # -- steps -----------------------------------------------------------------------------
    def snapshot_step(self) -> Json:
        """Advance the clock (possibly by 0 s), mutate the world and emit a snapshot step."""
        step_s = self.c.integer(0, 20)
        self.now += step_s + (self.c.integer(0, 999) / 1000 if self.fractional else 0)
        self.mutate()
        snap = self.snapshot()
        self.last_snapshot = snap
        step: Json = {"snapshot": snap}
        if chance(self.c, 4):  # a snapshot step that also carries a (future) configuration
            self.config_variant = self.c.integer(0, 5)
            step["configuration"] = base_configuration(self.config_variant)
        return step

    def action_step(self) -> Json:
        """An API call on the agent, a visible contact or one of its connections."""
        c = self.c
        step: Json
        if self.contacts and chance(c, 70):
            x = c.choice(self.contacts)
            if chance(c, 35):
                conferenced = [y for y in self.contacts if len(y.conns) > 2]
                if conferenced and chance(c, 50):
                    x = c.choice(conferenced)
                step = self._connection_action(x)
            else:
                method = c.choice(
                    ("accept", "reject", "clear", "notifyIssue", "addConnection", "toggleActiveConnections",
                     "conferenceConnections", "complete")
                )  # fmt: skip
                args: list[Any] = ["$callbacks"]
                if method == "notifyIssue":
                    args = [c.choice(("AUDIO_ISSUE", "OTHER")), "synthetic description", "$callbacks"]
                elif method == "addConnection":
                    endpoint = c.choice(
                        (
                            {"type": "phone_number", "phoneNumber": "+15555550188"},
                            {
                                "type": "queue",
                                "endpointARN": f"{INSTANCE}/transfer-destination/qc-1",
                                "name": "Q",
                            },
                            {
                                "type": "agent",
                                "endpointId": f"{INSTANCE}/transfer-destination/ag-1",
                                "name": "Bo",
                            },
                        )
                    )
                    args = [endpoint, "$callbacks"]
                step = {"action": f"contact.{method}", "contactId": x.contact_id, "args": args}
        else:
            step = self._agent_action()
        if chance(c, 15):
            step["respond"] = {"error": dict(c.choice(ERROR_RESPONSES))}
        return step

    def _connection_action(self, x: Contact) -> Json:
        c = self.c
        k = c.choice(x.conns)
        selector = k.connection_id
        if k.type == "agent" and chance(c, 50):
            selector = "agent"
        elif k.initial and chance(c, 50):
            selector = "initial"
        active = {"connecting", "connected", "hold", "silent_monitor", "barge"}
        if any(not y.initial and y.type != "agent" and y.state in active for y in x.conns) and chance(c, 50):
            selector = "thirdParty"
        method = c.choice(("hold", "resume", "destroy", "sendDigits"))
        args: list[Any] = ["$callbacks"] if method != "sendDigits" else [c.choice(("1", "12#", "*9")), "$callbacks"]
        return {
            "action": f"connection.{method}",
            "contactId": x.contact_id,
            "connection": selector,
            "args": args,
        }

    def _agent_action(self) -> Json:
        c = self.c
        kind = c.integer(0, 5)
        if kind <= 2:
            args: list[Any] = [f"$agentState:{c.choice(ALWAYS_CONFIGURED)}", "$callbacks"]
            if kind == 1:
                args.append({"enqueueNextState": True})
            elif kind == 2 and chance(c, 50):
                args.append({"enqueueNextState": False})
            return {"action": "agent.setState", "args": args}
        if kind == 3:
            cfg = base_configuration(self.config_variant)
            cfg["softphoneAutoAccept"] = chance(c, 50)
            cfg["agentPreferences"] = {"locale": c.choice(("en_US", "de_DE", "xx_YY"))}
            return {"action": "agent.setConfiguration", "args": [cfg, "$callbacks"]}
        params: Json = {"success": "$callback", "failure": "$callback"}
        if chance(c, 50):
            params["queueARN"] = SUPPORT_QUEUE["queueARN"]
        if self.contacts and chance(c, 30):
            params["relatedContactId"] = self.contacts[0].contact_id
        phone = {"type": "phone_number", "phoneNumber": f"+155555503{c.integer(0, 99):02d}"}
        return {"action": "agent.connect", "args": [phone, params]}

    def configuration_step(self) -> Json:
        """A configuration reload (the worker re-sends the current snapshot)."""
        self.config_variant = self.c.integer(0, 5)
        return {"configuration": base_configuration(self.config_variant)}

    def build(self, n_steps: int) -> Json:
        """A whole scenario of ``n_steps`` steps (the first snapshot may be preceded by others)."""
        c = self.c
        steps: list[Json] = []
        for i in range(n_steps):
            kind = c.integer(0, 19) if i else c.choice((0, 0, 0, 0, 17, 19))
            if kind <= 10 or (kind <= 16 and self.last_snapshot is None):
                steps.append(self.snapshot_step())
            elif kind <= 12 and self.last_snapshot is not None:  # exact or re-stamped duplicate
                dup = copy.deepcopy(self.last_snapshot)
                if chance(c, 50):
                    self.now += c.integer(0, 5)
                    dup["snapshotTimestamp"] = self.ts(self.now)
                steps.append({"snapshot": dup})
            elif kind <= 16:
                steps.append(self.action_step())
            elif kind <= 18:
                steps.append(self.configuration_step())
            else:
                event, data = c.choice(INJECTS)
                steps.append({"inject": event, "data": copy.deepcopy(data)})
        return {"configuration": base_configuration(self.config_variant), "steps": steps}


@st.composite
def scenarios(draw: Callable[[st.SearchStrategy[Any]], Any], max_steps: int = 16) -> Json:
    """Hypothesis strategy: a plausible oracle scenario with 1..``max_steps`` steps."""
    chooser = HypothesisChooser(draw)
    builder = ScenarioBuilder(chooser, chaos=draw(st.sampled_from((30, 0, 100))))
    return builder.build(chooser.integer(1, max_steps))


def realistic_stream(seed: int, n_snapshots: int, *, max_contacts: int = 3) -> Json:
    """A deterministic lifecycle-following scenario with about ``n_snapshots`` snapshot steps."""
    builder = ScenarioBuilder(RandomChooser(seed), chaos=0, max_contacts=max_contacts)
    return builder.build(int(n_snapshots / 0.6))
