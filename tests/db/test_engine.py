"""Engine construction."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from hub.db import checkpoint_sqlite, create_engine_from_url, normalize_url, session_scope, sqlite_wal_backlog


def test_bare_postgresql_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u:p%40ss@db:5432/hub").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@db/hub").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@db/hub").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///var/hub.db").drivername == "sqlite"


def test_postgresql_engines_get_a_bounded_pre_pinged_pool() -> None:
    engine = create_engine_from_url("postgresql://u@127.0.0.1:1/hub")  # never connects
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    assert engine.pool.size() == 10  # type: ignore[attr-defined]
    assert engine.pool._recycle == 1800  # type: ignore[attr-defined]
    engine.dispose()


def test_extra_arguments_win() -> None:
    engine = create_engine_from_url("postgresql://u@127.0.0.1:1/hub", pool_size=3)
    assert engine.pool.size() == 3  # type: ignore[attr-defined]
    engine.dispose()


def test_the_wal_backlog_counts_pages_until_a_checkpoint_copies_them(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'hub.db'}")
    with session_scope(engine) as db:
        db.execute(sa.text("CREATE TABLE blobs (data BLOB)"))
    with session_scope(engine) as db:
        db.execute(sa.text("INSERT INTO blobs VALUES (randomblob(40000))"))  # about ten 4 KiB pages
    backlog = sqlite_wal_backlog(engine)
    assert backlog is not None and backlog >= 10

    checkpoint_sqlite(engine, min_pages=backlog + 1)  # not enough pages yet: nothing copied
    assert sqlite_wal_backlog(engine) == backlog

    checkpoint_sqlite(engine, min_pages=backlog)
    assert sqlite_wal_backlog(engine) == 0
    engine.dispose()


def test_the_wal_backlog_is_unknown_without_a_wal_file() -> None:
    assert sqlite_wal_backlog(create_engine_from_url("sqlite://")) is None
    assert sqlite_wal_backlog(create_engine_from_url("postgresql://u@127.0.0.1:1/hub")) is None
