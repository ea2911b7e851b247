"""Actions: the backend interface agent/contact/connection methods call, and a scripted backend.

Every action becomes one :class:`BackendRequest` carrying the CTI operation and the parameters the
real library sends (``putAgentState {state, enqueueNextState?}``, ``acceptContact {contactId}``, ...).
An :class:`ActionBackend` answers it: the real Amazon Connect APIs, the simulator, or
:class:`ScriptedBackend` (tests and ``connect-hub replay``). Results reach the caller the way the
library's ``success`` / ``failure`` callbacks do, and as the awaited value of the action.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hub._errors import ActionError, UnsupportedActionError

__all__ = [
    "AUTHENTICATION_EXEMPT_OPERATIONS",
    "ActionBackend",
    "BackendRequest",
    "Callbacks",
    "ScriptedBackend",
    "ScriptedResponse",
    "operation_target",
    "with_authentication",
]

AUTHENTICATION_EXEMPT_OPERATIONS = frozenset(
    {
        "completeContact",
        "clearContact",
        "rejectContact",
        "createTaskContact",
        "updateMonitorParticipantState",
        "pauseContact",
        "resumeContact",
        "addNewConnection",
        "transferContact",
    }
)
"""CTI operations whose body carries no ``authentication`` member (every other one does)."""

CTI_TARGET_PREFIX = "AmazonConnectCTIService"


def operation_target(operation: str) -> str:
    """The ``X-Amz-Target`` header of a CTI operation: ``acceptContact`` → ``AmazonConnectCTIService.AcceptContact``."""
    if "." in operation:
        return operation
    return f"{CTI_TARGET_PREFIX}.{operation[:1].upper()}{operation[1:]}"


def with_authentication(operation: str, params: Mapping[str, Any], auth_token: str) -> dict[str, Any]:
    """The request body as the library sends it: ``authentication`` added unless the operation is exempt."""
    body = dict(params)
    if operation not in AUTHENTICATION_EXEMPT_OPERATIONS and "." not in operation:
        body["authentication"] = {"authToken": auth_token}
    return body


@dataclass(frozen=True, slots=True)
class BackendRequest:
    """One call to the backend: the operation name (``acceptContact``) and its parameters."""

    operation: str
    params: dict[str, Any]
    agent_key: str | None = None

    @property
    def target(self) -> str:
        """The ``X-Amz-Target`` of the operation."""
        return operation_target(self.operation)


@runtime_checkable
class ActionBackend(Protocol):
    """Carries out actions: the real Connect APIs, the simulator or a scripted stand-in.

    ``invoke`` returns the operation's response data, or raises :class:`~hub.ActionError` with the
    CTI error type (``InvalidStateException`` ...) when the operation fails.
    """

    def invoke(self, request: BackendRequest) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        """Carry out one operation (sync or async)."""
        ...


@dataclass(slots=True)
class Callbacks:
    """The library's ``{success, failure}`` callback object."""

    success: Callable[..., object] | None = None
    failure: Callable[..., object] | None = None

    @classmethod
    def coerce(cls, value: Callbacks | Mapping[str, Any] | None) -> Callbacks:
        """Accept ``Callbacks``, a ``{"success": f, "failure": g}`` mapping or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Callbacks):
            return value
        return cls(success=value.get("success"), failure=value.get("failure"))


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """What a :class:`ScriptedBackend` answers: data on success, or an error."""

    data: dict[str, Any] = field(default_factory=dict)
    error: ActionError | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> ScriptedResponse:
        """Build from a scenario ``respond``: ``{"data": ...}`` or ``{"error": {code, message, statusCode}}``."""
        if not spec:
            return cls()
        err = spec.get("error")
        if err:
            return cls(
                error=ActionError(
                    str(err.get("code", "Error")),
                    str(err.get("message", "oracle error")),
                    status_code=err.get("statusCode"),
                )
            )
        return cls(data=dict(spec.get("data") or {}))


class ScriptedBackend:
    """An action backend that answers from a script and records every request.

    Responses queued with :meth:`respond_next` are used first (in order); otherwise the per-operation
    default set with :meth:`respond_to`, otherwise success with ``{}``. Operations listed in
    ``unsupported`` fail with :class:`~hub.UnsupportedActionError`.
    """

    def __init__(
        self,
        unsupported: frozenset[str] = frozenset(),
        unsupported_message: str = "No such method exists on the backend: {operation}",
    ) -> None:
        self.requests: list[BackendRequest] = []
        self._unsupported_message = unsupported_message
        self._queue: deque[ScriptedResponse] = deque()
        self._defaults: dict[str, ScriptedResponse] = {}
        self._unsupported = unsupported
        self.listeners: list[Callable[[BackendRequest, ScriptedResponse], None]] = []

    def respond_next(self, response: ScriptedResponse) -> None:
        """Answer the next request with ``response``."""
        self._queue.append(response)

    def respond_to(self, operation: str, response: ScriptedResponse) -> None:
        """Answer every ``operation`` request with ``response`` (unless a queued response comes first)."""
        self._defaults[operation] = response

    def invoke(self, request: BackendRequest) -> dict[str, Any]:
        """Record the request and answer from the script."""
        self.requests.append(request)
        if request.operation in self._unsupported:
            message = self._unsupported_message.format(operation=request.operation)
            response = ScriptedResponse(error=UnsupportedActionError(request.operation, message))
        elif self._queue:
            response = self._queue.popleft()
        else:
            response = self._defaults.get(request.operation, ScriptedResponse())
        for listener in self.listeners:
            listener(request, response)
        if response.error is not None:
            raise response.error
        return dict(response.data)


async def invoke_backend(backend: ActionBackend, request: BackendRequest) -> dict[str, Any]:
    """Call ``backend.invoke`` whether it is synchronous or asynchronous."""
    result = backend.invoke(request)
    if inspect.isawaitable(result):
        return await result
    return result
