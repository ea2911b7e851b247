"""In-call CTI operations (hold, resume, DTMF, third parties, conference, toggle, hang-up, queue
transfer, task pause/resume) and outbound dialling, as a mixin of the contact-center engine."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.simulator.clock import Scheduler
from hub.simulator.config import QueueSpec, SimulationConfig
from hub.simulator.errors import CTIError
from hub.simulator.hooks import EngineListener
from hub.simulator.ids import IdSource
from hub.simulator.model import VOICE_TYPES, Agent, Connection, Contact, Leg

__all__ = ["CallControl"]


def _check_phone(number: str) -> None:
    if not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16):
        raise CTIError.bad_endpoint(f"invalid phone number {number!r}")


class CallControl:
    """Operations on connected contacts; mixed into :class:`~hub.simulator.engine.ContactCenter`."""

    config: SimulationConfig
    scheduler: Scheduler
    ids: IdSource
    rng: random.Random
    listener: EngineListener | None

    if TYPE_CHECKING:  # provided by ContactCenter

        @property
        def now(self) -> int: ...
        def leg(self, agent: Agent, contact_id: str) -> Leg: ...
        def queue(self, ident: str | None) -> QueueSpec: ...
        def touch(self, agent: Agent) -> None: ...
        def enqueue(self, contact: Contact) -> None: ...
        def end_contact(self, contact: Contact, reason: str) -> None: ...
        def _event(self, contact: Contact, event_type: str) -> None: ...
        def _customer(self, type_: str, phone: str | None) -> Connection: ...
        def _customer_answers(self, agent: Agent, leg: Leg) -> None: ...
        def _new_contact(
            self,
            channel: str,
            type_: str,
            method: str,
            queue: QueueSpec,
            customer: Connection | None,
            *,
            initial_contact_id: str | None = None,
        ) -> Contact: ...

    def _connected_leg(self, agent: Agent, contact_id: str, voice_only: bool = True) -> Leg:
        leg = self.leg(agent, contact_id)
        if leg.state != "connected":
            raise CTIError.invalid_state(f"contact {contact_id} is not connected")
        if voice_only and leg.contact.type not in VOICE_TYPES:
            raise CTIError.invalid_contact_type(f"contact {contact_id} is not a voice contact")
        return leg

    def _party(self, leg: Leg, connection_id: str) -> Connection:
        for conn in [leg.connection, *leg.contact.other_connections()]:
            if conn.connection_id == connection_id:
                return conn
        raise CTIError.invalid_state(f"no connection {connection_id} on contact {leg.contact.contact_id}")

    def _set_hold(self, leg: Leg, conn: Connection, hold: bool) -> None:
        conn.set_state("hold" if hold else "connected", self.now)
        if conn is leg.contact.customer:
            (leg.contact.holds.hold if hold else leg.contact.holds.resume)(self.now)

    def hold(self, agent: Agent, contact_id: str, connection_id: str) -> None:
        """``holdConnection``: put a connected participant on hold."""
        leg = self._connected_leg(agent, contact_id)
        conn = self._party(leg, connection_id)
        if conn is leg.connection or conn.state != "connected":
            raise CTIError.invalid_state(f"connection {connection_id} cannot be put on hold")
        self._set_hold(leg, conn, True)
        self.touch(agent)

    def resume(self, agent: Agent, contact_id: str, connection_id: str) -> None:
        """``resumeConnection``: take a participant off hold."""
        leg = self._connected_leg(agent, contact_id)
        conn = self._party(leg, connection_id)
        if conn.state != "hold":
            raise CTIError.invalid_state(f"connection {connection_id} is not on hold")
        self._set_hold(leg, conn, False)
        self.touch(agent)

    def send_digits(self, agent: Agent, contact_id: str, connection_id: str, digits: str) -> None:
        """``sendDigits``: DTMF towards a connected participant (no visible state change)."""
        leg = self._connected_leg(agent, contact_id)
        conn = self._party(leg, connection_id)
        if conn.state not in {"connected", "connecting"}:
            raise CTIError.invalid_state(f"connection {connection_id} is not connected")
        if not digits or any(ch not in "0123456789*#,abcdABCD" for ch in digits):
            raise CTIError.invalid_state(f"invalid digits {digits!r}")

    def add_connection(self, agent: Agent, contact_id: str, endpoint: Mapping[str, Any]) -> Connection:
        """``createAdditionalConnection``: dial a third party (phone number or queue); the customer is held."""
        leg = self._connected_leg(agent, contact_id)
        contact = leg.contact
        kind = endpoint.get("type")
        if kind == "phone_number":
            number = str(endpoint.get("phoneNumber") or "")
            _check_phone(number)
        elif kind == "queue":
            self.queue(str(endpoint.get("endpointARN") or endpoint.get("queue", {}).get("queueARN") or ""))
        else:
            raise CTIError.bad_endpoint(f"unsupported endpoint type {kind!r}")
        if [c for c in contact.third_parties if c.state != "disconnected"]:
            raise CTIError.invalid_state("a third party is already on the contact")
        if contact.customer is not None and contact.customer.state == "connected":
            self._set_hold(leg, contact.customer, True)
        clean = {k: v for k, v in endpoint.items() if k != "endpointId" and v is not None}
        conn = Connection(self.ids.uuid(), "outbound", False, "connecting", self.now, clean)
        contact.third_parties.append(conn)
        self.touch(agent)

        def answer() -> None:
            if conn.state == "connecting" and agent.legs.get(contact_id) is leg and leg.state == "connected":
                conn.set_state("connected", self.now)
                self.touch(agent)
                if self.listener is not None:
                    self.listener.third_party_connected(agent, leg, conn)

        self.scheduler.after(int(self.rng.uniform(3.0, 8.0) * 1000), answer)
        return conn

    def conference(self, agent: Agent, contact_id: str) -> None:
        """``conferenceConnections``: everyone on the call, nobody on hold."""
        leg = self._connected_leg(agent, contact_id)
        others = [c for c in leg.contact.other_connections() if c.state in {"connected", "hold"}]
        if len(others) < 2:
            raise CTIError.invalid_state("conferencing needs the customer and a connected third party")
        for conn in others:
            if conn.state == "hold":
                self._set_hold(leg, conn, False)
        self.touch(agent)

    def toggle(self, agent: Agent, contact_id: str, connection_id: str) -> None:
        """``toggleActiveConnections``: swap which of customer and third party is on hold."""
        leg = self._connected_leg(agent, contact_id)
        self._party(leg, connection_id)
        others = [c for c in leg.contact.other_connections() if c.state in {"connected", "hold"}]
        if len(others) != 2 or {c.state for c in others} != {"connected", "hold"}:
            raise CTIError.invalid_state("toggling needs one participant connected and one on hold")
        for conn in others:
            self._set_hold(leg, conn, conn.state == "connected")
        self.touch(agent)

    def destroy_connection(self, agent: Agent, contact_id: str, connection_id: str) -> None:
        """``destroyConnection``: hang up a participant; the agent's own connection means the agent leaves."""
        leg = self.leg(agent, contact_id)
        conn = self._party(leg, connection_id)
        contact = leg.contact
        if conn is leg.connection:
            if leg.state == "connected" or leg.dialing:
                queue_party = next(
                    (
                        c
                        for c in contact.third_parties
                        if c.state == "connected" and (c.endpoint or {}).get("type") == "queue"
                    ),
                    None,
                )
                if queue_party is not None:
                    self._transfer_to_queue(agent, leg, queue_party)
                else:
                    self.end_contact(contact, "AGENT_DISCONNECT")
                return
            raise CTIError.invalid_state(f"contact {contact_id} is not connected")
        if conn.state == "disconnected" or leg.state != "connected":
            raise CTIError.invalid_state(f"connection {connection_id} is not active")
        if conn is contact.customer:
            live = [c for c in contact.third_parties if c.state in {"connected", "hold", "connecting"}]
            if not live:
                self.end_contact(contact, "AGENT_DISCONNECT")
                return
            conn.set_state("disconnected", self.now)
            contact.holds.resume(self.now)
        else:
            contact.third_parties.remove(conn)
            if contact.customer is not None and contact.customer.state == "hold" and not contact.third_parties:
                self._set_hold(leg, contact.customer, False)
        self.touch(agent)

    def _transfer_to_queue(self, agent: Agent, leg: Leg, party: Connection) -> None:
        old = leg.contact
        target = self.queue(str((party.endpoint or {}).get("endpointARN") or ""))
        phone = (old.customer.endpoint or {}).get("phoneNumber") if old.customer else None
        new = self._new_contact(
            "VOICE",
            "voice",
            "transfer",
            target,
            self._customer("inbound", phone),
            initial_contact_id=old.initial_contact_id,
        )
        new.previous_contact_id = old.contact_id
        new.attributes.update(old.attributes)
        new.connected_to_system_ms = self.now
        old.next_contact_id = new.contact_id
        self.end_contact(old, "AGENT_DISCONNECT")
        self._event(new, "INITIATED")
        self.enqueue(new)

    def pause(self, agent: Agent, contact_id: str) -> None:
        """``pauseContact``: pause a connected task."""
        leg = self._connected_leg(agent, contact_id, voice_only=False)
        if leg.contact.type != "task":
            raise CTIError.invalid_contact_type("only tasks can be paused")
        leg.set_state("paused", self.now)
        self.touch(agent)

    def resume_contact(self, agent: Agent, contact_id: str) -> None:
        """``resumeContact``: resume a paused task."""
        leg = self.leg(agent, contact_id)
        if leg.state != "paused":
            raise CTIError.invalid_state(f"contact {contact_id} is not paused")
        leg.set_state("connected", self.now)
        leg.connection.set_state("connected", self.now)
        self.touch(agent)

    def create_outbound(self, agent: Agent, endpoint: Mapping[str, Any], queue_arn: str | None) -> Contact:
        """``createOutboundContact``: the agent dials a customer (agent state ``CallingCustomer``)."""
        if not agent.logged_in:
            raise CTIError.invalid_state("agent is not logged in")
        if agent.error_state is not None or any(leg.contact.channel != "VOICE" for leg in agent.legs.values()):
            raise CTIError.invalid_state("agent cannot place a call now")
        if agent.legs:
            raise CTIError.invalid_state("agent is already on a call")
        if endpoint.get("type") != "phone_number":
            raise CTIError.bad_endpoint("outbound calls need a phone_number endpoint")
        number = str(endpoint.get("phoneNumber") or "")
        _check_phone(number)
        queue = self.queue(queue_arn or agent.profile.default_outbound_queue)
        customer = Connection(
            self.ids.uuid(),
            "outbound",
            True,
            "connecting",
            self.now,
            {"type": "phone_number", "phoneNumber": number},
        )
        contact = self._new_contact("VOICE", "voice", "outbound", queue, customer)
        conn = Connection(self.ids.uuid(), "agent", False, "connected", self.now, {"type": "agent"})
        leg = Leg(contact, agent.agent_id, "connecting", self.now, conn, self.now, dialing=True)
        agent.legs[contact.contact_id] = leg
        contact.agent_attempts = 1
        contact.offered_to = agent.agent_id
        self._event(contact, "INITIATED")
        ring = int(self.rng.uniform(5.0, 15.0) * 1000)
        leg.timers.append(self.scheduler.after(ring, lambda: self._customer_answers(agent, leg)))
        self.touch(agent)
        return contact
