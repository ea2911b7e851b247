"""The outbox relay: claim due deliveries, publish them in batches, recover lost ones.

One round (:meth:`Relay.run_once`):

1. every few seconds, ``queued``/``running`` deliveries untouched for ``stale_after`` are made due
   again (:func:`hub.db.requeue_stale`): a message lost by the broker, a worker killed with its
   message, a publish that failed after the commit;
2. in one write transaction, due deliveries (``pending``/``retrying`` whose ``next_attempt_at`` has
   come) are read oldest first and grouped per (ordering key, plugin). A group whose ordering key
   still has an earlier unfinished delivery in flight is *blocked*: it stays ``pending`` and is looked
   at again a second later (the worker finishing the earlier one runs it directly). The others are
   marked ``queued``;
3. after the commit, the groups are packed into messages of up to ``max_deliveries_per_message``
   deliveries and published over ONE broker connection (a group is never split, so one worker runs a
   contact's calls in order). If publishing fails, the unpublished deliveries go back to ``pending``
   (nothing is lost: the database is the source of truth) and the relay backs off.

``mode="naive"`` publishes one message per delivery with a plain ``apply_async`` each (the baseline
the benchmark compares against).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from celery import Celery
from sqlalchemy.engine import Engine

from hub.db import requeue_stale, session_scope, status_among
from hub.db._models import DELIVERIES
from hub.runtime._celery import TASK_NAME
from hub.runtime._settings import RuntimeOptions

__all__ = ["Relay", "RelayRound", "pack_groups"]

_log = logging.getLogger("connect_hub.relay")
_d = DELIVERIES.c
_IN_FLIGHT = ("queued", "running")
#: Due deliveries, oldest first: only the columns the relay needs (no payloads).
_DUE = (
    sa.select(_d.id, _d.ordering_key, _d.plugin)
    .where(_d.status.in_(("pending", "retrying")), _d.next_attempt_at <= sa.bindparam("now"))
    .order_by(_d.id)
)

RelayMode = Literal["batched", "naive"]

#: Deliveries waiting for the publisher thread beyond which newly committed ones go back to the outbox.
OUTGOING_LIMIT = 100_000


@dataclass(slots=True)
class RelayRound:
    """What one relay round did."""

    claimed: int = 0
    published: int = 0
    messages: int = 0
    blocked: int = 0
    requeued: int = 0
    failed: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


def pack_groups(groups: Sequence[list[int]], limit: int) -> list[list[list[int]]]:
    """Pack whole groups into messages of at most ``limit`` deliveries (a bigger group goes alone)."""
    messages: list[list[list[int]]] = []
    current: list[list[int]] = []
    size = 0
    for group in groups:
        if current and size + len(group) > limit:
            messages.append(current)
            current, size = [], 0
        current.append(group)
        size += len(group)
    if current:
        messages.append(current)
    return messages


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Relay:
    """Publishes the outbox (see the module docstring). Use :meth:`start`/:meth:`stop` for a thread.

    :param engine: the hub database.
    :param app: the Celery app from :func:`hub.runtime.create_app`.
    :param options: batch size, poll interval, stale timeout, message packing, queue.
    :param mode: ``batched`` (default) or ``naive`` (one ``apply_async`` per delivery).
    :param hold_blocked: keep groups whose ordering key has an earlier delivery in flight in the outbox
        (default). ``False`` publishes them anyway (the worker's order check defers them); the benchmark
        uses it to measure the raw publish capacity without workers.
    """

    def __init__(
        self,
        engine: Engine,
        app: Celery,
        options: RuntimeOptions,
        *,
        mode: RelayMode = "batched",
        hold_blocked: bool = True,
    ) -> None:
        self.hold_blocked = hold_blocked
        self.engine = engine
        self.app = app
        self.options = options
        self.mode = mode
        self._connection: Any = None
        self._producer: Any = None
        self._last_stale_check = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._publish_lock = threading.RLock()  # the relay and publisher threads share the connection
        self._outgoing: list[list[list[int]]] = []
        self._outgoing_size = 0
        self._outgoing_ready = threading.Condition()
        self._publishing = False
        self._publisher: threading.Thread | None = None
        self._publisher_stop = False
        self.totals = RelayRound()
        self.eager = RelayRound()
        """What :meth:`publish_committed` did (the pipeline's publishes right after its commits)."""

    # ------------------------------------------------------------------ claiming
    def _claim(self) -> tuple[list[list[int]], int]:
        """Claim due deliveries in one transaction; returns the publishable groups and the blocked count."""
        now = _utcnow()
        with session_scope(self.engine) as db:
            query = _DUE.limit(self.options.relay_batch_size)
            if db.get_bind().dialect.name == "postgresql":  # concurrent relays take disjoint rows
                query = query.with_for_update(skip_locked=True)
            due = db.execute(query, {"now": now}).all()
            if not due:
                return [], 0
            groups: dict[tuple[str | None, str, int], list[int]] = {}
            for d in due:
                # Deliveries without an ordering key are groups of one.
                key = (d.ordering_key, d.plugin, 0 if d.ordering_key is not None else d.id)
                groups.setdefault(key, []).append(d.id)
            keys = sorted({d.ordering_key for d in due if d.ordering_key is not None})
            earliest: dict[tuple[str, str], int] = {}
            for chunk_start in range(0, len(keys) if self.hold_blocked else 0, 500):
                chunk = keys[chunk_start : chunk_start + 500]
                rows = db.execute(
                    sa.select(_d.ordering_key, _d.plugin, sa.func.min(_d.id))
                    .where(
                        _d.ordering_key.in_(chunk),
                        sa.or_(
                            _d.status.in_(_IN_FLIGHT),
                            sa.and_(_d.status.in_(("pending", "retrying")), _d.next_attempt_at > now),
                        ),
                    )
                    .group_by(_d.ordering_key, _d.plugin)
                )
                earliest |= {(k, p): int(m) for k, p, m in rows}
            ready: list[list[int]] = []
            blocked_ids: list[int] = []
            for (order_key, plugin, _), ids in groups.items():
                first = earliest.get((order_key, plugin)) if order_key is not None else None
                if self.hold_blocked and first is not None and first < ids[0]:
                    blocked_ids.extend(ids)
                else:
                    ready.append(ids)
            if blocked_ids:
                db.execute(
                    sa.update(DELIVERIES)
                    .where(_d.id.in_(blocked_ids), status_among("pending", "retrying"))
                    .values(next_attempt_at=now + dt.timedelta(seconds=1.0))
                )
            ready_ids = [i for g in ready for i in g]
            if ready_ids:
                taken = set(
                    db.execute(
                        sa.update(DELIVERIES)
                        .where(_d.id.in_(ready_ids), status_among("pending", "retrying"))
                        .values(status="queued", queued_at=now)
                        .returning(_d.id)
                    ).scalars()
                )
                ready = [[i for i in g if i in taken] for g in ready]
                ready = [g for g in ready if g]
            ready.sort(key=lambda g: g[0])
            return ready, len(blocked_ids)

    def _unclaim(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with session_scope(self.engine) as db:
            db.execute(
                sa.update(DELIVERIES)
                .where(_d.id.in_(list(ids)), status_among("queued"))
                .values(status="pending", queued_at=None)
            )

    # ------------------------------------------------------------------ publishing
    def _ensure_producer(self) -> Any:
        if self._producer is None:
            conn = self.app.connection_for_write()
            try:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.5)
            except Exception:
                conn.release()
                raise
            self._connection = conn
            self._producer = conn.Producer()
        return self._producer

    def close(self) -> None:
        """Close the relay's broker connection."""
        with self._publish_lock:
            if self._connection is not None:
                try:
                    self._connection.release()
                except Exception as exc:
                    _log.debug("closing the broker connection: %r", exc)
            self._connection = self._producer = None

    def _publish(self, messages: list[list[list[int]]]) -> int:
        """Publish ``messages``; returns how many went out before an error (re-raised)."""
        sent = 0
        if self.mode == "naive":
            task = self.app.tasks[TASK_NAME]
            for groups in messages:
                task.apply_async(args=[groups, time.time()], queue=self.options.queue, retry=False)
                sent += 1
            return sent
        producer = self._ensure_producer()
        for groups in messages:
            self.app.send_task(
                TASK_NAME,
                args=[groups, time.time()],
                # A short repr: Celery otherwise builds one of the whole id list per message (saferepr).
                argsrepr=f"<{sum(len(g) for g in groups)} deliveries>",
                kwargsrepr="{}",
                queue=self.options.queue,
                producer=producer,
                retry=False,
                ignore_result=True,
            )
            sent += 1
        return sent

    def run_once(self) -> RelayRound:
        """One round: stale requeue (now and then), claim, publish. Never raises for broker errors."""
        result = RelayRound()
        t0 = time.perf_counter()
        if time.monotonic() - self._last_stale_check >= min(5.0, self.options.stale_after / 4):
            with session_scope(self.engine) as db:
                result.requeued = len(requeue_stale(db, older_than=dt.timedelta(seconds=self.options.stale_after)))
            self._last_stale_check = time.monotonic()
        groups, result.blocked = self._claim()
        t1 = time.perf_counter()
        result.claimed = sum(len(g) for g in groups)
        if self.mode == "naive":
            messages = [[[i]] for g in groups for i in g]
        else:
            messages = pack_groups(groups, self.options.max_deliveries_per_message)
        sent = 0
        try:
            with self._publish_lock:
                sent = self._publish(messages)
            self._failures = 0
        except Exception as exc:
            self.close()
            self._failures += 1
            result.error = f"{type(exc).__name__}: {exc}"
            unsent = [i for m in messages[sent:] for g in m for i in g]
            self._unclaim(unsent)
            result.failed = len(unsent)
            _log.warning("publishing failed (%s); %d deliveries stay in the outbox", result.error, len(unsent))
        t2 = time.perf_counter()
        result.messages = sent
        result.published = sum(len(g) for m in messages[:sent] for g in m)
        result.timings = {"claim": t1 - t0, "publish": t2 - t1}
        self._accumulate(result)
        return result

    def publish_committed(self, groups: Sequence[list[int]]) -> None:
        """Hand over deliveries just committed as ``queued`` (no claim round); returns at once.

        Called by the pipeline's writer thread and the ingest sink right after a commit (``groups`` from
        :attr:`hub.db.BatchResult.delivery_groups`). The relay's publisher thread publishes them in whole
        groups, merging what several commits handed over meanwhile into fewer messages, so ingest never
        waits on the broker (a broker that hangs stalls publishing, not ingest). A group whose ordering
        key still has an earlier delivery in flight is published too: the worker's order check defers it
        and the worker finishing the earlier one runs it. If publishing fails, or more than
        :data:`OUTGOING_LIMIT` deliveries are waiting, they go back to ``pending`` for the relay's rounds;
        if this process dies first, the relay's stale requeue recovers them (after ``relay.stale_after``).
        """
        count = sum(len(g) for g in groups)
        if not count:
            return
        with self._outgoing_ready:
            accepted = self._outgoing_size + count <= OUTGOING_LIMIT
            if accepted:
                self._outgoing.append(list(groups))
                self._outgoing_size += count
                self._outgoing_ready.notify_all()
                self._ensure_publisher()
        if not accepted:
            self._return_to_outbox([i for g in groups for i in g], "the publisher is behind")

    def flush_published(self, timeout: float | None = None) -> bool:
        """Wait until what was handed to :meth:`publish_committed` is published or returned; ``False`` on timeout."""
        with self._outgoing_ready:
            return self._outgoing_ready.wait_for(lambda: not self._outgoing and not self._publishing, timeout)

    def _ensure_publisher(self) -> None:
        if self._publisher is None or not self._publisher.is_alive():
            self._publisher_stop = False
            self._publisher = threading.Thread(target=self._publisher_loop, name="connect-hub-publisher", daemon=True)
            self._publisher.start()

    def _publisher_loop(self) -> None:
        while True:
            with self._outgoing_ready:
                self._outgoing_ready.wait_for(lambda: bool(self._outgoing) or self._publisher_stop)
                if not self._outgoing:
                    return
                batches, self._outgoing = self._outgoing, []
                self._outgoing_size = 0
                self._publishing = True
            try:
                self._publish_groups([g for batch in batches for g in batch])
            except Exception:
                _log.exception("publishing after commit failed; the relay requeues them after relay.stale_after")
            finally:
                with self._outgoing_ready:
                    self._publishing = False
                    self._outgoing_ready.notify_all()

    def _publish_groups(self, groups: list[list[int]]) -> None:
        result = RelayRound(claimed=sum(len(g) for g in groups))
        t0 = time.perf_counter()
        messages = pack_groups(groups, self.options.max_deliveries_per_message)
        sent = 0
        try:
            with self._publish_lock:
                sent = self._publish(messages)
        except Exception as exc:
            self.close()
            result.error = f"{type(exc).__name__}: {exc}"
            unsent = [i for m in messages[sent:] for g in m for i in g]
            result.failed = len(unsent)
            self._return_to_outbox(unsent, result.error)
        result.messages = sent
        result.published = sum(len(g) for m in messages[:sent] for g in m)
        result.timings = {"publish": time.perf_counter() - t0}
        self._accumulate(result, self.eager)

    def _return_to_outbox(self, ids: list[int], why: str) -> None:
        """``queued`` → ``pending`` for the relay's rounds (never raises: the stale requeue is the backstop)."""
        try:
            self._unclaim(ids)
        except Exception:
            _log.exception("could not return %d deliveries to the outbox; stale requeue will", len(ids))
        self._wake.set()
        _log.warning("%d deliveries back to the outbox for the relay (%s)", len(ids), why)

    def _accumulate(self, r: RelayRound, into: RelayRound | None = None) -> None:
        t = self.totals if into is None else into
        t.claimed += r.claimed
        t.published += r.published
        t.messages += r.messages
        t.blocked += r.blocked
        t.requeued += r.requeued
        t.failed += r.failed
        for k, v in r.timings.items():
            t.timings[k] = t.timings.get(k, 0.0) + v

    # ------------------------------------------------------------------ loop
    def notify(self, *_: object) -> None:
        """Wake the relay now (new deliveries were committed); safe from any thread."""
        self._wake.set()

    def run(self, stop: threading.Event | None = None) -> None:
        """Run rounds until ``stop`` is set.

        Immediately again after a full batch; otherwise after the poll interval or as soon as
        :meth:`notify` is called (the pipeline calls it after each commit in the same process).
        """
        stop = stop or self._stop
        while not stop.is_set():
            self._wake.clear()
            try:
                r = self.run_once()
            except Exception:
                _log.exception("relay round failed")
                r = RelayRound(error="round failed")
            if r.error is not None:
                stop.wait(min(5.0, 0.1 * 2 ** min(self._failures, 6)))
            elif r.claimed < self.options.relay_batch_size:
                self._wake.wait(self.options.relay_poll_interval)
        self.close()

    def start(self) -> None:
        """Run the relay in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="connect-hub-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Publish what was handed over, stop the publisher and relay threads and wait for them."""
        with self._outgoing_ready:
            self._publisher_stop = True
            self._outgoing_ready.notify_all()
        if self._publisher is not None:
            self._publisher.join(timeout)
            if not self._publisher.is_alive():  # one stuck on a hung broker stays the only publisher
                self._publisher = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
