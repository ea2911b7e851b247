"""Deterministic identifiers: UUIDs and Voice ID style ids drawn from a seeded generator."""

from __future__ import annotations

import random
import string
import uuid

__all__ = ["IdSource"]

_ALNUM = string.ascii_letters + string.digits


class IdSource:
    """Seeded id generator, independent of the behaviour random stream so ids never shift decisions."""

    def __init__(self, seed: int, stream: str = "ids") -> None:
        """Create a generator for ``seed``; different ``stream`` names give independent sequences."""
        self._rng = random.Random(f"{stream}:{seed}")

    def uuid(self) -> str:
        """A random (version 4) UUID string."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def token(self, length: int) -> str:
        """``length`` random alphanumeric characters."""
        return "".join(self._rng.choice(_ALNUM) for _ in range(length))
