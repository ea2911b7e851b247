"""The simulated clock: a deterministic discrete-event scheduler counting integer milliseconds.

Simulated time never reads the wall clock. Events scheduled for the same millisecond run in the
order they were scheduled, so a run is a pure function of its seed and configuration.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["Scheduler", "Timer", "epoch_ms", "iso_ms", "iso_s"]


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware ``datetime``."""
    return round(value.timestamp() * 1000)


@lru_cache(maxsize=1 << 16)
def iso_ms(ms: int) -> str:
    """``2026-03-02T09:15:42.318Z``: ISO 8601, UTC, millisecond precision (Streams, AES, contact events)."""
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def iso_s(ms: int) -> str:
    """``2026-03-02T09:15:42Z``: ISO 8601, UTC, second precision (contact records, EventBridge ``time``)."""
    return f"{datetime.fromtimestamp(ms // 1000, UTC):%Y-%m-%dT%H:%M:%S}Z"


@dataclass(order=True)
class Timer:
    """A scheduled callback; ``cancel()`` keeps it from running."""

    at: int
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Do not run this timer."""
        self.cancelled = True


class Scheduler:
    """A priority queue of timers over a simulated millisecond clock."""

    def __init__(self, start_ms: int) -> None:
        """Start the clock at ``start_ms`` (epoch milliseconds)."""
        self._now = start_ms
        self._heap: list[Timer] = []
        self._seq = 0

    @property
    def now(self) -> int:
        """The current simulated time, epoch milliseconds."""
        return self._now

    def at(self, when_ms: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` at ``when_ms`` (never earlier than now)."""
        self._seq += 1
        timer = Timer(max(when_ms, self._now), self._seq, action)
        heapq.heappush(self._heap, timer)
        return timer

    def after(self, delay_ms: int, action: Callable[[], None]) -> Timer:
        """Run ``action`` ``delay_ms`` milliseconds from now."""
        return self.at(self._now + max(0, delay_ms), action)

    def next_time(self) -> int | None:
        """When the next live timer is due, or ``None`` when nothing is scheduled."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].at if self._heap else None

    def run_next(self, until_ms: int) -> bool:
        """Run every timer due at the next due instant if it is ``<= until_ms``; False when none is."""
        due = self.next_time()
        if due is None or due > until_ms:
            self._now = max(self._now, until_ms)
            return False
        self._now = due
        while self._heap and self._heap[0].at == due:
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.action()
        return True
