"""Reads the runtime needs besides the outbox: rebuilding sessions, contacts, event replay, pruning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ._models import Agent, Contact, Event, IngestReceipt

__all__ = ["get_contact", "list_events", "load_agents", "prune_receipts"]


def load_agents(session: Session, keys: Sequence[str] | None = None) -> list[Agent]:
    """Stored agents (all, or those in ``keys``), to rebuild sessions after a restart.

    Each carries its last accepted ``agent_data`` and ``last_seq``, the number to continue from.
    """
    query = sa.select(Agent).order_by(Agent.key)
    if keys is not None:
        query = query.where(Agent.key.in_(keys))
    return list(session.scalars(query))


def get_contact(session: Session, contact_id: str) -> Contact | None:
    """One contact row by id."""
    return session.get(Contact, contact_id)


def list_events(
    session: Session,
    *,
    contact_id: str | None = None,
    agent_key: str | None = None,
    names: Sequence[str] | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[Event]:
    """Stored events in write order (per agent that is ``seq`` order): replay one contact or agent."""
    query = sa.select(Event).order_by(Event.id).limit(limit)
    if contact_id is not None:
        query = query.where(Event.contact_id == contact_id)
    if agent_key is not None:
        query = query.where(Event.agent_key == agent_key)
    if names is not None:
        query = query.where(Event.name.in_(names))
    if after_id is not None:
        query = query.where(Event.id > after_id)
    return list(session.scalars(query))


def prune_receipts(session: Session, older_than: dt.datetime) -> int:
    """Delete dedupe receipts received before ``older_than`` (past every source's retry window)."""
    result = session.execute(sa.delete(IngestReceipt).where(IngestReceipt.received_at < older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]
