"""What the HTTP ingest endpoints hand their validated input to: the :class:`IngestSink` protocol.

The endpoints only parse, authenticate and validate; a sink stores. Each sink method is **one
transaction**: it claims the source dedupe keys (Firehose ``requestId``, AES ``EventId``, contact
record ``ContactId:LastUpdateTimestamp``, EventBridge ``id``) and writes everything the input causes
(agent rows, events, contact rows, outbox deliveries) together, or nothing. A retried request
therefore yields no duplicates, and a request that failed half way leaves no trace, so its retry is
processed in full.

Failures: a sink raises :class:`~hub.sources.errors.SourceUnavailableError` when storage (or the
broker) is down, so the endpoint answers 503 and the source retries, and
:class:`~hub.sources.errors.MalformedRequestError` for input it cannot store (a value longer than its
column, say), so the endpoint answers 400. Either way nothing was written.

:class:`hub.ingest.DatabaseSink` is the implementation used until the runtime's ``Pipeline`` takes
over; any object with these methods can be passed to :func:`hub.ingest.create_app`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hub.sources.agent_events import AgentEvent
from hub.sources.contact_events import ContactEvent
from hub.sources.contact_records import ContactTraceRecord

__all__ = ["ContactRecordInput", "IngestResult", "IngestSink"]


@dataclass(frozen=True, slots=True)
class ContactRecordInput:
    """One decoded contact record and the JSON object it came from (the hook receives the latter)."""

    record: ContactTraceRecord
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """What one sink call did. Counts are of input items."""

    #: The whole request had been processed before (same ``requestId`` / event ``id``): nothing done.
    duplicate_request: bool = False
    #: Items processed now.
    accepted: int = 0
    #: Items already seen (their record-level dedupe key was claimed before).
    duplicates: int = 0
    #: Items seen for the first time but older than what is stored (out of order): not applied.
    stale: int = 0
    #: Events written to the event log.
    events: int = 0
    #: Outbox deliveries created (plugin hook calls).
    deliveries: int = 0


@runtime_checkable
class IngestSink(Protocol):
    """Stores validated source input, one transaction per call (see the module docstring)."""

    def ingest_agent_events(self, request_key: str | None, events: Sequence[AgentEvent]) -> IngestResult:
        """Apply Agent Event Stream records to the agents' sessions and store what follows.

        :param request_key: the Firehose request's dedupe key (``None``: no request-level dedupe).
        :param events: the request's records, in delivery order (the sink orders them per agent).
        """
        ...

    def apply_agent_data(self, agent_key: str, data: Mapping[str, Any]) -> IngestResult:
        """Apply Streams agent data (``{"snapshot", "configuration"}``) to agent ``agent_key``'s session."""
        ...

    def ingest_contact_records(self, request_key: str | None, records: Sequence[ContactRecordInput]) -> IngestResult:
        """Update the contact rows from contact records and raise the contact-record hook."""
        ...

    def ingest_contact_event(self, event: ContactEvent, raw: Mapping[str, Any]) -> IngestResult:
        """Update the contact row from an EventBridge contact event and raise the contact-event hook."""
        ...

    def is_healthy(self) -> bool:
        """Whether storage is reachable right now (``GET /healthz``)."""
        ...
