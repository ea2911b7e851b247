"""Connect Hub persistence: SQLAlchemy 2 models, Alembic migrations, batched writes and the outbox.

Typical use by the runtime::

    engine = create_engine_from_url(settings.database.url)
    upgrade(settings.database.url)                      # once at start-up
    with session_scope(engine) as session:              # ingest: one transaction per input batch
        fresh = claim_receipts(session, receipts)       # drop inputs already seen
        write_batch(session, agents=..., contacts=..., events=..., deliveries=...)
    with session_scope(engine) as session:              # relay
        due = claim_due_deliveries(session, 500)        # publish `due` after the commit
"""

from ._engine import create_engine_from_url, normalize_url, session_scope
from ._migrate import MIGRATIONS_DIR, alembic_config, current_revision, downgrade, head_revision, upgrade
from ._models import (
    Agent,
    AgentStateHistory,
    Base,
    Contact,
    DeadLetter,
    Delivery,
    Event,
    IngestReceipt,
)
from ._outbox import (
    claim_due_deliveries,
    fetch_due_deliveries,
    get_delivery,
    is_next_in_order,
    list_dead_letters,
    list_deliveries,
    mark_failed,
    mark_queued,
    mark_running,
    mark_succeeded,
    next_in_order,
    requeue_stale,
    retry_dead_letters,
)
from ._policy import NOT_PERSISTED_EVENTS, base_event_name, is_persisted_event
from ._queries import get_contact, list_events, load_agents, prune_receipts
from ._records import (
    AgentRow,
    BatchResult,
    ContactUpsert,
    DeadLetterView,
    DeliveryRecord,
    DeliveryStatus,
    DeliveryView,
    EventRecord,
    Receipt,
    StateChange,
)
from ._types import utcnow
from ._upserts import claim_receipts, dialect_insert, write_batch

__all__ = [
    "MIGRATIONS_DIR",
    "NOT_PERSISTED_EVENTS",
    "Agent",
    "AgentRow",
    "AgentStateHistory",
    "Base",
    "BatchResult",
    "Contact",
    "ContactUpsert",
    "DeadLetter",
    "DeadLetterView",
    "Delivery",
    "DeliveryRecord",
    "DeliveryStatus",
    "DeliveryView",
    "Event",
    "EventRecord",
    "IngestReceipt",
    "Receipt",
    "StateChange",
    "alembic_config",
    "base_event_name",
    "claim_due_deliveries",
    "claim_receipts",
    "create_engine_from_url",
    "current_revision",
    "dialect_insert",
    "downgrade",
    "fetch_due_deliveries",
    "get_contact",
    "get_delivery",
    "head_revision",
    "is_next_in_order",
    "is_persisted_event",
    "list_dead_letters",
    "list_deliveries",
    "list_events",
    "load_agents",
    "mark_failed",
    "mark_queued",
    "mark_running",
    "mark_succeeded",
    "next_in_order",
    "normalize_url",
    "prune_receipts",
    "requeue_stale",
    "retry_dead_letters",
    "session_scope",
    "upgrade",
    "utcnow",
    "write_batch",
]
