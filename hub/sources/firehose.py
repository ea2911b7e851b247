"""Amazon Data Firehose HTTP endpoint delivery: the request and response contract, as pure functions.

Firehose POSTs a JSON envelope ``{"requestId", "timestamp", "records": [{"data": <base64>}]}``, gzip-
compressed when the stream's content encoding is GZIP (``Content-Encoding: gzip``), with the configured
access key copied verbatim into ``X-Amz-Firehose-Access-Key``. The endpoint must answer within 3 minutes
with status 200 and exactly ``{"requestId": <the request's id>, "timestamp": <ms epoch, a number>}``;
anything else is a failure (see :data:`FIREHOSE_STATUS_POLICY` for which failures Firehose retries and
which it drops). Source: ``shared/reference/aws-formats/firehose-http-endpoint.md``.

Typical use by the ASGI app::

    check_access_key(headers.get(ACCESS_KEY_HEADER), settings_key)          # 401 on mismatch
    request = parse_request(body, content_encoding=headers.get("content-encoding"),
                            request_id_header=headers.get(REQUEST_ID_HEADER))
    batch = decode_batch(request, AgentEvent)      # typed records + per-record errors
    ... persist batch.items (dedupe on request.request_id and record keys) ...
    return 200, success_body(request.request_id)
    # on SourceError e: return e.status_code, error_body(request_id, e.reason)

Records: Connect writes one JSON document per Kinesis/Firehose record (AES: "one JSON blob per
event"; contact records: one CTR per record). Whether a trailing newline is added is not documented,
so decoding strips surrounding whitespace and, should a record hold several documents (newline-
delimited or concatenated), returns each of them. An empty record decodes to no items.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import msgspec

from hub._structs import prepare_structs
from hub.sources._util import decode_json, require_secret
from hub.sources.errors import (
    InvalidRecordError,
    MalformedRequestError,
    PayloadTooLargeError,
    SourceError,
    UnsupportedEncodingError,
)

__all__ = [
    "ACCESS_KEY_HEADER",
    "COMMON_ATTRIBUTES_HEADER",
    "DEFAULT_LIMITS",
    "FIREHOSE_STATUS_POLICY",
    "PROTOCOL_VERSION_HEADER",
    "REQUEST_ID_HEADER",
    "RESPONSE_HEADERS",
    "SOURCE_ARN_HEADER",
    "DecodedBatch",
    "DecodedRecord",
    "FirehoseLimits",
    "FirehoseRecord",
    "FirehoseRequest",
    "StatusPolicy",
    "check_access_key",
    "decode_batch",
    "decode_record",
    "decompress",
    "error_body",
    "error_response",
    "firehose_outcome",
    "parse_common_attributes",
    "parse_request",
    "success_body",
]

T = TypeVar("T")

ACCESS_KEY_HEADER = "X-Amz-Firehose-Access-Key"
REQUEST_ID_HEADER = "X-Amz-Firehose-Request-Id"
SOURCE_ARN_HEADER = "X-Amz-Firehose-Source-Arn"
PROTOCOL_VERSION_HEADER = "X-Amz-Firehose-Protocol-Version"
COMMON_ATTRIBUTES_HEADER = "X-Amz-Firehose-Common-Attributes"
#: Headers every response must carry (the body must not be compressed).
RESPONSE_HEADERS: dict[str, str] = {"Content-Type": "application/json"}

_MAX_ERROR_MESSAGE = 8192


@dataclass(frozen=True, slots=True)
class FirehoseLimits:
    """Size limits applied to a delivery request. The defaults are Firehose's documented maxima."""

    #: Whole body after decompression (Firehose: up to 64 MiB before compression).
    max_body_bytes: int = 64 * 1024 * 1024
    #: Records per request (Firehose: 1-10,000).
    max_records: int = 10_000
    #: One record's data before base64 (Firehose: 1,024,000 bytes).
    max_record_bytes: int = 1_024_000


DEFAULT_LIMITS = FirehoseLimits()

Outcome = Literal["delivered", "retried", "dropped"]


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    """What Firehose does when the endpoint answers with ``status``."""

    status: int
    outcome: Outcome
    meaning: str


