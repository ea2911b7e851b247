"""The event bus: synchronous, nested dispatch with the library's ``EventBus`` semantics.

* ``trigger(name, data)`` snapshots the subscriber lists, all-event subscribers first, then the
  name's subscribers, each in subscription order; a subscriber added during a dispatch does not get
  it, one removed during a dispatch still does.
* Each subscriber is called as ``callback(data, name)``; falsy data is passed as ``None``.
* A subscriber that raises is logged at ERROR and the dispatch goes on with the next one.
* Dispatches nest: events triggered inside a subscriber are dispatched depth-first.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

__all__ = ["ALL_EVENTS", "EventBus", "EventCallback", "Subscription"]

EventCallback = Callable[..., object]
"""A subscriber: ``callback(data)`` or ``callback(data, event_name)``."""

ALL_EVENTS = "<<all>>"
"""The internal key of subscribe-all subscriptions (as in the library)."""

_log = logging.getLogger("connect_hub.bus")


#: ``_accepts_two_args`` per (bound method or not, code object): each session's engine subscribes the
#: same methods, and ``inspect.signature`` costs tens of microseconds.
_SHAPES: dict[tuple[bool, object], bool] = {}


def _accepts_two_args(callback: EventCallback) -> bool:
    """Whether ``callback`` takes ``(data, event_name)`` rather than just ``(data)``."""
    function = getattr(callback, "__func__", callback)
    code = getattr(function, "__code__", None)
    if code is None or hasattr(function, "__wrapped__"):  # not a plain function: no stable key
        return _inspect_two_args(callback)
    key = (function is not callback, code)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES[key] = _inspect_two_args(callback)
    return shape


def _inspect_two_args(callback: EventCallback) -> bool:
    try:
        params = list(inspect.signature(callback).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


def _js_falsy(value: Any) -> bool:
    """JavaScript falsiness: ``None``, ``False``, ``0``, ``NaN`` and ``""`` (empty containers are truthy)."""
    if value is None or value is False or value == "":
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and (value == 0 or math.isnan(value))


class Subscription:
    """A subscription returned by :meth:`EventBus.subscribe`; call :meth:`unsubscribe` to end it."""

    __slots__ = ("_bus", "callback", "event_name", "wants_name")

    def __init__(self, bus: EventBus, event_name: str, callback: EventCallback) -> None:
        self._bus = bus
        self.event_name = event_name
        self.callback = callback
        self.wants_name = _accepts_two_args(callback)

    def unsubscribe(self) -> None:
        """Remove this subscription from its bus (idempotent)."""
        self._bus._remove(self)


class EventBus:
    """Publish/subscribe with nested, synchronous dispatch.

    :param on_error: called with ``(event_name, exception)`` when a subscriber raises, after logging.
    """

    __slots__ = ("_on_error", "_subscribers", "depth")

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}
        self._on_error = on_error
        self.depth = 0
        """How many dispatches are running (0 outside any dispatch)."""

    def subscribe(self, event_name: str, callback: EventCallback) -> Subscription:
        """Call ``callback(data, name)`` for every ``event_name`` dispatch."""
        if not event_name:
            raise ValueError("event_name must be a non-empty string")
        sub = Subscription(self, event_name, callback)
        subs = self._subscribers.get(event_name)
        if subs is None:
            self._subscribers[event_name] = [sub]
        else:
            # Copy on write: a dispatch in progress keeps iterating its own list.
            self._subscribers[event_name] = [*subs, sub]
        return sub

    def subscribe_all(self, callback: EventCallback) -> Subscription:
        """Call ``callback(data, name)`` for every dispatch of every event."""
        return self.subscribe(ALL_EVENTS, callback)

    def unsubscribe_all(self, event_name: str | None = None) -> None:
        """Drop every subscription of ``event_name``, or every subscription at all."""
        if event_name is None:
            self._subscribers.clear()
        else:
            self._subscribers.pop(event_name, None)

    def _remove(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.event_name)
        if subs is not None and sub in subs:
            remaining = [s for s in subs if s is not sub]
            if remaining:
                self._subscribers[sub.event_name] = remaining
            else:
                del self._subscribers[sub.event_name]

    def has_subscribers(self, event_name: str) -> bool:
        """Whether a dispatch of ``event_name`` would reach any subscriber."""
        return ALL_EVENTS in self._subscribers or event_name in self._subscribers

    def subscriber_count(self, event_name: str) -> int:
        """How many subscriptions ``event_name`` has (not counting subscribe-all ones)."""
        return len(self._subscribers.get(event_name, ()))

    def trigger(self, event_name: str, data: Any = None) -> None:
        """Dispatch ``data`` to the subscribers of ``event_name``, depth-first."""
        subscribers = self._subscribers
        all_subs = subscribers.get(ALL_EVENTS)
        named = subscribers.get(event_name)
        if all_subs is None and named is None:
            return
        payload = None if _js_falsy(data) else data
        self.depth += 1
        try:
            for subs in (all_subs, named):
                if subs is None:
                    continue
                for sub in subs:
                    try:
                        if sub.wants_name:
                            sub.callback(payload, event_name)
                        else:
                            sub.callback(payload)
                    except Exception as exc:
                        _log.exception("'%s' event handler failed.", event_name)
                        if self._on_error is not None:
                            self._on_error(event_name, exc)
        finally:
            self.depth -= 1
