"""Delivery ordering keys with the agent token instead of the agent key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:45:00

From this release the ordering and idempotency keys of the deliveries raised by agent events carry a
16-character token of the agent key (``hub.runtime.agent_token``) instead of the agent key itself
(an ARN of about 100 characters), which keeps the outbox indexes small. Idempotency keys are never
rewritten: a delivery keeps the key its earlier attempts ran with. Ordering keys are rewritten for the
deliveries that are not finished (every status but ``succeeded``, so dead letters retried later too),
so they stay in order with the new deliveries of the same contact or agent. A delivery's ordering key
is agent-based when it is its event's agent key, or starts with it followed by ``|``; contact-record,
contact-event and replay deliveries have other keys and stay as they are. Downgrading restores the
agent keys of the unfinished deliveries the same way.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5_000


def _token(agent_key: str) -> str:
    # Frozen copy of hub.runtime.agent_token as of this revision (migrations do not follow later code).
    return base64.b32encode(hashlib.blake2b(agent_key.encode(), digest_size=10).digest()).decode("ascii").lower()


def _rewrite(convert: Callable[[str, str], str | None]) -> None:
    """Apply ``convert(ordering_key, agent_key)`` to every unfinished delivery tied to an agent's event."""
    bind = op.get_bind()
    select = sa.text(
        "SELECT d.id, d.ordering_key, e.agent_key FROM deliveries d JOIN events e ON e.id = d.event_id"
        " WHERE d.status <> 'succeeded' AND d.ordering_key IS NOT NULL AND e.agent_key IS NOT NULL"
        " AND d.id > :after ORDER BY d.id LIMIT :limit"
    )
    update = sa.text("UPDATE deliveries SET ordering_key = :key WHERE id = :id")
    after = 0
    while True:
        rows = bind.execute(select, {"after": after, "limit": _BATCH}).all()
        if not rows:
            return
        changes = [
            {"id": id_, "key": new}
            for id_, key, agent in rows
            if (new := convert(key, agent)) is not None and new != key
        ]
        if changes:
            bind.execute(update, changes)
        after = rows[-1][0]


def _to_token(key: str, agent: str) -> str | None:
    if key == agent:
        return _token(agent)
    if key.startswith(agent + "|"):
        return _token(agent) + key[len(agent) :]
    return None


def _to_agent_key(key: str, agent: str) -> str | None:
    token = _token(agent)
    if key == token:
        return agent
    if key.startswith(token + "|"):
        return agent + key[len(token) :]
    return None


def upgrade() -> None:
    """Upgrade schema."""
    _rewrite(_to_token)


def downgrade() -> None:
    """Downgrade schema."""
    _rewrite(_to_agent_key)
