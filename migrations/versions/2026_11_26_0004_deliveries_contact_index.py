"""Drop the index on ``deliveries.contact_id``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 18:55:00

Every delivery refers to its event, and a contact's deliveries are listed through the contact's events
(``events (contact_id, id)``, then ``deliveries (event_id)``): this index was one more to update with
every delivery written, on the busiest table, for a lookup the other two serve.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index("ix_deliveries__contact_id", table_name="deliveries")


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index("ix_deliveries__contact_id", "deliveries", ["contact_id"])
