"""The hot write path: multi-row ``INSERT`` statements sent straight to the driver.

SQLAlchemy's "insertmanyvalues" is correct but spends most of its time in Python per parameter (type
processors, parameter dictionaries) and, with psycopg, in parsing a fresh multi-thousand-placeholder
query on every call; measured in ``bench/db_write.py``, that capped the write path far below the
10,000 events/s the hub needs. Here values are converted once per row and each chunk is one statement:

* PostgreSQL: ``INSERT ... SELECT * FROM unnest(%s::type[], ...)``, one array parameter per column,
  so the query text is constant (prepared once, no parsing per row) and psycopg adapts the arrays in C;
* SQLite: ``INSERT ... VALUES (?, ...), (?, ...)`` in chunks under the bound-parameter limit, run by
  the ``sqlite3`` module in C.

The ``ON CONFLICT`` clause is the same text on both databases. Identifiers in the generated SQL come
from the table metadata and constants in ``_upserts.py`` only, always quoted; every value is a bound
parameter. Values are stored exactly as the
SQLAlchemy column types would store them (UTC timestamps in SQLAlchemy's SQLite text format, JSON via
the same serialiser), so the ORM reads them back unchanged; the tests run every write through this path.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ._types import JSONType, UTCDateTime, json_dumps

__all__ = ["Insert", "PreparedRows", "bulk_insert", "insert_prepared", "insert_prepared_many", "prepare_rows", "quote"]

_SQLITE_MAX_ROWS = 2_000
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def quote(name: str) -> str:
    """A double-quoted identifier (valid on both databases; ``key`` is a keyword)."""
    return '"' + name.replace('"', '""') + '"'


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is dt.UTC:
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the hub stores aware UTC timestamps only")
    return value.astimezone(dt.UTC)


def _sqlite_ts(value: dt.datetime | None) -> str | None:
    utc = _utc(value)
    # SQLAlchemy's SQLite DATETIME storage format, so text comparison orders correctly.
    return None if utc is None else utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def _convert_columns(
    rows: Sequence[Sequence[Any]], width: int, converters: list[tuple[int, Callable[[Any], Any]]]
) -> list[Sequence[Any]]:
    """The rows as columns, with per-column converters applied.

    A column whose values all equal its first (a batch's ``now``, ``None`` payloads) is converted once;
    otherwise a value identical to the previous row's reuses its conversion.
    """
    if not rows:
        return [[] for _ in range(width)]
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, convert in converters:
        column = columns[i]
        first = column[0]
        if column.count(first) == len(column):
            columns[i] = [convert(first)] * len(column)
            continue
        converted = []
        seen: Any = object()
        result: Any = None
        for value in column:
            if value is not seen:
                seen, result = value, convert(value)
            converted.append(result)
        columns[i] = converted
    return columns


def _json(value: Any) -> str | None:
    return None if value is None else json_dumps(value)


def _is_json(column: sa.Column[Any]) -> bool:
    return column.type is JSONType or isinstance(column.type, sa.JSON)


def _converter(column: sa.Column[Any], dialect: str) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UTCDateTime):
        return _sqlite_ts if dialect == "sqlite" else _utc
    if _is_json(column):
        return _json
    return None


def _pg_array_type(column: sa.Column[Any]) -> str:
    if _is_json(column):
        return "jsonb[]" if column.type is JSONType else "json[]"
    return f"{column.type.compile(dialect=_PG)}[]"


def _sqlite_variable_limit(connection: sa.Connection) -> int:
    """The build's bound-parameter limit (32,766 since SQLite 3.32; 999 before)."""
    driver = connection.connection.driver_connection
    getlimit = getattr(driver, "getlimit", None)
    if getlimit is None:  # Python < 3.11 or another driver
        return 999
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


@cache
def _pg_statement(table: sa.Table, columns: tuple[str, ...], tail: str) -> str:
    # %b: binary parameters (arrays dumped without text quoting, several times faster).
    arrays = ", ".join(f"%b::{_pg_array_type(table.c[c])}" for c in columns)
    names = ", ".join(quote(c) for c in columns)
    return f"INSERT INTO {quote(table.name)} ({names}) SELECT * FROM unnest({arrays}) {tail}"


@lru_cache(maxsize=512)
def _sqlite_statement(table: sa.Table, columns: tuple[str, ...], rows: int, tail: str) -> str:
    names = ", ".join(quote(c) for c in columns)
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES {', '.join([row] * rows)} {tail}"


class PreparedRows:
    """Rows of one table converted for one database (columns, values as stored), ready to insert.

    Built by :func:`prepare_rows` without a connection (in any thread); inserted by :func:`insert_prepared`.
    """

    __slots__ = ("columns", "count", "table", "values")

    def __init__(self, table: sa.Table, columns: tuple[str, ...], values: list[Sequence[Any]], count: int) -> None:
        """Hold converted ``values`` (one sequence per column) of ``count`` rows."""
        self.table = table
        self.columns = columns
        self.values = values
        self.count = count


def prepare_rows(dialect: str, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> PreparedRows:
    """Convert ``rows`` (tuples in ``columns`` order) as ``table``'s column types store them on ``dialect``."""
    cols = tuple(columns)
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"unsupported database dialect {dialect!r} (SQLite and PostgreSQL only)")
    converters = [(i, f) for i, c in enumerate(cols) if (f := _converter(table.c[c], dialect)) is not None]
    return PreparedRows(table, cols, _convert_columns(rows, len(cols), converters), len(rows))


def _tail(on_conflict: str, returning: Sequence[str]) -> str:
    """The statement's end: the ``ON CONFLICT`` clause, then ``RETURNING`` the given columns."""
    return on_conflict + (" RETURNING " + ", ".join(quote(c) for c in returning) if returning else "")


def bulk_insert(
    session: Session,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    on_conflict: str = "",
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; return the ``RETURNING`` rows.

    ``on_conflict`` is an ``ON CONFLICT ...`` clause (same text on both databases, identifiers quoted).
    Returned rows come back in insertion order within a chunk; chunks are inserted in input order.
    """
    if not rows:
        return []
    prepared = prepare_rows(session.get_bind().dialect.name, table, columns, rows)
    return insert_prepared(session, prepared, on_conflict=on_conflict, returning=returning)


def insert_prepared(
    session: Session, prepared: PreparedRows, *, on_conflict: str = "", returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Insert rows from :func:`prepare_rows` (same dialect as the session's); see :func:`bulk_insert`."""
    if not prepared.count:
        return []
    table, cols, values = prepared.table, prepared.columns, prepared.values
    dialect = session.get_bind().dialect.name
    tail = _tail(on_conflict, returning)
    connection = session.connection()
    out: list[tuple[Any, ...]] = []
    if dialect == "postgresql":
        statement = _pg_statement(table, cols, tail)
        params = tuple(list(column) for column in values)
        result = connection.exec_driver_sql(statement, params)
        return _fetch_raw(result) if returning else []
    if dialect != "sqlite":
        raise NotImplementedError(f"unsupported database dialect {dialect!r} (SQLite and PostgreSQL only)")
    per_chunk = min(_SQLITE_MAX_ROWS, _sqlite_variable_limit(connection) // len(cols))
    for start in range(0, prepared.count, per_chunk):
        chunk = [column[start : start + per_chunk] for column in values]
        statement = _sqlite_statement(table, cols, len(chunk[0]), tail)
        flat = tuple(chain.from_iterable(zip(*chunk, strict=True)))
        result = connection.exec_driver_sql(statement, flat)
        if returning:
            out += _fetch_raw(result)
    return out


Insert = tuple[PreparedRows, str, Sequence[str]]
"""One insert for :func:`insert_prepared_many`: the rows, the ``ON CONFLICT`` clause, the ``RETURNING`` columns."""


def insert_prepared_many(session: Session, inserts: Sequence[Insert]) -> list[list[tuple[Any, ...]]]:
    """Run several :func:`insert_prepared` inserts in order; return each one's ``RETURNING`` rows.

    On PostgreSQL they go to the server together, in psycopg's pipeline mode: one network round trip
    for all of them instead of one each, and as many fewer waits for the writing thread to get the GIL
    back. They run in the session's transaction exactly as if sent one by one; the first that fails
    raises (the rest are not run) and the transaction must be rolled back.
    """
    if session.get_bind().dialect.name != "postgresql":
        return [insert_prepared(session, rows, on_conflict=tail, returning=ret) for rows, tail, ret in inserts]
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in use always has its DBAPI connection
    statements = [_pg_statement(r.table, r.columns, _tail(c, ret)) if r.count else "" for r, c, ret in inserts]
    cursors: list[Any] = []
    try:
        with driver.pipeline():
            for (rows, _conflict, returning), statement in zip(inserts, statements, strict=True):
                if not rows.count:
                    cursors.append(None)
                    continue
                cursor = driver.cursor()
                cursor.execute(statement, tuple(list(c) for c in rows.values))
                cursors.append(cursor if returning else None)
            return [[tuple(r) for r in cursor.fetchall()] if cursor is not None else [] for cursor in cursors]
    except connection.dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy reports a failed statement: its DBAPIError subclasses, the connection
        # invalidated when the error says the server is gone (callers catch SQLAlchemyError).
        lost = connection.dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        error_base = connection.dialect.loaded_dbapi.Error
        sql = "; ".join(s for s in statements if s)
        raise sa.exc.DBAPIError.instance(sql, None, exc, error_base, connection_invalidated=lost) from exc


def _fetch_raw(result: sa.CursorResult[Any]) -> list[tuple[Any, ...]]:
    """All rows as the driver returns them (no SQLAlchemy row objects: plain ids and strings here)."""
    cursor = result.cursor
    rows = [tuple(r) for r in cursor.fetchall()] if cursor is not None else []
    result.close()
    return rows
