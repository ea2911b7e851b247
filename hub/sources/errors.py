"""Errors raised while validating what an Amazon Connect feed delivers.

Every error carries the HTTP ``status_code`` the ingest endpoint should answer with and a ``reason``
that is safe to show to the caller: it describes what was wrong with the caller's own request, never
server internals, and for authentication failures it never says *why* the credentials were refused.
"""

from __future__ import annotations

__all__ = [
    "InvalidRecordError",
    "MalformedRequestError",
    "PayloadTooLargeError",
    "SourceError",
    "SourceUnavailableError",
    "UnauthorizedError",
    "UnsupportedEncodingError",
    "UnsupportedEventError",
]


class SourceError(Exception):
    """Base class: a request or record from a source was rejected.

    :param reason: a short, caller-safe explanation (used as the response's error message).
    """

    status_code: int = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedRequestError(SourceError):
    """The request body is not the documented shape (bad JSON, missing or mistyped members)."""

    status_code = 400


class InvalidRecordError(MalformedRequestError):
    """One record inside an otherwise valid batch cannot be decoded or validated.

    :param reason: what is wrong with the record.
    :param index: the record's position in its batch, when known.
    """

    def __init__(self, reason: str, index: int | None = None) -> None:
        super().__init__(reason if index is None else f"record {index}: {reason}")
        self.index = index


class UnsupportedEventError(MalformedRequestError):
    """A well-formed event of a kind this endpoint does not accept (e.g. another ``detail-type``)."""


class UnauthorizedError(SourceError):
    """Missing or wrong credentials. The reason is deliberately generic."""

    status_code = 401

    def __init__(self, reason: str = "unauthorized") -> None:
        super().__init__(reason)


class PayloadTooLargeError(SourceError):
    """The body, once decompressed, or a record exceeds the configured limits.

    Note for Firehose endpoints: Firehose treats 413 as a *permanent* failure and drops the batch
    (see :data:`hub.sources.firehose.FIREHOSE_STATUS_POLICY`). The default limits equal Firehose's own
    documented maxima, so a genuine Firehose request never trips them.
    """

    status_code = 413


class UnsupportedEncodingError(SourceError):
    """A ``Content-Encoding`` other than the ones the source documents."""

    status_code = 415


class SourceUnavailableError(SourceError):
    """Storage or broker is down: answer 503 so the source retries later."""

    status_code = 503

    def __init__(self, reason: str = "temporarily unavailable, retry later") -> None:
        super().__init__(reason)
