"""The hub's exception hierarchy.

::

    HubError
    ├── MalformedAgentDataError   agent data that cannot be parsed or normalised (also a ValueError)
    ├── StateError                an API object whose contact or connection no longer exists
    ├── InvalidArgumentError      a bad argument to an action (also a ValueError)
    └── ActionError               the backend refused or failed an action
        └── UnsupportedActionError  the backend does not implement the operation
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ActionError",
    "HubError",
    "InvalidArgumentError",
    "MalformedAgentDataError",
    "StateError",
    "UnsupportedActionError",
]


class HubError(Exception):
    """Base class of every error the hub raises on purpose."""


class MalformedAgentDataError(HubError, ValueError):
    """Agent data that cannot be parsed or normalised; nothing of it was applied."""


class StateError(HubError):
    """An API object refers to a contact or connection that no longer exists (the library's ``StateError``)."""


class InvalidArgumentError(HubError, ValueError):
    """An action was called with an argument the library would reject before calling the backend."""


class ActionError(HubError):
    """An action failed in the backend.

    :param code: the CTI error type, e.g. ``InvalidStateException``.
    :param message: the backend's message.
    :param status_code: the HTTP status, when there was one.
    :param retry_status: ``none``, ``retrying`` or ``exhausted`` as the library reports it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status_code: int | None = None,
        retry_status: str = "none",
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code
        self.retry_status = retry_status

    def to_streams_error(self) -> str:
        """The JSON string the library hands to ``failure(err)`` callbacks."""
        body: dict[str, Any] = {
            "type": self.code,
            "message": self.message,
            "stack": [],
            "retryStatus": self.retry_status,
        }
        if self.status_code is not None:
            body["statusCode"] = self.status_code
        return json.dumps(body, separators=(",", ":"))


class UnsupportedActionError(ActionError):
    """The action backend has no implementation for the operation."""

    def __init__(self, operation: str, message: str | None = None) -> None:
        super().__init__("UnsupportedOperation", message or f"No such method exists on the backend: {operation}")
        self.operation = operation