#: Documented behaviour per status (FH23 ``httpdeliveryrequestresponse.md`` + ``http_troubleshooting.md``).
#: Only 200 delivers; 413 is a permanent failure (batch dropped, not even sent to the error bucket);
#: every other status, including other 2xx and 3xx (redirects are not followed), is retried with
#: exponential backoff (1 s initial, x2, capped at 2 min) until the stream's retry duration expires,
#: after which the batch goes to the S3 backup bucket.
FIREHOSE_STATUS_POLICY: dict[int, StatusPolicy] = {
    p.status: p
    for p in (
        StatusPolicy(200, "delivered", "success; body must echo requestId and a numeric timestamp"),
        StatusPolicy(400, "retried", "bad request / endpoint misconfiguration"),
        StatusPolicy(401, "retried", "access key missing or wrong"),
        StatusPolicy(403, "retried", "access key lacks permission"),
        StatusPolicy(413, "dropped", "permanent failure: batch dropped, not sent to the error bucket"),
        StatusPolicy(415, "retried", "unsupported content encoding"),
        StatusPolicy(429, "retried", "too many requests"),
        StatusPolicy(500, "retried", "destination error"),
        StatusPolicy(503, "retried", "destination unavailable"),
    )
}


def firehose_outcome(status: int) -> Outcome:
    """What Firehose does with a batch answered with ``status``: delivered, retried or dropped."""
    if status == 200:
        return "delivered"
    if status == 413:
        return "dropped"
    return "retried"


class FirehoseRecord(msgspec.Struct, frozen=True):
    """``records[i]``: the base64 ``data`` of one record."""

    data: str


