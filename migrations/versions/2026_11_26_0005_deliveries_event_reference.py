"""``deliveries.event_id`` without a foreign key constraint.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 19:10:00

Checking the constraint cost PostgreSQL a lookup and a row lock on ``events`` for every delivery
written, about a fifth of the server time of the hub's busiest statement. The hub writes deliveries
only with events of the same transaction or already stored ones, and ``hub.db.prune_history`` deletes
only events no delivery refers to, so the constraint never fired. The ``event_id`` index stays.
On SQLite, dropping a constraint rebuilds the table (Alembic's batch mode): it copies ``deliveries``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "fk_deliveries__event_id__events"


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(_NAME, type_="foreignkey")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("deliveries") as batch:
        batch.create_foreign_key(_NAME, "events", ["event_id"], ["id"], ondelete="SET NULL")
