"""HTTP plumbing shared by the ingest endpoints: bounded body reading, content-type checks, limits."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.requests import Request

from hub.sources.errors import MalformedRequestError, PayloadTooLargeError, SourceError
from hub.sources.firehose import DEFAULT_LIMITS, FirehoseLimits

__all__ = [
    "IngestLimits",
    "UnsupportedMediaTypeError",
    "check_json_content_type",
    "collector_paused",
    "read_body",
    "reject_nul",
]


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Size limits of the ingest endpoints.

    The Firehose defaults are Firehose's documented maxima (64 MiB body, 10,000 records, 1,024,000
    bytes per record), so a genuine delivery never gets the 413 that makes Firehose drop a batch. The
    compressed body is held to the same limit as the decompressed one.
    """

    firehose: FirehoseLimits = field(default_factory=lambda: DEFAULT_LIMITS)
    #: An EventBridge API-destination body (EventBridge events are at most 256 KB; 1 MiB is the
    #: ``Range`` EventBridge announces for the response).
    max_event_bytes: int = 1024 * 1024


_pause_lock = threading.Lock()
_pausers = 0
_paused_since = 0.0
#: Longest the collector stays paused while requests keep overlapping; then one pass runs.
MAX_PAUSE_SECONDS = 10.0


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one request's work (process-wide).

    Applying a batch allocates hundreds of thousands of short-lived containers; freed by reference
    counting, they still trigger generation-2 passes over the whole heap (the sessions, the web stack),
    which cost a third of the CPU of a 500-record batch. Cycles made meanwhile are collected after.
    Concurrent and nested calls share the pause (a count): the collector is re-enabled when the last
    one ends. Requests that keep overlapping never leave it paused for long: after
    :data:`MAX_PAUSE_SECONDS`, the call ending then collects once. A collector disabled by someone else
    is left alone.
    """
    global _pausers, _paused_since  # noqa: PLW0603 - one process-wide pause
    with _pause_lock:
        if _pausers == 0:
            if not gc.isenabled():
                owner = False
            else:
                gc.disable()
                _paused_since = time.monotonic()
                owner = True
        else:
            owner = True
        if owner:
            _pausers += 1
    if not owner:
        yield
        return
    try:
        yield
    finally:
        collect = False
        with _pause_lock:
            _pausers -= 1
            if _pausers == 0:
                gc.enable()
            elif time.monotonic() - _paused_since > MAX_PAUSE_SECONDS:
                _paused_since = time.monotonic()
                collect = True
        if collect:
            gc.collect()


class UnsupportedMediaTypeError(SourceError):
    """A ``Content-Type`` other than JSON."""

    status_code = 415


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it exceeds ``limit`` bytes, before reading it all.

    :raises PayloadTooLargeError: ``Content-Length`` or the bytes received exceed ``limit``.
    :raises MalformedRequestError: ``Content-Length`` is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedRequestError("invalid Content-Length header") from None
        if size > limit:
            raise PayloadTooLargeError(f"request body exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"request body exceeds {limit} bytes")
    return bytes(body)


def check_json_content_type(headers: Headers) -> None:
    """Accept ``application/json`` (any parameters, e.g. ``charset``) or no ``Content-Type`` at all.

    :raises UnsupportedMediaTypeError: any other media type.
    """
    value = headers.get("content-type")
    if value is None:
        return
    media = value.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaTypeError(f"unsupported Content-Type {media!r}; expected application/json")


def reject_nul(data: bytes, what: str) -> None:
    """Refuse JSON holding an escaped NUL character (``\\u0000``), which PostgreSQL cannot store.

    :raises MalformedRequestError: naming ``what``.
    """
    if b"\\u0000" in data or b"\x00" in data:
        raise MalformedRequestError(f"{what}: NUL characters are not accepted")
