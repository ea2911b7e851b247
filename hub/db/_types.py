"""Portable column types shared by the models and the migrations.

Both types behave the same on SQLite and PostgreSQL, which is what lets one stream of migrations and
one set of queries serve both databases (the approach of Prefect's ``server/utilities/database.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

__all__ = ["JSONLogType", "JSONType", "UTCDateTime", "json_dumps", "json_loads", "utcnow"]

#: JSON documents: ``JSONB`` on PostgreSQL (compact, indexable), SQLite's text JSON elsewhere. Python
#: ``None`` is SQL ``NULL`` (not JSON ``null``), so ``COALESCE`` merges in upserts see a missing value.
JSONType: sa.types.TypeEngine[Any] = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)

#: JSON documents written often and read back whole, never searched by content (event payloads, the
#: agents' latest agent data): ``json`` on PostgreSQL, which stores the text as sent after checking
#: it, where ``jsonb`` parses it into a binary form: for the 1-4 KB snapshots in event payloads that
#: parse was 16.5 of 19 ms per 1,100-event batch (``SELECT`` of the ``unnest`` alone; 3.8 ms as ``json``).
#: ``->>`` works on both. SQLite stores text either way.
JSONLogType: sa.types.TypeEngine[Any] = sa.JSON(none_as_null=True)

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


def json_dumps(value: Any) -> str:
    """Serialise a JSON column value (msgspec: fast, and encodes datetimes as RFC 3339)."""
    return _ENCODER.encode(value).decode()


def json_loads(text: str | bytes) -> Any:
    """Deserialise a JSON column value."""
    return _DECODER.decode(text)


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime (the only kind of datetime the hub stores)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An aware UTC timestamp on every dialect.

    PostgreSQL stores ``timestamptz``. SQLite has no timestamp type: SQLAlchemy stores
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text, so values are normalised to UTC before binding (which keeps
    the text lexicographically ordered, so ``>=`` and ``ORDER BY`` stay correct in SQL) and read
    back as aware UTC datetimes. Naive datetimes are rejected rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Normalise to UTC (naive UTC on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the hub stores aware UTC timestamps only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
