"""Shared helper of the runtime test plugins: append one JSON line per hook call (flock'ed)."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any


def record(ctx: Any, hook: str, **extra: Any) -> None:
    """Append ``{plugin, hook, key, attempt, pid, t, ...}`` to the plugin's ``path`` setting."""
    path = Path(str(ctx.settings["path"]))
    line = {
        "plugin": ctx.plugin,
        "hook": hook,
        "key": ctx.idempotency_key,
        "attempt": ctx.attempt,
        "event": ctx.event,
        "pid": os.getpid(),
        "t": time.time(),
        **extra,
    }
    with path.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps(line) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """The recorded lines."""
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
