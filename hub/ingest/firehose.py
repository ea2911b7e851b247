"""Firehose HTTP endpoint delivery: ``POST /ingest/firehose/agent-events`` and ``.../contact-records``.

The contract (``shared/reference/aws-formats/firehose-http-endpoint.md``, implemented by
:mod:`hub.sources.firehose`):

* ``X-Amz-Firehose-Access-Key`` must equal ``ingest.firehose.access_key`` (constant-time; an empty
  setting refuses everything) → else **401** ``{"errorMessage": "unauthorized"}``, no reason given;
* the body is gunzipped when ``Content-Encoding: gzip``; ``requestId`` must match
  ``X-Amz-Firehose-Request-Id``; every record must decode (base64, then one or more JSON documents of
  the endpoint's kind) → else **400** naming the first bad record; the whole request is refused, so
  nothing of it is stored (Firehose retries it, then writes it to its S3 error output);
* over the limits → **413** (Firehose drops the batch: the default limits are Firehose's own maxima,
  so a genuine delivery never gets it); an unknown ``Content-Encoding`` → 415;
* storage down → **503** (Firehose retries with backoff, for up to the stream's retry duration);
* success → **200** ``{"requestId": <echoed>, "timestamp": <ms, a number>}``, also for a request
  already processed (deduplicated on ``requestId``, then per record on ``EventId`` or
  ``ContactId`` + ``LastUpdateTimestamp``, in the same transaction as the writes).

Every response is uncompressed ``application/json`` with ``requestId`` and ``timestamp``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.ingest._http import IngestLimits, check_json_content_type, collector_paused, read_body, reject_nul
from hub.ingest._sink import ContactRecordInput, IngestResult, IngestSink
from hub.sources.agent_events import AgentEvent
from hub.sources.contact_records import ContactTraceRecord
from hub.sources.errors import InvalidRecordError, MalformedRequestError, SourceError
from hub.sources.firehose import (
    ACCESS_KEY_HEADER,
    PROTOCOL_VERSION_HEADER,
    REQUEST_ID_HEADER,
    FirehoseRequest,
    check_access_key,
    decode_record,
    error_body,
    parse_common_attributes,
    parse_request,
    success_body,
)

__all__ = [
    "AGENT_EVENTS_PATH",
    "CONTACT_RECORDS_PATH",
    "FirehoseResponseModel",
    "decode_agent_events",
    "decode_contact_records",
    "firehose_router",
]

_log = logging.getLogger(__name__)
T = TypeVar("T")

AGENT_EVENTS_PATH = "/ingest/firehose/agent-events"
CONTACT_RECORDS_PATH = "/ingest/firehose/contact-records"
#: Longest ``requestId`` accepted (Firehose sends a GUID); keeps the dedupe key within its column.
MAX_REQUEST_ID = 256
#: Longest ``EventId`` accepted (a UUID in practice).
MAX_EVENT_ID = 256
_MAX_CONTACT_ID = 256


class FirehoseResponseModel(BaseModel):
    """The response body Firehose requires: the request's id and a numeric ms timestamp."""

    requestId: str = Field(description="The request's requestId, echoed (empty when it was unreadable).")  # noqa: N815
    timestamp: int = Field(description="Milliseconds since the epoch (a number, as Firehose requires).")
    errorMessage: str | None = Field(default=None, description="Why the request was refused.")  # noqa: N815


