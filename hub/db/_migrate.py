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
from sqlalchemy.engine import URL
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


def _run(url: str | URL, action: str, revision: str) -> None:
    config = alembic_config(url)
    engine = create_engine_from_url(url, sqlite_foreign_keys=False, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    _run(url, "upgrade", revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop every hub table)."""
    _run(url, "downgrade", revision)


def current_revision(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at (``None``: never migrated)."""
    engine = create_engine_from_url(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with the code (``None``: no migrations)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
