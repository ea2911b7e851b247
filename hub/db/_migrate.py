"""Alembic migrations, run programmatically (``connect-hub db upgrade``, the demo's first start).

The migration scripts live in ``migrations/`` at the repository root, next to ``migrations/alembic.ini``;
nothing here depends on the current directory. The whole upgrade runs in one transaction on both
databases (PostgreSQL and SQLite both have transactional DDL), so a failed upgrade leaves the schema as
it was.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from ._engine import create_engine_from_url, normalize_url

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "downgrade", "head_revision", "upgrade"]

#: The Alembic script directory (``migrations/`` at the repository root).
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` for the hub's migrations, optionally bound to ``url``."""
    ini = MIGRATIONS_DIR / "alembic.ini"
    if not ini.is_file():
        raise FileNotFoundError(f"Alembic configuration not found at {ini} (is the hub installed from source?)")
    config = Config(str(ini))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolates "%": escape it (URL-encoded passwords).
        rendered = normalize_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def _run(target: str | URL | Engine, action: str, revision: str) -> None:
    if isinstance(target, Engine):
        config = alembic_config(target.url)
        engine, owned = target, False
    else:
        config = alembic_config(target)
        engine, owned = create_engine_from_url(target, sqlite_foreign_keys=False, poolclass=NullPool), True
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        if owned:
            engine.dispose()


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` up to ``revision`` (default: the newest).

    ``target`` is a URL, or an engine (needed for an in-memory SQLite database on a ``StaticPool``,
    which only exists inside that engine).
    """
    _run(target, "upgrade", revision)


def downgrade(target: str | URL | Engine, revision: str) -> None:
    """Migrate the database at ``target`` down to ``revision`` (``"base"``: drop every hub table)."""
    _run(target, "downgrade", revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database at ``target`` is at (``None``: never migrated)."""
    engine = target if isinstance(target, Engine) else create_engine_from_url(target, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if engine is not target:
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with the code (``None``: no migrations)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
