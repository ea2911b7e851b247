"""One input's agent snapshot, stored once per input rather than on every event row.

Both writers (the runtime :class:`~hub.runtime.Pipeline` and the ingest
:class:`~hub.ingest.DatabaseSink`) give every event they persist the agent snapshot it was raised
on, so a worker can rebuild the hook's ``agent``. The events one input raises share one snapshot:
the FIRST event persisted for the input stores it (``"snapshot"``: the wire JSON), and the events
that follow store ``"snapshot_seq"``, the ``seq`` of that first event (same ``agent_key``, same
``occurred_at``). A worker resolves the reference with one lookup on the unique
``(agent_key, seq)`` index (:data:`SNAPSHOT_REF`, joined in :mod:`hub.runtime._executor`); payloads
written before this form (every row with its own ``"snapshot"``) are read as before.

:func:`hub.db.prune_history` keeps an event whose snapshot a kept event refers to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from hub._data import AgentSnapshot

__all__ = ["InputSnapshot", "stored_snapshot"]


class InputSnapshot:
    """The snapshot fields of the event payloads of ONE input (one agent, one ``occurred_at``).

    The wire JSON is encoded on first use only (an input that persists no event encodes nothing).
    """

    __slots__ = ("_first_seq", "_snapshot")

    def __init__(self, snapshot: AgentSnapshot) -> None:
        """Wrap the snapshot the input's events were raised on."""
        self._snapshot = snapshot
        self._first_seq: int | None = None

    def fields(self, seq: int) -> dict[str, Any]:
        """The payload fields of the event persisted with ``seq`` (call in ``seq`` order).

        ``{"snapshot": <wire JSON>}`` for the input's first event, ``{"snapshot_seq": <its seq>}`` after.
        """
        if self._first_seq is None:
            self._first_seq = seq
            return {"snapshot": msgspec.Raw(msgspec.json.encode(self._snapshot))}
        return {"snapshot_seq": self._first_seq}


def stored_snapshot(payload: Mapping[str, Any], referenced: Mapping[str, Any] | None) -> Any | None:
    """The wire snapshot an event's ``payload`` stands for, or ``None`` when it has none.

    ``referenced`` is the payload of the event at ``(agent_key, payload["snapshot_seq"])`` (``None``
    when the payload holds its snapshot inline or there is no such row).

    :raises LookupError: the payload refers to an event that does not hold a snapshot (so the
        delivery fails with that reason rather than calling the hook with the wrong agent state).
    """
    if "snapshot" in payload:
        return payload["snapshot"]
    if "snapshot_seq" not in payload:
        return None
    if referenced is None or "snapshot" not in referenced:
        raise LookupError(f"event snapshot_seq={payload['snapshot_seq']!r}: referenced snapshot not found")
    return referenced["snapshot"]