_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["requestId", "timestamp", "records"],
    "properties": {
        "requestId": {"type": "string", "minLength": 1, "maxLength": MAX_REQUEST_ID},
        "timestamp": {
            "type": ["integer", "string"],
            "description": "ms since the epoch (Firehose sends an integer; a numeric string is tolerated)",
        },
        "records": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10_000,
            "items": {
                "type": "object",
                "required": ["data"],
                "properties": {"data": {"type": "string", "format": "byte", "description": "base64 record"}},
            },
        },
    },
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": FirehoseResponseModel, "description": "Stored (or already stored): Firehose is done."},
    400: {"model": FirehoseResponseModel, "description": "Malformed request or record (Firehose retries)."},
    401: {"model": FirehoseResponseModel, "description": "Missing or wrong access key (Firehose retries)."},
    413: {"model": FirehoseResponseModel, "description": "Over the size limits (Firehose drops the batch)."},
    415: {"model": FirehoseResponseModel, "description": "Unsupported Content-Type or Content-Encoding."},
    500: {"model": FirehoseResponseModel, "description": "Unexpected error (Firehose retries)."},
    503: {"model": FirehoseResponseModel, "description": "Storage unavailable (Firehose retries)."},
}


def _decode_records(request: FirehoseRequest, kind: type[T]) -> list[tuple[int, T]]:
    items: list[tuple[int, T]] = []
    for index in range(len(request.records)):
        data = request.record_data(index)
        reject_nul(data, f"record {index}")
        items.extend((index, value) for value in decode_record(data, kind, index))
    return items


def decode_agent_events(request: FirehoseRequest) -> list[AgentEvent]:
    """Every record of ``request`` as an Agent Event Stream record, validated.

    :raises InvalidRecordError: (400) the first record that is not base64, not JSON, not an agent
        event, or one without ``CurrentAgentSnapshot`` (other than ``LOGOUT``).
    """
    events: list[AgentEvent] = []
    for index, event in _decode_records(request, AgentEvent):
        if not event.event_id or len(event.event_id) > MAX_EVENT_ID:
            raise InvalidRecordError(f"EventId must be 1-{MAX_EVENT_ID} characters", index)
        if not event.agent_arn:
            raise InvalidRecordError("AgentARN is empty", index)
        if event.current_agent_snapshot is None and event.event_type.upper() != "LOGOUT":
            raise InvalidRecordError(f"{event.event_type} record without CurrentAgentSnapshot", index)
        events.append(event)
    return events


def decode_contact_records(request: FirehoseRequest) -> list[ContactRecordInput]:
    """Every record of ``request`` as a contact record (with its JSON object), validated.

    :raises InvalidRecordError: (400) the first record that is not a contact record.
    """
    result: list[ContactRecordInput] = []
    for index, raw in _decode_records(request, dict[str, Any]):
        try:
            record = msgspec.convert(raw, ContactTraceRecord, strict=False)
        except msgspec.ValidationError as exc:
            raise InvalidRecordError(f"invalid contact record: {exc}", index) from None
        if not record.contact_id or len(record.contact_id) > _MAX_CONTACT_ID:
            raise InvalidRecordError(f"ContactId must be 1-{_MAX_CONTACT_ID} characters", index)
        result.append(ContactRecordInput(record=record, raw=raw))
    return result


def _response(status: int, body: bytes) -> Response:
    return Response(content=body, status_code=status, media_type="application/json")


