"""How often the interpreter hands the GIL between threads, in the processes that write to the database.

A hub process runs a writer thread (the pipeline's or the ingest sink's) that mostly waits on the
database, next to threads that mostly compute (deriving the next batch, decoding requests, building
broker messages). Each time the writer's statement returns it needs the GIL back, and with CPython's
default switch interval (5 ms) it may wait that long for a computing thread to yield it: one batch
makes 6 to 10 such round trips, so the writer spent a quarter of its time waiting for the GIL while
the database was idle (the "convoy effect"). Half a millisecond keeps those waits short at a cost of
more frequent switches, which the computing threads do not notice (measured in ``bench/pipeline.py``
and ``bench/ingest.py``, see ``docs/architecture.md``).
"""

from __future__ import annotations

import sys

__all__ = ["WRITER_SWITCH_INTERVAL_S", "shorten_switch_interval"]

#: The thread switch interval of hub processes with a database writer thread, in seconds.
WRITER_SWITCH_INTERVAL_S = 0.0005


def shorten_switch_interval() -> float:
    """Lower the interpreter's thread switch interval to :data:`WRITER_SWITCH_INTERVAL_S` (never raise it).

    Process-wide; called by ``connect-hub serve`` and :class:`hub.runtime.LocalRuntime` at start.
    Returns the interval in force before.
    """
    previous = sys.getswitchinterval()
    if previous > WRITER_SWITCH_INTERVAL_S:
        sys.setswitchinterval(WRITER_SWITCH_INTERVAL_S)
    return previous
