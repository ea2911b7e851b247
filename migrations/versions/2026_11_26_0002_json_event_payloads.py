"""Event payloads and agent data as ``json`` on PostgreSQL (``jsonb`` before).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:20:00

Both are written with every batch and read back whole, never searched by content: ``json`` stores the
text after checking it, where ``jsonb`` parses it into its binary form, which was most of the cost of
writing an event (see ``hub.db._types.JSONLogType``). The ``->>`` operator the queries use works on both.
SQLite stores JSON as text either way: nothing changes there. Converting rewrites both tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("events", "payload"), ("agents", "agent_data"))


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=postgresql.JSON(), postgresql_using=f"{column}::json")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _COLUMNS:
        op.alter_column(table, column, type_=postgresql.JSONB(), postgresql_using=f"{column}::jsonb")
