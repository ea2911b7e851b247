"""Stochastic behaviour of customers and agents: Poisson arrivals, patience, answering, missing and
rejecting, holds, transfers, conferences, hang-ups, after-contact work, breaks, outbound calls.

Agents act only through the engine's CTI operations (the same ones the action backend exposes), so
simulated agents and agents driven by plugins follow the same rules. Agents listed in
``SimulationConfig.manual_agents`` are logged in but otherwise left alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

from hub.simulator.engine import ContactCenter
from hub.simulator.errors import CTIError
from hub.simulator.model import VOICE_TYPES, Agent, Connection, Contact, Leg

__all__ = ["Behaviour"]

_ARRIVAL_KINDS = ("VOICE", "CHAT", "TASK", "CALLBACK")
_TASKS = (
    ("Refund follow-up", "Call back about the refund of order {n}"),
    ("Address change", "Update the delivery address on order {n}"),
    ("Warranty claim", "Review the warranty claim for serial {n}"),
)


class Behaviour:
    """Drives a :class:`ContactCenter` with seeded random customers and agents."""

    def __init__(self, seed: int) -> None:
        """Behaviour decisions come from their own random stream, seeded by ``seed``."""
        self.rng = random.Random(f"behaviour:{seed}")
        self.center: ContactCenter | None = None
        self.arrivals = True
        self._n = 1000
        self._started: set[str] = set()
        #: called when a voice contact connects to an agent (the simulation starts a Voice ID session)
        self.on_voice_connected: Callable[[Contact], None] | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def cc(self) -> ContactCenter:
        """The center being driven."""
        if self.center is None:
            raise RuntimeError("Behaviour.start() has not been called")
        return self.center

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        self.cc.scheduler.after(int(seconds * 1000), action)

    def _try(self, action: Callable[[], object], flush: bool = True) -> None:
        """Run an agent action; a refused action (the situation changed meanwhile) is simply skipped."""
        try:
            action()
        except CTIError:
            return
        if flush:
            self.cc.flush()

    def _exp(self, mean: float, floor: float = 1.0) -> float:
        return max(floor, self.rng.expovariate(1.0 / mean)) if mean > 0 else floor

    def _phone(self) -> str:
        return f"+1555555{self.rng.randrange(100, 9999):04d}"

    def _driven(self, agent: Agent) -> bool:
        return not agent.manual and agent.logged_in

    # ------------------------------------------------------------------ start
    def start(self, center: ContactCenter) -> None:
        """Attach to ``center``: schedule logins, arrivals, breaks and outbound calls."""
        self.center = center
        center.listener = self
        cfg = center.config
        for agent in center.agents.values():
            self._after(self.rng.uniform(0.0, cfg.login_spread), partial(self._login, agent))
        for kind in _ARRIVAL_KINDS:
            rate = cfg.arrival_rates.get(kind, 0.0)
            if rate > 0:
                self._after(self.rng.expovariate(rate / 3600.0), partial(self._arrive, kind))

    def stop_arrivals(self) -> None:
        """No new customers from now on (used to drain a run)."""
        self.arrivals = False

    def _login(self, agent: Agent) -> None:
        cc = self.cc
        cc.login(agent)
        cc.set_state(agent, cc.state_spec("Available"), enqueue=False)
        cc.flush()
        if agent.manual or agent.agent_id in self._started:
            return
        self._started.add(agent.agent_id)
        cfg = cc.config
        if cfg.break_rate > 0:
            self._after(self.rng.expovariate(cfg.break_rate / 3600.0), lambda: self._maybe_break(agent))
        if cfg.outbound_rate_per_agent > 0:
            self._after(self.rng.expovariate(cfg.outbound_rate_per_agent / 3600.0), lambda: self._maybe_dial(agent))
        if cfg.shift_length > 0:
            self._after(cfg.shift_length, lambda: self._end_shift(agent))

    def _start_shift(self, agent: Agent) -> None:
        self._login(agent)
        self._after(self.cc.config.shift_length, lambda: self._end_shift(agent))

    def _end_shift(self, agent: Agent) -> None:
        if agent.legs:  # stop taking contacts, log out once the last one is done
            if agent.next_state is None or agent.next_state.type != "offline":
                self._try(lambda: self.cc.set_state(agent, self.cc.state_spec("Offline"), enqueue=True))
            self._after(30.0, lambda: self._end_shift(agent))
            return
        self._try(lambda: self.cc.logout(agent))
        self._after(self.cc.config.shift_length / 4, lambda: self._start_shift(agent))

    # ------------------------------------------------------------------ customers
    def _arrive(self, kind: str) -> None:
        cc, cfg = self.cc, self.cc.config
        if not self.arrivals:
            return
        channel = "VOICE" if kind == "CALLBACK" else kind
        queues = [q for q in cfg.queues if channel in q.channels]
        if queues:
            queue = self.rng.choice(queues)
            self._n += 1
            attrs = {"customerId": f"C-{self.rng.randrange(1, 400):05d}"}
            if kind == "VOICE":
                cc.arrive_voice(queue, self._phone(), attrs, int(self.rng.uniform(*cfg.ivr_time) * 1000))
            elif kind == "CHAT":
                cc.arrive_chat(queue, f"Customer {self._n}", attrs)
            elif kind == "TASK":
                name, desc = self.rng.choice(_TASKS)
                refs = {"Ticket": {"type": "URL", "value": f"https://tickets.example.com/T-{self._n}"}}
                cc.arrive_task(queue, name, desc.format(n=self._n), refs)
            else:
                cc.arrive_callback(queue, self._phone(), attrs)
            cc.flush()
        rate = cfg.arrival_rates[kind]
        self._after(self.rng.expovariate(rate / 3600.0), lambda: self._arrive(kind))

    def queued(self, contact: Contact) -> None:
        """Callers and chat customers abandon if they wait too long."""
        if contact.type not in {"voice", "chat"}:
            return
        patience = self._exp(self.cc.config.patience, 5.0)

        def abandon() -> None:
            if contact.queued and contact.disconnect_ms is None:
                self.cc.customer_hangup(contact)
                self.cc.flush()

        self._after(patience, abandon)

    # ------------------------------------------------------------------ agents
    def offered(self, agent: Agent, leg: Leg) -> None:
        """Answer, reject or let it ring out."""
        if agent.manual:
            return
        cfg = self.cc.config
        draw = self.rng.random()
        if draw < cfg.p_miss:
            return  # rings out: MissedCallAgent
        cid = leg.contact.contact_id
        delay = self.rng.uniform(*cfg.accept_delay)
        if draw < cfg.p_miss + cfg.p_reject:
            self._after(delay, lambda: self._try(lambda: self.cc.reject(agent, cid)))
        else:
            self._after(delay, lambda: self._try(lambda: self.cc.accept(agent, cid)))

    def agent_error(self, agent: Agent) -> None:
        """After a miss or failure the agent dismisses it and sets Available again."""
        if agent.manual:
            return

        def recover() -> None:
            if agent.error_state is None:
                return
            for cid, leg in list(agent.legs.items()):
                if leg.state in {"missed", "rejected", "error"}:
                    self._try(partial(self.cc.clear, agent, cid), flush=False)
            self._try(lambda: self.cc.set_state(agent, self.cc.state_spec("Available"), enqueue=False))

        self._after(self.rng.uniform(*self.cc.config.error_recovery), recover)

    def connected(self, agent: Agent, leg: Leg) -> None:
        """Plan the conversation: holds, transfers, conferences, pauses, and who ends it."""
        contact = leg.contact
        cc, cfg = self.cc, self.cc.config
        handle = self._exp(cfg.handle_time.get(contact.channel, 120.0), 15.0)
        cid = contact.contact_id
        if self.on_voice_connected is not None and contact.type in VOICE_TYPES:
            self.on_voice_connected(contact)
        if agent.manual:
            self._after(handle, lambda: self._customer_ends(contact))
            return
        if contact.channel == "VOICE":
            draw = self.rng.random()
            if draw < cfg.p_transfer and contact.initiation_method != "outbound":
                self._after(handle * 0.6, lambda: self._start_transfer(agent, cid))
                return
            if draw < cfg.p_transfer + cfg.p_conference:
                self._after(handle * 0.4, lambda: self._start_conference(agent, cid))
            elif draw < cfg.p_transfer + cfg.p_conference + cfg.p_hold:
                self._after(handle * self.rng.uniform(0.2, 0.5), lambda: self._hold_for_a_while(agent, cid))
        elif contact.channel == "TASK" and self.rng.random() < cfg.p_task_pause:
            self._after(handle * 0.3, lambda: self._try(lambda: cc.pause(agent, cid)))
            self._after(
                handle * 0.3 + self.rng.uniform(10, 60), lambda: self._try(lambda: cc.resume_contact(agent, cid))
            )
            handle += 60
        self._after(handle, lambda: self._finish(agent, leg))

    def _customer_party(self, agent: Agent, cid: str) -> Connection | None:
        leg = agent.legs.get(cid)
        return leg.contact.customer if leg is not None and leg.state == "connected" else None

    def _hold_for_a_while(self, agent: Agent, cid: str) -> None:
        customer = self._customer_party(agent, cid)
        if customer is None:
            return
        self._try(lambda: self.cc.hold(agent, cid, customer.connection_id))
        self._after(
            self.rng.uniform(10.0, 60.0), lambda: self._try(lambda: self.cc.resume(agent, cid, customer.connection_id))
        )

    def _start_transfer(self, agent: Agent, cid: str) -> None:
        leg = agent.legs.get(cid)
        if leg is None or leg.state != "connected":
            return
        targets = [
            q for q in self.cc.config.queues if q.queue_id != leg.contact.queue.queue_id and "VOICE" in q.channels
        ]
        if not targets:
            return
        queue = self.rng.choice(targets)
        endpoint = {"type": "queue", "endpointARN": self.cc.config.arn(f"queue/{queue.queue_id}"), "name": queue.name}
        self._try(lambda: self.cc.add_connection(agent, cid, endpoint))

    def _start_conference(self, agent: Agent, cid: str) -> None:
        self._try(lambda: self.cc.add_connection(agent, cid, {"type": "phone_number", "phoneNumber": self._phone()}))

    def third_party_connected(self, agent: Agent, leg: Leg, connection: Connection) -> None:
        """Queue transfers: the agent leaves. External parties: conference, then they drop off."""
        if agent.manual:
            return
        cid = leg.contact.contact_id
        if (connection.endpoint or {}).get("type") == "queue":
            self._after(
                self.rng.uniform(2.0, 5.0),
                lambda: self._try(lambda: self.cc.destroy_connection(agent, cid, leg.connection.connection_id)),
            )
            return
        self._after(self.rng.uniform(5.0, 15.0), lambda: self._try(lambda: self.cc.conference(agent, cid)))
        self._after(
            self.rng.uniform(30.0, 90.0),
            lambda: self._try(lambda: self.cc.destroy_connection(agent, cid, connection.connection_id)),
        )

    def _customer_ends(self, contact: Contact) -> None:
        if contact.disconnect_ms is None:
            self.cc.customer_hangup(contact)
            self.cc.flush()

    def _finish(self, agent: Agent, leg: Leg) -> None:
        contact = leg.contact
        if contact.disconnect_ms is not None or agent.legs.get(contact.contact_id) is not leg:
            return
        cfg = self.cc.config
        if leg.state == "paused":
            self._after(20.0, lambda: self._finish(agent, leg))
            return
        if contact.type == "task":
            if self.rng.random() < cfg.p_task_complete_without_acw:
                self._try(lambda: self.cc.complete(agent, contact.contact_id))
            else:
                self._try(lambda: self.cc.destroy_connection(agent, contact.contact_id, leg.connection.connection_id))
            return
        if contact.third_parties:
            for party in list(contact.third_parties):
                self._try(partial(self.cc.destroy_connection, agent, contact.contact_id, party.connection_id))
        if self.rng.random() < cfg.p_agent_hangup:
            self._try(lambda: self.cc.destroy_connection(agent, contact.contact_id, leg.connection.connection_id))
        else:
            self._customer_ends(contact)

    def after_contact_work(self, agent: Agent, leg: Leg) -> None:
        """Wrap up, then clear the contact."""
        if agent.manual:
            return
        acw = self._exp(self.cc.config.acw_time.get(leg.contact.channel, 20.0), 2.0)
        cid = leg.contact.contact_id
        self._after(acw, lambda: self._try(lambda: self.cc.clear(agent, cid)))

    def _maybe_break(self, agent: Agent) -> None:
        cc, cfg = self.cc, self.cc.config
        if not self._driven(agent):
            return
        nxt = self.rng.expovariate(cfg.break_rate / 3600.0) if cfg.break_rate > 0 else None
        if agent.selected.name == "Available" and agent.error_state is None and agent.next_state is None:
            spec = cc.state_spec(self.rng.choice(["Break", "Lunch", "Break"]))
            if not agent.legs:
                self._try(lambda: cc.set_state(agent, spec, enqueue=False))
            elif self.rng.random() < cfg.p_break_enqueued:
                self._try(lambda: cc.set_state(agent, spec, enqueue=True))
            self._after(self.rng.uniform(*cfg.break_time), lambda: self._back_from_break(agent))
        if nxt is not None:
            self._after(nxt, lambda: self._maybe_break(agent))

    def _back_from_break(self, agent: Agent) -> None:
        if not self._driven(agent):
            return
        if agent.next_state is not None:
            self._after(60.0, lambda: self._back_from_break(agent))
        elif agent.selected.name in {"Break", "Lunch"}:
            self._try(lambda: self.cc.set_state(agent, self.cc.state_spec("Available"), enqueue=False))

    def _maybe_dial(self, agent: Agent) -> None:
        cc, cfg = self.cc, self.cc.config
        if self._driven(agent) and self.arrivals and not agent.legs and agent.selected.name == "Available":
            self._try(lambda: cc.create_outbound(agent, {"type": "phone_number", "phoneNumber": self._phone()}, None))
        self._after(self.rng.expovariate(cfg.outbound_rate_per_agent / 3600.0), lambda: self._maybe_dial(agent))
