"""Connect Hub persistence: SQLAlchemy 2 models, Alembic migrations, batched writes and the outbox.

How the runtime uses it::

    engine = create_engine_from_url(url)          # per process; in forked workers, after the fork
    upgrade(url)                                  # once at start-up (``connect-hub db upgrade``)

    # Ingest: one transaction per input batch (the transactional outbox).
    with session_scope(engine) as session:
        fresh = claim_receipts(session, receipts)     # inputs already seen are dropped
        write_batch(session, agents=..., state_changes=..., contacts=..., events=..., deliveries=...)

    # Relay: publish after the commit; now and then recover lost messages.
    with session_scope(engine) as session:
        due = claim_due_deliveries(session, 500)      # FOR UPDATE SKIP LOCKED on PostgreSQL
        requeue_stale(session, older_than=...)

    # Worker, per delivery (the hook runs outside any transaction):
    with session_scope(engine) as session:
        if not is_next_in_order(session, delivery_id):
            mark_deferred(session, delivery_id)        # an earlier call for this key is unfinished
        attempt = mark_running(session, delivery_id)   # None: finished already (duplicate message)
    ... run the hook ...
    with session_scope(engine) as session:
        mark_succeeded(session, delivery_id)           # or mark_failed(..., next_attempt_at | dead=True)

Core table handles (``AGENTS``, ``DELIVERIES``...) are exported for queries this API does not cover.
Reads: :func:`list_deliveries`, :func:`list_dead_letters` / :func:`retry_dead_letters`,
:func:`list_events` (replay), :func:`load_agents` (rebuild sessions), :func:`get_contact`.
"""

from ._engine import (
    SQLITE_IDLE_CHECKPOINT_PAGES,
    checkpoint_sqlite,
    create_engine_from_url,
    is_memory_sqlite,
    normalize_url,
    session_scope,
    sqlite_wal_backlog,
)
from ._migrate import MIGRATIONS_DIR, alembic_config, current_revision, downgrade, head_revision, upgrade
from ._models import (
    AGENTS,
    CONTACTS,
    DEAD_LETTERS,
    DELIVERIES,
    EVENTS,
    RECEIPTS,
    STATE_HISTORY,
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
    mark_deferred,
    mark_failed,
    mark_queued,
    mark_running,
    mark_succeeded,
    next_in_order,
    requeue_stale,
    retry_dead_letters,
    status_among,
)
from ._policy import NOT_PERSISTED_EVENTS, base_event_name, is_persisted_event
from ._queries import agent_versions, get_contact, list_events, load_agents, prune_history, prune_receipts
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
from ._upserts import (
    PreparedBatch,
    claim_receipts,
    dialect_insert,
    group_deliveries,
    prepare_batch,
    stored_receipts,
    write_batch,
    write_prepared,
)

__all__ = [
    "AGENTS",
    "CONTACTS",
    "DEAD_LETTERS",
    "DELIVERIES",
    "EVENTS",
    "MIGRATIONS_DIR",
    "NOT_PERSISTED_EVENTS",
    "RECEIPTS",
    "SQLITE_IDLE_CHECKPOINT_PAGES",
    "STATE_HISTORY",
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
    "PreparedBatch",
    "Receipt",
    "StateChange",
    "agent_versions",
    "alembic_config",
    "base_event_name",
    "checkpoint_sqlite",
    "claim_due_deliveries",
    "claim_receipts",
    "create_engine_from_url",
    "current_revision",
    "dialect_insert",
    "downgrade",
    "fetch_due_deliveries",
    "get_contact",
    "get_delivery",
    "group_deliveries",
    "head_revision",
    "is_memory_sqlite",
    "is_next_in_order",
    "is_persisted_event",
    "list_dead_letters",
    "list_deliveries",
    "list_events",
    "load_agents",
    "mark_deferred",
    "mark_failed",
    "mark_queued",
    "mark_running",
    "mark_succeeded",
    "next_in_order",
    "normalize_url",
    "prepare_batch",
    "prune_history",
    "prune_receipts",
    "requeue_stale",
    "retry_dead_letters",
    "session_scope",
    "sqlite_wal_backlog",
    "status_among",
    "stored_receipts",
    "upgrade",
    "utcnow",
    "write_batch",
    "write_prepared",
]
