"""The contact-center engine: contacts, routing and the CTI operations, over a simulated clock.

Every operation validates like Amazon Connect (raising :class:`~hub.simulator.errors.CTIError`),
changes the model, and marks the agents it touched. :meth:`ContactCenter.flush` then routes queued
contacts and emits what changed through the :class:`~hub.simulator.emission.Emitter`. Agents and
customers are driven from outside: by :mod:`hub.simulator.behaviour`, or through the action backend.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from hub.simulator.call_control import CallControl
from hub.simulator.clock import Scheduler, Timer, epoch_ms
from hub.simulator.config import AgentStateSpec, QueueSpec, SimulationConfig, agent_resource_id
from hub.simulator.emission import Emitter
from hub.simulator.errors import CTIError
from hub.simulator.hooks import EngineListener
from hub.simulator.ids import IdSource
from hub.simulator.model import VOICE_TYPES, Agent, Connection, Contact, Leg
from hub.simulator.sinks import Sink

__all__ = ["ContactCenter", "EngineListener"]

JSON = dict[str, Any]
_JOIN_MS = 1000  # accept -> media connected


class ContactCenter(CallControl):
    """A simulated Amazon Connect instance."""

    def __init__(
        self,
        config: SimulationConfig,
        seed: int,
        sink: Sink,
        listener: EngineListener | None = None,
    ) -> None:
        """Build the instance: agents (logged out), queues, and a clock at ``config.start``."""
        self.config = config
        self.scheduler = Scheduler(epoch_ms(config.start))
        self.ids = IdSource(seed, "ids")
        self.rng = random.Random(f"system:{seed}")
        self.listener = listener
        self.agents: dict[str, Agent] = {}
        self.contacts: dict[str, Contact] = {}
        self._queue: list[Contact] = []
        self._seq = 0
        offline = self.state_spec("Offline")
        manual = set(config.manual_agents)
        for i in range(config.agents):
            aid = agent_resource_id(i)
            first = config.first_names[i % len(config.first_names)]
            last = config.last_names[(i * 7 + 3) % len(config.last_names)]
            username = f"agent{i + 1:02d}"
            self.agents[aid] = Agent(
                agent_id=aid,
                index=i,
                username=username,
                first_name=first,
                last_name=last,
                extension=f"+1555555{1000 + i:04d}",
                selected=offline,
                selected_ms=self.now,
                profile=config.profile_of(i),
                manual=aid in manual or username in manual,
            )
        self.emitter = Emitter(config, sink, self.scheduler, self.ids, list(self.agents.values()))

    # ------------------------------------------------------------------ lookups
    @property
    def now(self) -> int:
        """Simulated time, epoch milliseconds."""
        return self.scheduler.now

    def agent(self, ident: str) -> Agent:
        """An agent by resource id, username, ARN or 0-based index; ``KeyError`` if unknown."""
        if ident in self.agents:
            return self.agents[ident]
        for agent in self.agents.values():
            if ident in {agent.username, self.config.arn(f"agent/{agent.agent_id}"), str(agent.index)}:
                return agent
        raise KeyError(f"no simulated agent {ident!r}")

    def state_spec(self, name_or_arn: str) -> AgentStateSpec:
        """A configured agent status by name or ARN; ``InvalidStateException`` if unknown."""
        for spec in self.config.agent_states:
            if name_or_arn in {spec.name, self.config.arn(f"agent-state/{spec.state_id}")}:
                return spec
        raise CTIError.invalid_state(f"unknown agent state {name_or_arn!r}")

    def queue(self, ident: str | None) -> QueueSpec:
        """A queue by id or ARN (``None``: the default outbound queue)."""
        if ident is None:
            return self.config.queues[0]
        for q in self.config.queues:
            if ident in {q.queue_id, self.config.arn(f"queue/{q.queue_id}")}:
                return q
        raise CTIError.invalid_configuration(f"unknown queue {ident!r}")

    def leg(self, agent: Agent, contact_id: str) -> Leg:
        """The agent's leg of ``contact_id``; ``InvalidStateException`` if the agent does not have it."""
        leg = agent.legs.get(contact_id)
        if leg is None:
            raise CTIError.invalid_state(f"contact {contact_id} is not assigned to this agent")
        return leg

    def queued_contacts(self) -> list[Contact]:
        """Contacts waiting in queues, in routing order."""
        return list(self._queue)

    def busy(self) -> bool:
        """True while any contact is still open (queued, in the flow, connected or in ACW)."""
        return any(not c.done for c in self.contacts.values()) or any(a.legs for a in self.agents.values())

    # ------------------------------------------------------------------ emission
    def touch(self, agent: Agent) -> None:
        """Mark ``agent`` as changed: its agent data is re-rendered at the next flush."""
        self.emitter.dirty.add(agent.agent_id)

    def flush(self) -> None:
        """Route waiting contacts, then emit agent data and agent events for every changed agent."""
        self._route()
        self.emitter.flush(self.now)

    def _event(self, contact: Contact, event_type: str) -> None:
        self.emitter.contact_event(contact, event_type, self.now)

    # ------------------------------------------------------------------ sessions and states
    def login(self, agent: Agent) -> None:
        """The agent opens the CCP (``LOGIN``); its status stays what it was (Offline) until set."""
        if agent.logged_in:
            return
        agent.logged_in = True
        agent.logout_ms = None
        self.emitter.login(agent, self.now)
        self.touch(agent)

    def logout(self, agent: Agent) -> None:
        """The agent goes Offline and logs out (``LOGOUT``); fails while it still has contacts."""
        if not agent.logged_in:
            return
        if agent.legs:
            raise CTIError.invalid_state("cannot log out with open contacts")
        self.set_state(agent, self.state_spec("Offline"), enqueue=False)
        self.flush()
        agent.logged_in = False
        agent.logout_ms = self.now
        self.emitter.logout(agent, self.now)

    def set_state(self, agent: Agent, spec: AgentStateSpec, enqueue: bool) -> None:
        """``putAgentState``: select ``spec`` now, or as the next state while contacts are open."""
        if not agent.logged_in:
            self.login(agent)
        if enqueue and agent.legs:
            agent.next_state = spec
            agent.next_state_ms = self.now
        else:
            agent.selected = spec
            agent.selected_ms = self.now
            agent.next_state = None
            agent.error_state = None
        self.touch(agent)

    def _set_error(self, agent: Agent, name: str) -> None:
        agent.error_state = name
        self.touch(agent)
        if self.listener is not None:
            self.listener.agent_error(agent)

    # ------------------------------------------------------------------ arrivals
    def _new_contact(
        self,
        channel: str,
        type_: str,
        method: str,
        queue: QueueSpec,
        customer: Connection | None,
        *,
        initial_contact_id: str | None = None,
    ) -> Contact:
        self._seq += 1
        cid = self.ids.uuid()
        contact = Contact(
            contact_id=cid,
            initial_contact_id=initial_contact_id or cid,
            channel=channel,
            type=type_,
            initiation_method=method,
            queue=queue,
            initiation_ms=self.now,
            customer=customer,
            seq=self._seq,
        )
        self.contacts[cid] = contact
        return contact

    def _customer(self, type_: str, phone: str | None) -> Connection:
        endpoint = {"type": "phone_number", "phoneNumber": phone} if phone else None
        return Connection(self.ids.uuid(), type_, True, "connected", self.now, endpoint)

    def arrive_voice(self, queue: QueueSpec, phone: str, attributes: Mapping[str, str], flow_ms: int) -> Contact:
        """An inbound call: ``INITIATED`` now, queued after ``flow_ms`` in the contact flow."""
        contact = self._new_contact("VOICE", "voice", "inbound", queue, self._customer("inbound", phone))
        contact.attributes.update(attributes)
        contact.connected_to_system_ms = self.now
        self._event(contact, "INITIATED")
        self.scheduler.after(flow_ms, lambda: self.enqueue(contact))
        return contact

    def arrive_chat(self, queue: QueueSpec, customer_name: str, attributes: Mapping[str, str]) -> Contact:
        """A chat, queued at once."""
        contact = self._new_contact("CHAT", "chat", "api", queue, self._customer("inbound", None))
        contact.customer_name = customer_name
        contact.attributes.update(attributes)
        contact.connected_to_system_ms = self.now
        self._event(contact, "INITIATED")
        self._event(contact, "CONNECTED_TO_SYSTEM")
        self.enqueue(contact)
        return contact

    def arrive_task(
        self, queue: QueueSpec, name: str, description: str, references: Mapping[str, Mapping[str, str]]
    ) -> Contact:
        """A task created through the API, queued at once."""
        contact = self._new_contact("TASK", "task", "api", queue, None)
        contact.task_name = name
        contact.task_description = description
        contact.references = {k: dict(v) for k, v in references.items()}
        contact.connected_to_system_ms = self.now
        self._event(contact, "INITIATED")
        self._event(contact, "CONNECTED_TO_SYSTEM")
        self.enqueue(contact)
        return contact

    def arrive_callback(self, queue: QueueSpec, phone: str, attributes: Mapping[str, str]) -> Contact:
        """A queued callback created from an earlier inbound call."""
        original = self.ids.uuid()
        contact = self._new_contact(
            "VOICE", "queue_callback", "callback", queue, self._customer("inbound", phone), initial_contact_id=original
        )
        contact.attributes.update(attributes)
        self._event(contact, "INITIATED")
        self.enqueue(contact)
        return contact

    def enqueue(self, contact: Contact) -> None:
        """Put ``contact`` in its queue (``QUEUED`` the first time)."""
        if contact.done or contact.queued:
            return
        first = contact.enqueue_ms is None
        if first:
            contact.enqueue_ms = self.now
            self._event(contact, "QUEUED")
        contact.queued = True
        contact.offered_to = None
        self._queue.append(contact)
        self._queue.sort(key=lambda c: (c.enqueue_ms or 0, c.seq))
        if self.listener is not None:
            self.listener.queued(contact)

    # ------------------------------------------------------------------ routing
    def can_route(self, agent: Agent, channel: str) -> bool:
        """Whether ``agent`` can be offered a contact on ``channel`` now."""
        if not agent.logged_in or agent.error_state is not None or agent.next_state is not None:
            return False
        if agent.selected.type != "routable":
            return False
        if any(leg.contact.channel != channel for leg in agent.legs.values()):
            return False
        return len(agent.legs_of(channel)) < agent.profile.concurrency.get(channel, 0)

    def _route(self) -> None:
        for contact in list(self._queue):
            if contact.channel not in contact.queue.channels:
                continue
            candidates = [
                a
                for a in self.agents.values()
                if contact.queue.queue_id in a.profile.queue_ids
                and contact.contact_id not in a.legs
                and self.can_route(a, contact.channel)
            ]
            if candidates:
                agent = min(candidates, key=lambda a: (a.idle_since, a.index))
                self._offer(contact, agent)

    def _offer(self, contact: Contact, agent: Agent) -> None:
        self._queue.remove(contact)
        contact.queued = False
        contact.offered_to = agent.agent_id
        contact.agent_attempts += 1
        state = "incoming" if contact.type == "queue_callback" else "connecting"
        endpoint = None if contact.type == "task" else {"type": "agent"}
        conn = Connection(self.ids.uuid(), "agent", contact.type == "task", "connecting", self.now, endpoint)
        leg = Leg(contact, agent.agent_id, state, self.now, conn, self.now)
        agent.legs[contact.contact_id] = leg
        ring = int(self.config.ring_timeout * 1000)
        leg.timers.append(self.scheduler.after(ring, lambda: self._ring_timeout(agent, leg)))
        self.touch(agent)
        if self.listener is not None:
            self.listener.offered(agent, leg)

    def _cancel(self, leg: Leg) -> None:
        for timer in leg.timers:
            if isinstance(timer, Timer):
                timer.cancel()
        leg.timers.clear()

    def _drop_leg_later(self, agent: Agent, leg: Leg) -> None:
        def drop() -> None:
            if agent.legs.get(leg.contact.contact_id) is leg:
                del agent.legs[leg.contact.contact_id]
                self._after_leg_removed(agent, leg)

        self.scheduler.after(int(self.config.missed_linger * 1000), drop)

    def _after_leg_removed(self, agent: Agent, leg: Leg) -> None:
        if not agent.legs:
            agent.idle_since = self.now
            if agent.next_state is not None:
                agent.selected, agent.selected_ms = agent.next_state, self.now
                agent.next_state = None
        if leg.contact.offered_to is None and not leg.contact.queued and not leg.contact.done:
            self._finish_if_orphaned(leg.contact)
        self.touch(agent)

    def _finish_if_orphaned(self, contact: Contact) -> None:
        """A contact whose last agent leg went away without a record (outbound failure) completes."""
        if contact.disconnect_ms is not None and not contact.done:
            self._complete(contact)

    def _unassign(self, agent: Agent, leg: Leg, leg_state: str, requeue: bool) -> None:
        self._cancel(leg)
        leg.set_state(leg_state, self.now)
        leg.connection.set_state("disconnected", self.now)
        leg.joining = leg.dialing = False
        contact = leg.contact
        if contact.offered_to == agent.agent_id:
            contact.offered_to = None
        self._drop_leg_later(agent, leg)
        self.touch(agent)
        if requeue and not contact.done and contact.disconnect_ms is None:
            self.enqueue(contact)

    def _ring_timeout(self, agent: Agent, leg: Leg) -> None:
        if agent.legs.get(leg.contact.contact_id) is not leg or leg.state not in {"connecting", "incoming"}:
            return
        if leg.joining or leg.dialing:
            return
        self._unassign(agent, leg, "missed", requeue=True)
        if leg.contact.type in VOICE_TYPES:  # a missed chat or task leaves the agent state alone
            self._set_error(agent, "MissedCallAgent")

    # ------------------------------------------------------------------ contact operations
    def accept(self, agent: Agent, contact_id: str) -> None:
        """``acceptContact``: answer a ringing (or offered callback) contact."""
        leg = self.leg(agent, contact_id)
        if leg.state not in {"connecting", "incoming"} or leg.joining or leg.dialing:
            raise CTIError.invalid_state(f"contact {contact_id} is not in a state that can be accepted")
        self._cancel(leg)
        if leg.contact.type == "queue_callback":
            leg.set_state("pending", self.now)
            leg.timers.append(self.scheduler.after(2000, lambda: self._dial_callback(agent, leg)))
        else:
            leg.joining = True
            leg.timers.append(self.scheduler.after(_JOIN_MS, lambda: self._join(agent, leg)))
        self.touch(agent)

    def _join(self, agent: Agent, leg: Leg) -> None:
        if agent.legs.get(leg.contact.contact_id) is not leg or not leg.joining:
            return
        if leg.contact.type in VOICE_TYPES and self.rng.random() < self.config.p_connect_error:
            self._unassign(agent, leg, "error", requeue=True)
            self._set_error(agent, "FailedConnectAgent")
            return
        self._connect(agent, leg)

    def _dial_callback(self, agent: Agent, leg: Leg) -> None:
        if agent.legs.get(leg.contact.contact_id) is not leg or leg.state != "pending":
            return
        leg.dialing = True
        leg.set_state("connecting", self.now)
        leg.connection.set_state("connected", self.now)
        if leg.contact.customer is not None:
            leg.contact.customer.set_state("connecting", self.now)
        self.touch(agent)
        ring = int(self.rng.uniform(4.0, 12.0) * 1000)
        leg.timers.append(self.scheduler.after(ring, lambda: self._customer_answers(agent, leg)))

    def _customer_answers(self, agent: Agent, leg: Leg) -> None:
        if agent.legs.get(leg.contact.contact_id) is not leg or not leg.dialing:
            return
        contact = leg.contact
        if contact.initiation_method == "outbound" and self.rng.random() < self.config.p_outbound_no_answer:
            leg.dialing = False
            self._cancel(leg)
            leg.set_state("error", self.now)
            leg.connection.set_state("disconnected", self.now)
            for conn in contact.other_connections():
                conn.set_state("disconnected", self.now)
            contact.disconnect_ms = self.now
            contact.disconnect_reason = "OTHER"
            contact.offered_to = None
            self._event(contact, "DISCONNECTED")
            self._drop_leg_later(agent, leg)
            self._set_error(agent, "FailedConnectCustomer")
            return
        leg.dialing = False
        if contact.customer is not None:
            contact.customer.set_state("connected", self.now)
        contact.connected_to_system_ms = self.now
        if contact.initiation_method == "outbound":
            self._event(contact, "CONNECTED_TO_SYSTEM")
        self._connect(agent, leg)

    def _connect(self, agent: Agent, leg: Leg) -> None:
        contact = leg.contact
        leg.joining = False
        self._cancel(leg)
        leg.set_state("connected", self.now)
        leg.connection.set_state("connected", self.now)
        contact.offered_to = None
        contact.agent_id = agent.agent_id
        contact.connected_to_agent_ms = self.now
        if contact.enqueue_ms is not None:
            contact.dequeue_ms = self.now
        self._event(contact, "CONNECTED_TO_AGENT")
        self.touch(agent)
        if self.listener is not None:
            self.listener.connected(agent, leg)

    def reject(self, agent: Agent, contact_id: str) -> None:
        """``rejectContact``: decline a ringing contact; it goes back to its queue.

        A rejected voice contact shows as ``missed`` with the agent in ``MissedCallAgent``, the way
        the agent event stream reports it; chats and tasks show ``rejected``.
        """
        leg = self.leg(agent, contact_id)
        if leg.state not in {"connecting", "incoming"} or leg.joining or leg.dialing:
            raise CTIError.invalid_state(f"contact {contact_id} is not ringing")
        if leg.contact.initiation_method == "outbound":
            raise CTIError.invalid_contact_type("an outbound contact cannot be rejected")
        if leg.contact.type in VOICE_TYPES:  # a rejected call counts as missed (agent event streams)
            self._unassign(agent, leg, "missed", requeue=True)
            self._set_error(agent, "MissedCallAgent")
        else:
            self._unassign(agent, leg, "rejected", requeue=True)

    def end_contact(self, contact: Contact, reason: str) -> None:
        """The conversation ends (``DISCONNECTED``): every connection drops, agents go to ACW."""
        if contact.disconnect_ms is not None:
            return
        contact.disconnect_ms = self.now
        contact.disconnect_reason = reason
        contact.holds.resume(self.now)
        for conn in contact.other_connections():
            conn.set_state("disconnected", self.now)
        if contact.queued:
            self._queue.remove(contact)
            contact.queued = False
        self._event(contact, "DISCONNECTED")
        agent = self.agents.get(contact.agent_id or "")
        leg = agent.legs.get(contact.contact_id) if agent is not None else None
        if agent is None or leg is None or leg.state not in {"connected", "paused", "connecting"}:
            for other in self.agents.values():  # a ringing offer ends with the caller
                ringing = other.legs.get(contact.contact_id)
                if ringing is not None and ringing.active:
                    self._unassign(other, ringing, "missed", requeue=False)
            if not any(contact.contact_id in a.legs for a in self.agents.values()):
                self._complete(contact)
            return
        self._cancel(leg)
        leg.dialing = leg.joining = False
        leg.set_state("ended", self.now)
        leg.connection.set_state("disconnected", self.now)
        contact.acw_start_ms = self.now
        self.touch(agent)
        if self.listener is not None:
            self.listener.after_contact_work(agent, leg)

    def customer_hangup(self, contact: Contact) -> None:
        """The customer disconnects (or abandons while queued)."""
        self.end_contact(contact, "CUSTOMER_DISCONNECT")

    def clear(self, agent: Agent, contact_id: str) -> None:
        """``clearContact``: finish after-contact work (or dismiss a missed/rejected/failed contact)."""
        leg = self.leg(agent, contact_id)
        if leg.active:
            raise CTIError.invalid_state(f"contact {contact_id} is still active")
        self._remove(agent, leg)

    def complete(self, agent: Agent, contact_id: str) -> None:
        """``completeContact``: end a task (or any contact in ACW) and remove it, skipping ACW."""
        leg = self.leg(agent, contact_id)
        if leg.active:
            if leg.contact.type != "task" or leg.state not in {"connected", "paused"}:
                raise CTIError.invalid_state(f"contact {contact_id} cannot be completed now")
            self._cancel(leg)
            contact = leg.contact
            contact.disconnect_ms = self.now
            contact.disconnect_reason = "AGENT_DISCONNECT"
            self._event(contact, "DISCONNECTED")
        self._remove(agent, leg)

    def _remove(self, agent: Agent, leg: Leg) -> None:
        self._cancel(leg)
        del agent.legs[leg.contact.contact_id]
        contact = leg.contact
        if leg.state == "ended" and contact.acw_start_ms is not None:
            contact.acw_end_ms = self.now
        if contact.disconnect_ms is not None and contact.agent_id in {agent.agent_id, None}:
            self._complete(contact)
        self._after_leg_removed(agent, leg)

    def _complete(self, contact: Contact) -> None:
        if contact.done:
            return
        contact.done = True
        self._event(contact, "COMPLETED")
        self.emitter.contact_record(contact, self.agents.get(contact.agent_id or ""), self.now)