class _Endpoint:
    """One Firehose endpoint: authenticate, read, parse, decode, store, answer."""

    def __init__(
        self,
        kind: str,
        store: Callable[[str, FirehoseRequest], IngestResult],
        access_keys: tuple[str, ...],
        limits: IngestLimits,
    ) -> None:
        self.kind = kind
        self.store = store
        self.access_keys = access_keys
        self.limits = limits

    async def __call__(self, request: Request) -> Response:
        header_id = request.headers.get(REQUEST_ID_HEADER)
        try:
            check_access_key(request.headers.get(ACCESS_KEY_HEADER), self.access_keys)
            version = request.headers.get(PROTOCOL_VERSION_HEADER)
            if version is not None and version.strip() != "1.0":
                raise MalformedRequestError(f"unsupported {PROTOCOL_VERSION_HEADER} {version!r}; expected 1.0")
            check_json_content_type(request.headers)
            parse_common_attributes(request.headers.get("x-amz-firehose-common-attributes"))
            body = await read_body(request, self.limits.firehose.max_body_bytes)
        except SourceError as exc:
            return self._refused(exc, header_id)
        except Exception:
            _log.exception("firehose %s request %s failed", self.kind, header_id)
            return _response(500, error_body(header_id or "", "internal error"))
        # one thread hop for the parsing and the storing: the event loop only moves bytes
        status, answer = await run_in_threadpool(self.process, body, request.headers.get("content-encoding"), header_id)
        return _response(status, answer)

    def process(self, body: bytes, content_encoding: str | None, header_id: str | None) -> tuple[int, bytes]:
        """Parse, decode and store one delivery; the response's status and body (runs in a worker thread)."""
        request_id: str | None = None
        try:
            parsed = parse_request(
                body, content_encoding=content_encoding, request_id_header=header_id, limits=self.limits.firehose
            )
            request_id = parsed.request_id
            if len(request_id) > MAX_REQUEST_ID:
                raise MalformedRequestError(f"requestId is longer than {MAX_REQUEST_ID} characters")
            result = self.store(f"{self.kind}:{request_id}", parsed)
        except SourceError as exc:
            response = self._refused(exc, request_id or header_id)
            return response.status_code, bytes(response.body)
        except Exception:
            _log.exception("firehose %s request %s failed", self.kind, request_id or header_id)
            return 500, error_body(request_id or header_id or "", "internal error")
        _log.debug("firehose %s request %s: %s", self.kind, request_id, result)
        return 200, success_body(request_id)

    def _refused(self, exc: SourceError, request_id: str | None) -> Response:
        if exc.status_code >= 500:
            _log.warning("firehose %s request %s not stored: %s", self.kind, request_id, exc.reason)
        return _response(exc.status_code, error_body(request_id or "", exc.reason))


def firehose_router(sink: IngestSink, access_keys: tuple[str, ...], limits: IngestLimits) -> APIRouter:
    """The two Firehose HTTP endpoint destinations, storing into ``sink``."""
    router = APIRouter(tags=["Firehose HTTP endpoint"])

    def store_agent_events(key: str, parsed: FirehoseRequest) -> IngestResult:
        with collector_paused():
            return sink.ingest_agent_events(key, decode_agent_events(parsed))

    def store_contact_records(key: str, parsed: FirehoseRequest) -> IngestResult:
        with collector_paused():
            return sink.ingest_contact_records(key, decode_contact_records(parsed))

    agent_events = _Endpoint("agent-events", store_agent_events, access_keys, limits)
    contact_records = _Endpoint("contact-records", store_contact_records, access_keys, limits)
    extra = {"requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}}

    @router.post(
        AGENT_EVENTS_PATH,
        summary="Amazon Connect Agent Event Stream records (Kinesis → Firehose)",
        responses=_RESPONSES,
        openapi_extra=extra,
        response_class=Response,
    )
    async def post_agent_events(
        request: Request,
        x_amz_firehose_access_key: Annotated[str | None, Header(description="The stream's access key.")] = None,
        x_amz_firehose_request_id: Annotated[str | None, Header(description="Equals the body's requestId.")] = None,
    ) -> Response:
        """Each record is one Agent Event Stream record; each agent's records are applied in order."""
        return await agent_events(request)

    @router.post(
        CONTACT_RECORDS_PATH,
        summary="Amazon Connect contact records (CTRs, Firehose)",
        responses=_RESPONSES,
        openapi_extra=extra,
        response_class=Response,
    )
    async def post_contact_records(
        request: Request,
        x_amz_firehose_access_key: Annotated[str | None, Header(description="The stream's access key.")] = None,
        x_amz_firehose_request_id: Annotated[str | None, Header(description="Equals the body's requestId.")] = None,
    ) -> Response:
        """Each record is one contact record; it updates the contact row and raises ``on_contact_record``."""
        return await contact_records(request)

    return router
