"""Connect Hub: the Amazon Connect Streams object model and event stream, on the server.

The public API lives here; the private modules behind it are not part of it.
"""

from hub._actions import (
    AUTHENTICATION_EXEMPT_OPERATIONS,
    ActionBackend,
    BackendRequest,
    Callbacks,
    ScriptedBackend,
    ScriptedResponse,
)
from hub._agent import SUPPORTED_LOCALES, Agent, AgentSnapshot, AgentStateChange
from hub._bus import EventBus, Subscription
from hub._connection import (
    ChatConnection,
    Connection,
    ConnectionSnapshot,
    EmailConnection,
    TaskConnection,
    VoiceConnection,
)
from hub._constants import *  # noqa: F403 - every Streams enumeration is public
from hub._constants import __all__ as _constants_all
from hub._contact import Contact, ContactSnapshot
from hub._data import (
    AgentConfiguration,
    AgentData,
    AgentStateInfo,
    ConnectionData,
    ContactData,
    decode_agent_data,
    decode_configuration,
    decode_snapshot,
    encode_agent_data,
)
from hub._data import AgentSnapshot as AgentSnapshotData
from hub._endpoint import Endpoint
from hub._engine import CONTACT_EVENT_GRAPH, contact_events_for
from hub._errors import (
    ActionError,
    HubError,
    InvalidArgumentError,
    MalformedAgentDataError,
    StateError,
    UnsupportedActionError,
)
from hub._hub import Hub, HubSubscription
from hub._logger import LogEntry, LoggedException, Logger, get_log
from hub._session import AgentSession, normalise_snapshot
from hub.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "AUTHENTICATION_EXEMPT_OPERATIONS",
    "CONTACT_EVENT_GRAPH",
    "SUPPORTED_LOCALES",
    "ActionBackend",
    "ActionError",
    "Agent",
    "AgentConfiguration",
    "AgentData",
    "AgentSession",
    "AgentSnapshot",
    "AgentSnapshotData",
    "AgentStateChange",
    "AgentStateInfo",
    "BackendRequest",
    "Callbacks",
    "ChatConnection",
    "Connection",
    "ConnectionData",
    "ConnectionSnapshot",
    "Contact",
    "ContactData",
    "ContactSnapshot",
    "EmailConnection",
    "Endpoint",
    "EventBus",
    "Hub",
    "HubError",
    "HubSubscription",
    "InvalidArgumentError",
    "LogEntry",
    "LoggedException",
    "Logger",
    "MalformedAgentDataError",
    "ScriptedBackend",
    "ScriptedResponse",
    "StateError",
    "Subscription",
    "TaskConnection",
    "UnsupportedActionError",
    "VoiceConnection",
    "contact_events_for",
    "decode_agent_data",
    "decode_configuration",
    "decode_snapshot",
    "encode_agent_data",
    "get_log",
    "hookimpl",
    "normalise_snapshot",
    *_constants_all,
]
