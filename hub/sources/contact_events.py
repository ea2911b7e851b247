"""EventBridge "Amazon Connect Contact Event" delivered through an API destination.

Source: ``shared/reference/aws-formats/contact-events.md``. The body is the whole EventBridge event
``{version, id, detail-type, source, account, time, region, resources, detail}``; ``detail`` is the
contact event. Events are best effort and unordered, so the dedupe key is the envelope ``id`` and rows
are ordered by the event's own timestamps, never by arrival. The documented samples mix the case of
``detail`` keys (``AgentInfo.AgentArn`` next to ``agentInfo.agentArn``), so ``detail`` keys are matched
case-insensitively; unknown members and unknown ``eventType`` values are accepted.

API destinations authenticate with the connection's credentials only: an API key in a header whose
name the connection chooses (:func:`check_api_key`), or HTTP Basic (:func:`check_basic_auth`); OAuth
client credentials are a bearer token obtained from the hub's own token endpoint (not handled here).
EventBridge waits 5 seconds, retries 429 and 5xx (and timeouts) for up to 24 h / 185 attempts and drops
the event on any other 4xx (:func:`eventbridge_retries`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub._structs import prepare_structs
from hub.sources._util import convert, header, require_secret, secrets_match, utc
from hub.sources.contact_records import contact_type
from hub.sources.errors import MalformedRequestError, UnauthorizedError, UnsupportedEventError

__all__ = [
    "CONTACT_EVENT_DETAIL_TYPE",
    "CONTACT_EVENT_SOURCE",
    "EVENT_TYPES",
    "AgentInfo",
    "ContactEvent",
    "ContactEventDetail",
    "CustomerVoiceActivity",
    "QueueInfo",
    "basic_auth_header",
    "check_api_key",
    "check_basic_auth",
    "decode_contact_event",
    "dedupe_key",
    "eventbridge_retries",
    "to_contact_fields",
]

CONTACT_EVENT_DETAIL_TYPE = "Amazon Connect Contact Event"
CONTACT_EVENT_SOURCE = "aws.connect"
#: ``detail.eventType`` values documented so far (the set is open-ended).
EVENT_TYPES = (
    "INITIATED",
    "CONNECTED_TO_SYSTEM",
    "CONTACT_DATA_UPDATED",
    "QUEUED",
    "CONNECTED_TO_AGENT",
    "COMPLETED",
    "DISCONNECTED",
    "AMD_DISABLED",
)


class _Camel(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base: camelCase wire names, unknown members ignored."""


class QueueInfo(_Camel, frozen=True):
    """``detail.queueInfo`` (the AG23 sample writes ``type`` for ``queueType``; both are kept)."""

    queue_arn: str | None = None
    queue_type: str | None = None
    type: str | None = None
    enqueue_timestamp: datetime | None = None


class AgentInfo(_Camel, frozen=True):
    """``detail.agentInfo`` (after-contact-work members only on ``COMPLETED``)."""

    agent_arn: str | None = None
    connected_to_agent_timestamp: datetime | None = None
    after_contact_work_start_timestamp: datetime | None = None
    after_contact_work_end_timestamp: datetime | None = None
    after_contact_work_duration: int | None = None


class CustomerVoiceActivity(_Camel, frozen=True):
    """``detail.customerVoiceActivity`` (outbound greeting)."""

    greeting_start_timestamp: datetime | None = None
    greeting_end_timestamp: datetime | None = None


class ContactEventDetail(_Camel, frozen=True):
    """``detail``: the contact event."""

    event_type: str
    contact_id: str
    initial_contact_id: str | None = None
    previous_contact_id: str | None = None
    related_contact_id: str | None = None
    instance_arn: str | None = None
    channel: str | None = None
    initiation_method: str | None = None
    initiation_timestamp: datetime | None = None
    connected_to_system_timestamp: datetime | None = None
    disconnect_timestamp: datetime | None = None
    disconnect_reason: str | None = None
    scheduled_timestamp: datetime | None = None
    queue_info: QueueInfo | None = None
    agent_info: AgentInfo | None = None
    customer_voice_activity: CustomerVoiceActivity | None = None


class ContactEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The EventBridge envelope around a contact event."""

    id: str
    detail_type: str = msgspec.field(name="detail-type")
    source: str
    detail: ContactEventDetail
    version: str | None = None
    account: str | None = None
    time: datetime | None = None
    region: str | None = None
    resources: list[str] | None = None


_NESTED: dict[str, type[msgspec.Struct]] = {
    "queueInfo": QueueInfo,
    "agentInfo": AgentInfo,
    "customerVoiceActivity": CustomerVoiceActivity,
}


def _canonical_names(kind: type[msgspec.Struct]) -> dict[str, str]:
    return {f.encode_name.lower(): f.encode_name for f in msgspec.structs.fields(kind)}


_DETAIL_NAMES = _canonical_names(ContactEventDetail)
_NESTED_NAMES = {name: _canonical_names(kind) for name, kind in _NESTED.items()}


def _canonicalise(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` with known keys renamed to their canonical camelCase spelling (nested objects too)."""
    result: dict[str, Any] = {}
    for key, value in detail.items():
        name = _DETAIL_NAMES.get(key.lower(), key)
        if name in _NESTED_NAMES and isinstance(value, dict):
            names = _NESTED_NAMES[name]
            result[name] = {names.get(k.lower(), k): v for k, v in value.items()}
        else:
            result[name] = value
    return result


