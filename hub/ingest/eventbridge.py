"""``POST /ingest/eventbridge/contact-events``: an EventBridge API destination for contact events.

The body is the whole EventBridge event (``shared/reference/aws-formats/contact-events.md``). The
connection authenticates with an API key in a header of its choosing (``ingest.eventbridge.api_key``,
header ``ingest.eventbridge.api_key_header``, default ``X-Api-Key``) or with HTTP Basic
(``ingest.eventbridge.basic_username`` / ``basic_password``); either configured credential is
accepted, none configured refuses every request.

Statuses, chosen for what EventBridge does with them: **200** stored (or a redelivery of an event
already stored: idempotent on the envelope ``id``); **400** not a contact event, **401** bad
credentials (no reason given), **413** too large, **415** not JSON: EventBridge does not retry these;
**503** storage down, with ``Retry-After``: EventBridge retries (up to 24 h / 185 attempts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hub.ingest._http import IngestLimits, check_json_content_type, read_body, reject_nul
from hub.ingest._sink import IngestSink
from hub.sources._util import header, secrets_match
from hub.sources.contact_events import check_basic_auth, decode_contact_event
from hub.sources.errors import MalformedRequestError, SourceError, UnauthorizedError

__all__ = ["CONTACT_EVENTS_PATH", "DEFAULT_API_KEY_HEADER", "EventBridgeAuth", "eventbridge_router"]

_log = logging.getLogger(__name__)

CONTACT_EVENTS_PATH = "/ingest/eventbridge/contact-events"
DEFAULT_API_KEY_HEADER = "X-Api-Key"
_MAX_EVENT_ID = 256


@dataclass(frozen=True, slots=True)
class EventBridgeAuth:
    """The API destination connection's credentials (empty strings: that method is not configured)."""

    api_key: str = ""
    api_key_header: str = DEFAULT_API_KEY_HEADER
    basic_username: str = ""
    basic_password: str = ""

    def check(self, headers: Any) -> None:
        """Accept the request when either configured credential matches; both are always evaluated.

        :raises UnauthorizedError: (401, generic) otherwise.
        """
        key_ok = bool(self.api_key) and secrets_match(header(headers, self.api_key_header), self.api_key)
        basic_ok = False
        if self.basic_username and self.basic_password:
            try:
                check_basic_auth(
                    headers.get("authorization"), username=self.basic_username, password=self.basic_password
                )
                basic_ok = True
            except UnauthorizedError:
                basic_ok = False
        if not (key_ok or basic_ok):
            raise UnauthorizedError()


class ContactEventResponse(BaseModel):
    """Acknowledgement of a contact event."""

    id: str = Field(description="The EventBridge event id.")
    status: str = Field(description="'accepted', or 'duplicate' for an event already stored.")


class ErrorResponse(BaseModel):
    """Why a request was refused."""

    error: str


_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "detail-type", "source", "detail"],
    "properties": {
        "version": {"type": ["string", "null"]},
        "id": {"type": "string", "minLength": 1, "maxLength": _MAX_EVENT_ID},
        "detail-type": {"type": "string", "enum": ["Amazon Connect Contact Event"]},
        "source": {"type": "string", "enum": ["aws.connect"]},
        "account": {"type": ["string", "null"]},
        "time": {
            "type": ["string", "number", "null"],
            "format": "date-time",
            "description": "ISO 8601 (or epoch seconds)",
        },
        "region": {"type": ["string", "null"]},
        "resources": {"type": ["array", "null"], "items": {"type": "string"}},
        "detail": {
            "type": "object",
            "required": ["eventType", "contactId"],
            "properties": {"eventType": {"type": "string"}, "contactId": {"type": "string", "minLength": 1}},
        },
    },
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ContactEventResponse, "description": "Stored, or already stored."},
    400: {"model": ErrorResponse, "description": "Not an Amazon Connect contact event (not retried)."},
    401: {"model": ErrorResponse, "description": "Bad credentials (not retried)."},
    413: {"model": ErrorResponse, "description": "Body too large."},
    415: {"model": ErrorResponse, "description": "Body is not JSON."},
    500: {"model": ErrorResponse, "description": "Unexpected error (retried)."},
    503: {"model": ErrorResponse, "description": "Storage unavailable (retried; see Retry-After)."},
}


def _error(exc: SourceError) -> JSONResponse:
    headers = {"Retry-After": "5"} if exc.status_code == 503 else None
    return JSONResponse({"error": exc.reason}, status_code=exc.status_code, headers=headers)


def eventbridge_router(sink: IngestSink, auth: EventBridgeAuth, limits: IngestLimits) -> APIRouter:
    """The EventBridge API-destination endpoint, storing into ``sink``."""
    router = APIRouter(tags=["EventBridge API destination"])
    extra = {"requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}}

    @router.post(
        CONTACT_EVENTS_PATH,
        summary="Amazon Connect contact events (EventBridge rule → API destination)",
        responses=_RESPONSES,
        openapi_extra=extra,
        response_class=Response,
    )
    async def post_contact_event(
        request: Request,
        authorization: Annotated[str | None, Header(description="Basic credentials, if configured.")] = None,
    ) -> Response:
        """One EventBridge contact event: updates the contact row and raises ``on_contact_event``."""
        try:
            auth.check(request.headers)
            check_json_content_type(request.headers)
            body = await read_body(request, limits.max_event_bytes)
            reject_nul(body, "contact event")
            event = decode_contact_event(body)
            if len(event.id) > _MAX_EVENT_ID or not event.id:
                raise MalformedRequestError(f"id must be 1-{_MAX_EVENT_ID} characters")
            if not event.detail.contact_id or len(event.detail.contact_id) > _MAX_EVENT_ID:
                raise MalformedRequestError(f"detail.contactId must be 1-{_MAX_EVENT_ID} characters")
            raw = msgspec.json.decode(body)
            result = await run_in_threadpool(sink.ingest_contact_event, event, raw)
        except SourceError as exc:
            return _error(exc)
        except Exception:
            _log.exception("contact event failed")
            return JSONResponse({"error": "internal error"}, status_code=500)
        status = "duplicate" if result.duplicate_request else "accepted"
        return JSONResponse({"id": event.id, "status": status})

    return router
