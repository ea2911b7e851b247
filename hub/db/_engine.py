"""Engines and sessions for SQLite and PostgreSQL.

SQLite is configured the way Prefect's ``database/configurations.py`` does it: PRAGMAs on every new
connection (WAL, foreign keys, busy timeout, ``synchronous=NORMAL``), and the driver's own implicit
``BEGIN`` switched off so SQLAlchemy emits ``BEGIN`` itself, ``BEGIN IMMEDIATE`` for writers. Taking the
write lock at the start of a write transaction, instead of upgrading a read lock half way, is what
prevents ``database is locked`` errors between concurrent writers (the hub, the relay, workers) — see
SQLAlchemy's SQLite dialect docs, "Serializable isolation / Savepoints / Transactional DDL", and
https://www.sqlite.org/lang_transaction.html.

Engines must not cross ``fork()``: a Celery worker creates its engine in ``worker_process_init`` or
calls ``engine.dispose(close=False)`` there (SQLAlchemy pooling docs, "Using Connection Pools with
Multiprocessing").
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session

from ._types import json_dumps, json_loads

__all__ = [
    "SQLITE_IDLE_CHECKPOINT_PAGES",
    "checkpoint_sqlite",
    "create_engine_from_url",
    "is_memory_sqlite",
    "normalize_url",
    "session_scope",
    "sqlite_wal_backlog",
]

#: Milliseconds a SQLite connection waits for a lock before failing with ``database is locked``.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: SQLite page cache per connection, in KiB.
SQLITE_CACHE_KIB = 65_536
#: WAL pages written before SQLite checkpoints automatically.
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
#: WAL pages not yet copied above which a writer with time to spare checkpoints (:func:`checkpoint_sqlite`):
#: half the automatic threshold, so a large write on top still commits below it.
SQLITE_IDLE_CHECKPOINT_PAGES = SQLITE_WAL_CHECKPOINT_PAGES // 2
_BEGIN_OPTION = "hub_sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL, choosing psycopg 3 for a bare ``postgresql://`` URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def sqlite_wal_backlog(engine: Engine) -> int | None:
    """WAL frames (pages) of a SQLite database file not yet copied into it; ``None`` when unknown.

    Read from the WAL-index header in the ``-shm`` file (https://www.sqlite.org/walformat.html:
    ``mxFrame`` at byte 16, the checkpoint's ``nBackfill`` at byte 96, native byte order), without a
    connection or a lock: a snapshot that may be a write behind, good enough to decide whether a
    checkpoint is worth running now. ``None`` for PostgreSQL, in-memory SQLite, or no WAL index yet.
    """
    if engine.dialect.name != "sqlite" or is_memory_sqlite(engine) or not engine.url.database:
        return None
    try:
        with open(f"{engine.url.database}-shm", "rb") as shm:
            header = shm.read(100)
    except OSError:
        return None
    if len(header) < 100:
        return None
    max_frame: int = struct.unpack_from("=I", header, 16)[0]
    backfilled: int = struct.unpack_from("=I", header, 96)[0]
    return max(0, max_frame - backfilled)


def checkpoint_sqlite(engine: Engine, *, min_pages: int = 0) -> None:
    """Copy what the WAL holds into a SQLite database file now (a ``PASSIVE`` checkpoint); else nothing.

    For a writer with a moment to spare, e.g. right after answering a request: SQLite's automatic
    checkpoint (every :data:`SQLITE_WAL_CHECKPOINT_PAGES` pages) otherwise runs inside some commit and
    delays that request. ``PASSIVE`` never waits for readers or writers; what it cannot copy now is
    copied by a later checkpoint. With ``min_pages``, nothing is done while the WAL holds fewer pages
    not yet copied (:func:`sqlite_wal_backlog`): successive writes dirty many of the same pages (index
    leaves, agent rows), and each checkpoint copies a page once however many writes changed it.
    """
    if engine.dialect.name != "sqlite" or is_memory_sqlite(engine):
        return
    if min_pages > 0:
        backlog = sqlite_wal_backlog(engine)
        if backlog is not None and backlog < min_pages:
            return
    raw = engine.raw_connection()
    try:
        # In autocommit (the connect hook sets isolation_level=None): a checkpoint cannot run in a transaction.
        driver = raw.driver_connection
        assert driver is not None  # a checked-out connection always has its DBAPI connection
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def is_memory_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` is an in-memory SQLite database (one connection, which threads cannot share)."""
    return engine.url.get_backend_name() == "sqlite" and _is_memory_sqlite(engine.url)


def create_engine_from_url(url: str | URL, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the hub's settings.

    * every dialect: ``pool_pre_ping`` (a connection dropped by a database restart is replaced, not
      handed out), msgspec for JSON columns;
    * PostgreSQL (psycopg 3): a bounded pool recycled every 30 minutes;
    * SQLite: the PRAGMAs and ``BEGIN`` handling described in the module docstring.

    ``sqlite_foreign_keys=False`` is for migrations (Alembic's batch mode recreates tables, which must
    not cascade). Extra keyword arguments go to :func:`sqlalchemy.create_engine` and win.
    """
    parsed = normalize_url(url)
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "json_serializer": json_dumps,
        "json_deserializer": json_loads,
    }
    if parsed.get_backend_name() == "postgresql" and "poolclass" not in kwargs:
        options.update(pool_size=10, max_overflow=20, pool_timeout=30, pool_recycle=1800)
    options.update(kwargs)
    engine = sa.create_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, wal=not _is_memory_sqlite(parsed), foreign_keys=sqlite_foreign_keys)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN; pysqlite's own BEGIN is deferred and skips DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                # Readers do not block the writer and vice versa; persistent per database file.
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # Durable across application crashes in WAL mode; only an OS crash can lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA legacy_alter_table=OFF")
            # 64 MiB page cache per connection instead of 2 MiB: index inserts stay in memory as the
            # event log and the outbox grow (measured in bench/db_write.py).
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            # Checkpoint every ~40 MiB of WAL instead of ~4 MiB: a batch dirties pages all over the
            # outbox and event indexes, and each checkpoint rewrites them (about 20% of write CPU).
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """The single way to get a session: one transaction, committed on success, rolled back on error.

    ``write=True`` starts SQLite transactions with ``BEGIN IMMEDIATE`` (the write lock is taken up
    front); ``write=False`` uses a deferred ``BEGIN`` for read-only work. On PostgreSQL both are a plain
    ``BEGIN``. Objects stay readable after the scope ends (``expire_on_commit=False``).
    """
    bind = engine
    if engine.dialect.name == "sqlite":
        bind = engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE" if write else "DEFERRED"})
    with Session(bind=bind, expire_on_commit=False) as session, session.begin():
        yield session