class FirehoseRequest(msgspec.Struct, frozen=True):
    """The delivery request envelope."""

    request_id: str = msgspec.field(name="requestId")
    #: When Firehose generated the request, ms since the epoch.
    timestamp: int
    records: list[FirehoseRecord]

    def record_data(self, index: int) -> bytes:
        """The decoded bytes of record ``index``.

        :raises InvalidRecordError: when its ``data`` is not valid base64.
        """
        try:
            return base64.b64decode(self.records[index].data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRecordError("data is not valid base64", index) from None


@dataclass(frozen=True, slots=True)
class DecodedRecord(Generic[T]):
    """One typed item decoded from a record; ``index`` is the record's position in the batch."""

    index: int
    value: T


@dataclass(slots=True)
class DecodedBatch(Generic[T]):
    """The typed items of a request and the records that could not be decoded."""

    items: list[DecodedRecord[T]] = field(default_factory=list)
    errors: list[InvalidRecordError] = field(default_factory=list)


def check_access_key(provided: str | None, expected: str | Iterable[str]) -> None:
    """Check ``X-Amz-Firehose-Access-Key`` against the configured key(s) in constant time.

    Several keys may be accepted at once (rotation). An empty configured key never matches.

    :raises UnauthorizedError: (401, generic reason) when the header is missing or wrong.
    """
    require_secret(provided, expected)


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body with its ``Content-Encoding`` removed, never larger than ``max_bytes``.

    Firehose sends ``gzip`` or no header at all; ``identity`` is accepted too. Decompression stops as
    soon as the output exceeds the limit, so a small compressed bomb cannot exhaust memory.

    :raises UnsupportedEncodingError: for any other encoding.
    :raises MalformedRequestError: for corrupt or truncated gzip data.
    :raises PayloadTooLargeError: when the (decompressed) body exceeds ``max_bytes``.
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise PayloadTooLargeError(f"request body exceeds {max_bytes} bytes")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedEncodingError(f"unsupported Content-Encoding {content_encoding!r}; expected gzip")
    out = bytearray()
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out += inflater.decompress(data, max_bytes + 1 - len(out))
            if len(out) > max_bytes or inflater.unconsumed_tail:
                raise PayloadTooLargeError(f"decompressed request body exceeds {max_bytes} bytes")
            if not inflater.eof:
                raise MalformedRequestError("truncated gzip body")
            data = inflater.unused_data  # a further gzip member, if any
    except zlib.error as exc:
        raise MalformedRequestError(f"corrupt gzip body ({exc})") from None
    return bytes(out)


def parse_request(
    body: bytes,
    *,
    content_encoding: str | None = None,
    request_id_header: str | None = None,
    limits: FirehoseLimits = DEFAULT_LIMITS,
) -> FirehoseRequest:
    """Decompress, decode and validate a delivery request body.

    :param request_id_header: ``X-Amz-Firehose-Request-Id``; when given it must equal ``requestId``.
    :raises MalformedRequestError: bad JSON, missing/mistyped members, no records, too many records,
        or a request id that differs from the header.
    :raises PayloadTooLargeError: body or a record over the limits.
    :raises UnsupportedEncodingError: see :func:`decompress`.
    """
    raw = decompress(body, content_encoding, limits.max_body_bytes)
    request = decode_json(raw, FirehoseRequest, "Firehose request")
    if not request.request_id:
        raise MalformedRequestError("invalid Firehose request: requestId is empty")
    if request_id_header is not None and request_id_header != request.request_id:
        raise MalformedRequestError("requestId does not match the X-Amz-Firehose-Request-Id header")
    if not request.records:
        raise MalformedRequestError("invalid Firehose request: records is empty")
    if len(request.records) > limits.max_records:
        raise MalformedRequestError(f"too many records: {len(request.records)} > {limits.max_records}")
    max_b64 = -(-limits.max_record_bytes // 3) * 4
    for index, record in enumerate(request.records):
        if len(record.data) > max_b64:
            raise PayloadTooLargeError(f"record {index} exceeds {limits.max_record_bytes} bytes")
    return request


def decode_record(data: bytes, kind: type[T], index: int | None = None) -> list[T]:
    """Decode one record's bytes into typed items (usually exactly one; none for an empty record).

    :raises InvalidRecordError: when the data is not JSON or does not fit ``kind``.
    """
    stripped = data.strip()
    if not stripped:
        return []
    try:
        return [msgspec.json.decode(stripped, type=kind, strict=False)]
    except msgspec.ValidationError as exc:
        raise InvalidRecordError(str(exc), index) from None
    except msgspec.DecodeError:
        pass  # maybe several documents: fall back to the slower scanner below
    items: list[T] = []
    decoder = json.JSONDecoder()
    try:
        text = stripped.decode()
        pos = 0
        while pos < len(text):
            obj, end = decoder.raw_decode(text, pos)
            items.append(msgspec.convert(obj, kind, strict=False))
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRecordError("data is not JSON", index) from None
    except msgspec.ValidationError as exc:
        raise InvalidRecordError(str(exc), index) from None
    return items


def decode_batch(request: FirehoseRequest, kind: type[T]) -> DecodedBatch[T]:
    """Decode every record of ``request`` into ``kind``, collecting per-record errors.

    A bad record does not stop the others; the caller decides whether to reject the whole request
    (Firehose would retry it) or to accept it and park the bad records.
    """
    batch: DecodedBatch[T] = DecodedBatch()
    for index in range(len(request.records)):
        try:
            values = decode_record(request.record_data(index), kind, index)
        except InvalidRecordError as exc:
            batch.errors.append(exc)
            continue
        batch.items.extend(DecodedRecord(index, value) for value in values)
    return batch


def parse_common_attributes(value: str | None) -> dict[str, str]:
    """The ``X-Amz-Firehose-Common-Attributes`` header as a dict (empty when absent).

    :raises MalformedRequestError: when present but not ``{"commonAttributes": {name: value}}``.
    """
    if not value:
        return {}
    try:
        parsed = msgspec.json.decode(value, type=dict[str, dict[str, str]])
        return parsed.get("commonAttributes", {})
    except msgspec.DecodeError as exc:
        raise MalformedRequestError(f"invalid {COMMON_ATTRIBUTES_HEADER} header: {exc}") from None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def success_body(request_id: str, timestamp_ms: int | None = None) -> bytes:
    """The exact 200 body: ``{"requestId": ..., "timestamp": <ms, a number>}``."""
    ts = _now_ms() if timestamp_ms is None else timestamp_ms
    return msgspec.json.encode({"requestId": request_id, "timestamp": ts})


def error_body(request_id: str, message: str, timestamp_ms: int | None = None) -> bytes:
    """The error body: ``{"requestId", "timestamp", "errorMessage"}`` (message cut to 8192 chars)."""
    ts = _now_ms() if timestamp_ms is None else timestamp_ms
    return msgspec.json.encode({"requestId": request_id, "timestamp": ts, "errorMessage": message[:_MAX_ERROR_MESSAGE]})


def error_response(error: SourceError, request_id: str | None, timestamp_ms: int | None = None) -> tuple[int, bytes]:
    """``(status, body)`` for a rejected request.

    :param request_id: the body's ``requestId``, or the header value when the body was unreadable.
    """
    return error.status_code, error_body(request_id or "", error.reason, timestamp_ms)


prepare_structs(globals())
