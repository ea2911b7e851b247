"""The embedded broker: kombu's ``filesystem`` transport with atomic message files.

kombu's ``filesystem`` channel creates the message file and then writes it; a consumer polling the
folder can move and read the file between those two steps and get an empty payload. This subclass
writes each message to a hidden temporary file and renames it into the queue folder (``os.replace`` is
atomic on POSIX), so a consumer only ever sees complete messages. Registered as ``hubfs://``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps

__all__ = ["SCHEME", "Channel", "Transport", "register"]

#: The URL scheme of the embedded broker.
SCHEME = "hubfs"


class Channel(filesystem.Channel):
    """A filesystem channel whose ``_put`` is atomic (write a temporary file, then rename)."""

    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put ``message`` on ``queue`` as one complete file."""
        name = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        folder = self.data_folder_out
        tmp = os.path.join(folder, f".tmp-{uuid.uuid4()}")
        with open(tmp, "wb") as fh:
            fh.write(str(dumps(message)).encode())  # type: ignore[no-untyped-call]
        os.replace(tmp, os.path.join(folder, name))


class Transport(filesystem.Transport):
    """The embedded transport (see the module docstring)."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "hubfs"


def register() -> None:
    """Make ``hubfs://`` resolvable by kombu (idempotent)."""
    TRANSPORT_ALIASES.setdefault(SCHEME, "hub.runtime._transport:Transport")


register()
