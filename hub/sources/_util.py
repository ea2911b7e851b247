"""Helpers shared by the source modules: naming, timestamps, typed decoding, credential checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from hub.sources.errors import MalformedRequestError, UnauthorizedError

T = TypeVar("T")

_UPPER_TOKENS = {"arn": "ARN", "aws": "AWS"}


def pascal(name: str) -> str:
    """msgspec ``rename`` callable: ``agent_arn`` → ``AgentARN``, ``aws_account_id`` → ``AWSAccountId``."""
    return "".join(_UPPER_TOKENS.get(part, part.capitalize()) for part in name.split("_"))


def utc(value: datetime | None) -> datetime | None:
    """The same instant as an aware UTC datetime (a naive value is taken to be UTC already)."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_ms(value: datetime | None) -> str | None:
    """ISO-8601 with milliseconds and ``Z`` (``2026-03-02T09:15:42.318Z``), the form the wire uses."""
    if value is None:
        return None
    return _iso_ms(value)


@lru_cache(maxsize=8192)
def _iso_ms(value: datetime) -> str:
    # Cached: an agent's records repeat the same instants (status start, queue and connect times).
    # Equal aware datetimes are the same instant, so they share one (UTC) rendering.
    moment = value if value.tzinfo is UTC else utc(value)
    assert moment is not None
    return moment.isoformat(timespec="milliseconds")[:23] + "Z"


def parse_timestamp(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or an ISO-8601 string (``Z`` or an offset).

    :raises ValueError: when the string is not ISO-8601.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    result = utc(value)
    assert result is not None
    return result


def decode_json(data: bytes | str, kind: type[T], what: str) -> T:
    """Decode JSON into ``kind`` leniently (numbers as timestamps, unknown members ignored).

    :raises MalformedRequestError: naming the offending member path when the data does not fit.
    """
    try:
        return msgspec.json.decode(data, type=kind, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedRequestError(f"invalid {what}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedRequestError(f"invalid {what}: malformed JSON ({exc})") from None


def convert(data: Any, kind: type[T], what: str) -> T:
    """Like :func:`decode_json` for already-decoded builtins."""
    try:
        return msgspec.convert(data, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedRequestError(f"invalid {what}: {exc}") from None


def secrets_match(provided: str | None, expected: str | Iterable[str]) -> bool:
    """Compare a presented secret with one or several accepted ones in constant time.

    Every candidate is compared (no early exit), so timing reveals neither which key matched nor how
    much of a key was right. An empty expected secret never matches.
    """
    candidates = [expected] if isinstance(expected, str) else list(expected)
    presented = (provided or "").encode()
    matched = False
    for candidate in candidates:
        ok = hmac.compare_digest(presented, candidate.encode())
        matched = matched | (ok and bool(candidate) and provided is not None)
    return matched


def require_secret(provided: str | None, expected: str | Iterable[str]) -> None:
    """Raise :class:`UnauthorizedError` (with a generic reason) unless :func:`secrets_match`."""
    if not secrets_match(provided, expected):
        raise UnauthorizedError()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value looked up case-insensitively in any mapping (plain dicts included)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None
