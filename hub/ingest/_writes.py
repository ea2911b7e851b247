"""The sink's write queue: derive the next request while the last one commits.

A request's work has two halves: deriving (decide which records are new, apply them to the agents'
sessions, build and convert the rows: Python, under the sink's lock) and writing (the statements and
the commit: mostly the database's own work, done outside the GIL). :class:`WriteQueue` runs the
writing on one thread, in the order the requests were derived, so the next request derives while the
last one is written; the request's caller waits for its own commit before it answers the source.

What the derivation assumed is checked in the write's transaction, and anything unexpected fails the
write without writing anything (the source retries; see :class:`WriteConflictError`):

* the dedupe keys of a request are looked up before it is derived, and claimed again when it is
  written: a key claimed meanwhile by another hub process is a conflict. Keys of requests derived
  but not yet written are tracked here (:meth:`WriteQueue.pending_for`), so a request that repeats
  one waits for that write's outcome and is then derived again;
* the version of each agent the request advanced (``snapshot_at``, ``last_seq``) must still be the
  one its sessions started from: another hub process writing the same agent meanwhile is a conflict.

When a write fails, every request derived after it was derived on top of sessions that now disagree
with the database: they fail too (:class:`WriteQueue.generation` moved on), and the sink rebuilds its
sessions from the database before it derives again (:meth:`WriteQueue.take_reset`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from hub.db import Receipt

__all__ = ["WriteConflictError", "WriteQueue"]

T = TypeVar("T")
_log = logging.getLogger(__name__)


class WriteConflictError(Exception):
    """The database changed under a derived request (another hub process); retried by the source."""


class WriteQueue:
    """One writer thread plus the bookkeeping of derived, unwritten requests.

    :param inline: write in the caller's thread instead (an in-memory SQLite database has one
        connection, which two threads cannot share).
    :param after_write: run on the writer thread after a successful write when no other write is
        queued, once its caller has the result (e.g. a database checkpoint off the requests' path: with
        writes queued back to back it would only delay them); its errors are logged.
    """

    def __init__(self, *, inline: bool = False, after_write: Callable[[], object] | None = None) -> None:
        self._executor = None if inline else ThreadPoolExecutor(1, "connect-hub-ingest-writer")
        self._inline = threading.RLock()  # inline writes from several request threads, one at a time
        self._lock = threading.Lock()
        self._receipts: dict[Receipt, Future[Any]] = {}
        self._agents: dict[str, tuple[Future[Any], Any]] = {}
        self._generation = 0
        self._reset_due = False
        self._after_write = after_write
        self._queued = 0  # writes submitted and not finished

    @property
    def generation(self) -> int:
        """Bumped by every failed write: requests derived under an older one are not written."""
        return self._generation

    def pending_for(self, receipts: Iterable[Receipt]) -> list[Future[Any]]:
        """The writes, derived but not finished, that claim any of ``receipts``."""
        with self._lock:
            return list({id(f): f for r in receipts if (f := self._receipts.get(r)) is not None}.values())

    def agent_states(self) -> dict[str, Any]:
        """The state the unwritten requests leave each agent in (a copy; agents without one are absent).

        Take it before reading the database: a write that finishes after the copy is in it (with the
        state it commits), one that finished before is in the database the read sees.
        """
        with self._lock:
            return {key: state for key, (_future, state) in self._agents.items()}

    def take_reset(self) -> bool:
        """Whether a write failed since the last call (the caller must rebuild its sessions)."""
        with self._lock:
            due, self._reset_due = self._reset_due, False
            if due:
                self._agents.clear()
            return due

    def submit(
        self,
        write: Callable[[], T],
        *,
        generation: int,
        receipts: Iterable[Receipt] = (),
        agents: dict[str, Any] | None = None,
        on_stale: Callable[[], BaseException],
    ) -> Future[T]:
        """Queue ``write`` (run in submission order); returns its future.

        ``receipts`` and ``agents`` (key → state after this write) are what the write claims: other
        requests see them through :meth:`pending_for` and :meth:`agent_state` until it finishes.
        ``generation`` is :attr:`generation` when the request was derived: if a write failed since,
        ``write`` is not run and the future fails with ``on_stale()``.
        """
        future: Future[T] = Future()
        receipts = list(receipts)
        agents = agents or {}
        with self._lock:
            self._queued += 1
            for receipt in receipts:
                self._receipts[receipt] = future
            for key, state in agents.items():
                self._agents[key] = (future, state)

        def run() -> None:
            try:
                if generation != self._generation:
                    raise on_stale()
                result = write()
            except BaseException as exc:
                with self._lock:
                    self._queued -= 1
                    if generation == self._generation:
                        self._generation += 1
                        self._reset_due = True
                    self._release(future, receipts, agents)
                future.set_exception(exc)
                return
            with self._lock:
                self._queued -= 1
                idle = self._queued == 0
                self._release(future, receipts, agents)
            future.set_result(result)
            if idle and self._after_write is not None:
                try:
                    self._after_write()
                except Exception:
                    _log.exception("the work after a write failed")

        if self._executor is None:
            with self._inline:
                run()
            return future
        try:
            self._executor.submit(run)
        except RuntimeError:  # closed: nothing will run it
            with self._lock:
                self._queued -= 1
                self._release(future, receipts, agents)
            future.set_exception(on_stale())
        return future

    def _release(self, future: Future[Any], receipts: list[Receipt], agents: dict[str, Any]) -> None:
        for receipt in receipts:
            if self._receipts.get(receipt) is future:
                del self._receipts[receipt]
        for key in agents:
            pending = self._agents.get(key)
            if pending is not None and pending[0] is future:
                del self._agents[key]

    @property
    def inline(self) -> bool:
        """Whether writes run in the caller's thread (see the constructor)."""
        return self._executor is None

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the writer thread after the queued writes, and wait for it (not generation-checked)."""
        if self._executor is None:
            with self._inline:
                return work()
        return self._executor.submit(work).result()

    def close(self) -> None:
        """Finish the queued writes and stop the thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
