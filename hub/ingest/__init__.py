"""HTTP ingest: the ASGI app that receives Amazon Connect's server-side feeds.

* :func:`create_app` builds the FastAPI app (``connect-hub serve`` runs it on uvicorn):
  ``POST /ingest/firehose/agent-events`` (Agent Event Stream records through Firehose),
  ``POST /ingest/firehose/contact-records`` (contact records through Firehose),
  ``POST /ingest/eventbridge/contact-events`` (EventBridge API destination) and ``GET /healthz``;
  ``/openapi.json`` documents them all.
* :class:`IngestSink` is what the endpoints store into, one transaction per request;
  :class:`DatabaseSink` implements it on :mod:`hub.db` with the core engine.

Wiring the real sources step by step: ``docs/sources.md``.
"""

from hub.ingest._app import HEALTH_PATH, create_app
from hub.ingest._dbsink import DatabaseSink, HookRouter
from hub.ingest._http import IngestLimits
from hub.ingest._sink import ContactRecordInput, IngestResult, IngestSink
from hub.ingest.eventbridge import CONTACT_EVENTS_PATH, EventBridgeAuth
from hub.ingest.firehose import AGENT_EVENTS_PATH, CONTACT_RECORDS_PATH

__all__ = [
    "AGENT_EVENTS_PATH",
    "CONTACT_EVENTS_PATH",
    "CONTACT_RECORDS_PATH",
    "HEALTH_PATH",
    "ContactRecordInput",
    "DatabaseSink",
    "EventBridgeAuth",
    "HookRouter",
    "IngestLimits",
    "IngestResult",
    "IngestSink",
    "create_app",
]
