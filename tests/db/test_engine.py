"""Engine construction."""

from __future__ import annotations

from hub.db import create_engine_from_url, normalize_url


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
