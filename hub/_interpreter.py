"""Interpreter settings for the processes that ingest: thread switching and the cyclic collector.

A hub process runs a database writer thread (the ingest sink's or the pipeline's) that mostly waits on
the database, next to threads that mostly compute (decoding requests, deriving the next batch,
building broker messages). Two interpreter defaults hurt it:

* the thread switch interval (5 ms): each time the writer comes back from the driver it waits for the
  GIL, up to the whole interval, while a computing thread runs. A batch makes 6 to 10 such round
  trips, so a quarter of the writer's time went to waiting for the GIL while the database was idle
  (the "convoy effect"). Half a millisecond keeps those waits short;
* full collections of the cyclic garbage collector scan every live object, including the ~130,000
  that exist from start-up on (modules, the web stack, the plugins, the broker's app): 60 to 200 ms
  with every thread stopped, which showed as latency spikes. :func:`gc.freeze` moves them out of the
  collector's reach, so a full collection scans what came after (the sessions, the requests).

Measured in ``bench/pipeline.py`` and ``bench/ingest.py`` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SWITCH_INTERVAL_S", "tuned_for_ingest"]

#: The interpreter's thread switch interval while a hub process ingests (seconds; Python's default is 0.005).
SWITCH_INTERVAL_S = 0.0005


@contextmanager
def tuned_for_ingest() -> Iterator[None]:
    """Shorten the thread switch interval and freeze the objects alive now; both restored on exit.

    Enter it once start-up is done (modules imported, connections made). Process-wide: the ingest
    app's lifespan and :meth:`hub.runtime.LocalRuntime.start` use it.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL_S))
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        sys.setswitchinterval(previous)