def decode_contact_event(data: bytes | str) -> ContactEvent:
    """Decode and validate an EventBridge contact event.

    :raises MalformedRequestError: not JSON, or missing/mistyped members (the path is named).
    :raises UnsupportedEventError: another ``source`` or ``detail-type`` (e.g. a rule that matches too much).
    """
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise MalformedRequestError(f"invalid contact event: malformed JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise MalformedRequestError("invalid contact event: expected a JSON object")
    if isinstance(raw.get("detail"), dict):
        raw["detail"] = _canonicalise(raw["detail"])
    event = convert(raw, ContactEvent, "contact event")
    if event.source != CONTACT_EVENT_SOURCE or event.detail_type != CONTACT_EVENT_DETAIL_TYPE:
        raise UnsupportedEventError(
            f"unsupported event: source {event.source!r}, detail-type {event.detail_type!r}; "
            f"expected {CONTACT_EVENT_SOURCE!r}, {CONTACT_EVENT_DETAIL_TYPE!r}"
        )
    return event


def dedupe_key(event: ContactEvent) -> str:
    """The envelope ``id`` (unique per EventBridge event, repeated on redelivery)."""
    return event.id


def to_contact_fields(event: ContactEvent) -> dict[str, Any]:
    """The ``contacts`` columns this event knows, with the same names as the contact-record ones.

    Only members present in the event are returned (a ``QUEUED`` event says nothing about the agent,
    and must not blank the agent columns of an upsert). ``last_event_type`` is ``detail.eventType``
    and ``source_timestamp`` the envelope ``time``.
    """
    d = event.detail
    queue = d.queue_info or QueueInfo()
    agent = d.agent_info or AgentInfo()
    channel = d.channel.upper() if d.channel else None
    fields: dict[str, Any] = {
        "contact_id": d.contact_id,
        "initial_contact_id": d.initial_contact_id,
        "previous_contact_id": d.previous_contact_id,
        "related_contact_id": d.related_contact_id,
        "instance_arn": d.instance_arn,
        "aws_account_id": event.account,
        "channel": channel,
        "type": contact_type(channel, d.initiation_method),
        "initiation_method": d.initiation_method.upper() if d.initiation_method else None,
        "initiation_timestamp": utc(d.initiation_timestamp),
        "connected_to_system_timestamp": utc(d.connected_to_system_timestamp),
        "disconnect_timestamp": utc(d.disconnect_timestamp),
        "disconnect_reason": d.disconnect_reason,
        "queue_arn": queue.queue_arn,
        "enqueue_timestamp": utc(queue.enqueue_timestamp),
        "agent_arn": agent.agent_arn,
        "connected_to_agent_timestamp": utc(agent.connected_to_agent_timestamp),
        "after_contact_work_start_timestamp": utc(agent.after_contact_work_start_timestamp),
        "after_contact_work_end_timestamp": utc(agent.after_contact_work_end_timestamp),
        "after_contact_work_duration": agent.after_contact_work_duration,
        "last_event_type": d.event_type,
        "source_timestamp": utc(event.time),
    }
    return {key: value for key, value in fields.items() if value is not None}


def eventbridge_retries(status: int) -> bool:
    """Whether EventBridge retries an API-destination call answered with ``status`` (429 and 5xx)."""
    return status == 429 or 500 <= status <= 599


def check_api_key(headers: Mapping[str, str], *, header_name: str, expected: str | Iterable[str]) -> None:
    """Check the connection's API key header (name configurable, looked up case-insensitively).

    :raises UnauthorizedError: (401, generic reason) when missing or wrong; compared in constant time.
    """
    require_secret(header(headers, header_name), expected)


def basic_auth_header(username: str, password: str) -> str:
    """The ``Authorization`` value EventBridge sends for a Basic connection."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def check_basic_auth(authorization: str | None, *, username: str, password: str) -> None:
    """Check an ``Authorization: Basic …`` header against the connection's credentials.

    Username and password are both compared in constant time, whatever the outcome of the first.

    :raises UnauthorizedError: (401, generic reason) when missing, malformed or wrong.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        raise UnauthorizedError()
    try:
        user, sep, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        raise UnauthorizedError() from None
    user_ok = secrets_match(user, username)
    password_ok = secrets_match(secret, password)
    if not (sep and user_ok and password_ok):
        raise UnauthorizedError()


prepare_structs(globals())
