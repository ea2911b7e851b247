"""Batching into Kinesis Data Firehose HTTP-endpoint envelopes, for a sink that posts to a hub.

Firehose delivers Agent Event Stream records (from a Kinesis-sourced stream) and contact records
as ``{"requestId", "timestamp", "records": [{"data": base64(json)}]}``. :class:`FirehoseBatchingSink`
builds those envelopes and hands each one, with the stream kind, to a ``deliver`` callable; the
HTTP transport (headers, access key, gzip, retries on non-200) lives in that callable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Literal

from hub.simulator.ids import IdSource

__all__ = ["FirehoseBatchingSink", "FirehoseStream", "decode_envelope", "firehose_envelope"]

JSON = dict[str, Any]
FirehoseStream = Literal["agent-events", "contact-records"]


def firehose_envelope(records: list[JSON], request_id: str, timestamp_ms: int) -> JSON:
    """A Firehose HTTP endpoint request body carrying ``records`` (one JSON document each)."""
    return {
        "requestId": request_id,
        "timestamp": timestamp_ms,
        "records": [
            {"data": base64.b64encode(json.dumps(r, separators=(",", ":")).encode()).decode()} for r in records
        ],
    }


def decode_envelope(envelope: JSON) -> list[JSON]:
    """The records of a Firehose envelope (inverse of :func:`firehose_envelope`)."""
    return [json.loads(base64.b64decode(r["data"])) for r in envelope["records"]]


class FirehoseBatchingSink:
    """A :class:`~hub.simulator.sinks.Sink` that batches AES records and CTRs into Firehose envelopes.

    Streams agent data and contact events are not Firehose traffic: they go to ``agent_data`` and
    ``contact_event`` callables (the Streams bridge endpoint and the EventBridge API destination).
    Call :meth:`flush` at the end of a run (and periodically when running in real time).
    """

    def __init__(
        self,
        deliver: Callable[[FirehoseStream, JSON], None],
        *,
        agent_data: Callable[[str, JSON], None] | None = None,
        contact_event: Callable[[JSON], None] | None = None,
        batch_size: int = 500,
        buffer_seconds: float = 60.0,
        seed: int = 0,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        """Batch up to ``batch_size`` records, or what ``buffer_seconds`` of simulated time collected.

        ``clock_ms`` stamps envelopes (default: the simulated time of the last :meth:`tick`).
        """
        if not 1 <= batch_size <= 10_000:
            raise ValueError("a Firehose request carries 1 to 10,000 records")
        self._deliver = deliver
        self._agent_data = agent_data
        self._contact_event = contact_event
        self._batch_size = batch_size
        self._ids = IdSource(seed, "firehose")
        self._now = 0
        self._clock: Callable[[], int] = clock_ms or (lambda: self._now)
        self._buffer_ms = int(buffer_seconds * 1000)
        self._pending: dict[FirehoseStream, list[JSON]] = {"agent-events": [], "contact-records": []}
        self._since: dict[FirehoseStream, int] = {}

    def _add(self, stream: FirehoseStream, record: JSON) -> None:
        batch = self._pending[stream]
        if not batch:
            self._since[stream] = self._now
        batch.append(record)
        if len(batch) >= self._batch_size:
            self._send(stream)

    def _send(self, stream: FirehoseStream) -> None:
        batch = self._pending[stream]
        if batch:
            self._pending[stream] = []
            self._deliver(stream, firehose_envelope(batch, self._ids.uuid(), self._clock()))

    def tick(self, now_ms: int) -> None:
        """Simulated time moved to ``now_ms``: deliver batches older than the buffering interval."""
        self._now = now_ms
        for stream in ("agent-events", "contact-records"):
            if self._pending[stream] and now_ms - self._since.get(stream, now_ms) >= self._buffer_ms:
                self._send(stream)

    def flush(self) -> None:
        """Deliver every partly filled batch."""
        self._send("agent-events")
        self._send("contact-records")

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Forward Streams agent data unbatched."""
        if self._agent_data is not None:
            self._agent_data(agent_id, data)

    def agent_event(self, record: JSON) -> None:
        """Batch an Agent Event Stream record."""
        self._add("agent-events", record)

    def contact_record(self, ctr: JSON) -> None:
        """Batch a contact record."""
        self._add("contact-records", ctr)

    def contact_event(self, event: JSON) -> None:
        """Forward a contact event unbatched."""
        if self._contact_event is not None:
            self._contact_event(event)
