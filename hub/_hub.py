"""``Hub``: every agent session of a deployment, with Streams-style subscriptions across them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hub._bus import ALL_EVENTS, EventBus, EventCallback, Subscription
from hub._constants import AgentEvents, ContactEvents, EventType
from hub._session import AgentSession

if TYPE_CHECKING:
    from hub._actions import ActionBackend
    from hub._agent import Agent
    from hub._logger import Logger

__all__ = ["Hub", "HubSubscription"]


class HubSubscription:
    """A subscription on every session of a hub (present and future); :meth:`unsubscribe` ends it."""

    __slots__ = ("_hub", "_parts", "callback", "event_name")

    def __init__(self, hub: Hub, event_name: str, callback: EventCallback) -> None:
        self._hub = hub
        self.event_name = event_name
        self.callback = callback
        self._parts: list[Subscription] = []

    def _attach(self, bus: EventBus) -> None:
        self._parts.append(bus.subscribe(self.event_name, self.callback))

    def unsubscribe(self) -> None:
        """Remove the subscription from every session and from sessions created later."""
        for part in self._parts:
            part.unsubscribe()
        self._parts.clear()
        if self in self._hub._subscriptions:
            self._hub._subscriptions.remove(self)


class Hub:
    """The agent sessions of one hub process.

    :param backend_factory: builds the action backend of a new session from its agent key.
    :param clock: the time source of every session (epoch seconds).
    """

    def __init__(
        self,
        *,
        backend_factory: Callable[[str], ActionBackend] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions: dict[str, AgentSession] = {}
        self._subscriptions: list[HubSubscription] = []
        self._backend_factory = backend_factory
        self._clock = clock
        self.bus = EventBus()
        """Hub-wide events that belong to no agent (the ``log`` event of :meth:`get_log`)."""
        self._log: Logger | None = None

    # ------------------------------------------------------------------ sessions
    def session(self, key: str) -> AgentSession:
        """The session of agent ``key``, created on first use."""
        session = self._sessions.get(key)
        if session is None:
            backend = self._backend_factory(key) if self._backend_factory is not None else None
            session = AgentSession(key, backend=backend, clock=self._clock)
            for sub in self._subscriptions:
                sub._attach(session.bus)
            self._sessions[key] = session
        return session

    def get_session(self, key: str) -> AgentSession | None:
        """The session of agent ``key`` if it exists."""
        return self._sessions.get(key)

    def remove_session(self, key: str) -> None:
        """Terminate and forget the session of agent ``key``."""
        session = self._sessions.pop(key, None)
        if session is not None:
            session.terminate()

    def sessions(self) -> Iterator[AgentSession]:
        """Every session."""
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, event_name: str, callback: EventCallback) -> HubSubscription:
        """Call ``callback(data[, name])`` for ``event_name`` on every agent session."""
        sub = HubSubscription(self, event_name, callback)
        for session in self._sessions.values():
            sub._attach(session.bus)
        self._subscriptions.append(sub)
        return sub

    def subscribe_all(self, callback: EventCallback) -> HubSubscription:
        """Call ``callback(data, name)`` for every event of every session and of the hub bus."""
        sub = self.subscribe(ALL_EVENTS, callback)
        sub._attach(self.bus)
        return sub

    def agent(self, callback: Callable[[Agent], object]) -> HubSubscription:
        """``connect.agent(f)`` for every agent: ``f(agent)`` on ``agent::init``, now for initialised ones."""
        sub = self.subscribe(AgentEvents.INIT, callback)
        for session in self._sessions.values():
            if session.initialized:
                callback(session.agent)
        return sub

    def contact(self, callback: Callable[[Any], object]) -> HubSubscription:
        """``connect.contact(f)``: ``f(contact)`` on every ``contact::init`` (existing contacts are not replayed)."""
        return self.subscribe(ContactEvents.INIT, callback)

    def get_log(self) -> Logger:
        """The hub's logger; every entry is also published on :attr:`bus` as the ``log`` event."""
        if self._log is None:
            from hub._logger import Logger  # noqa: PLC0415

            self._log = Logger(publish=lambda entry: self.bus.trigger(EventType.LOG, entry))
        return self._log

    def terminate(self) -> None:
        """Terminate every session and drop every subscription (``connect.core.terminate``)."""
        for key in list(self._sessions):
            self.remove_session(key)
        for sub in list(self._subscriptions):
            sub.unsubscribe()
        self.bus.unsubscribe_all()
