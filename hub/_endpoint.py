"""``Endpoint``: a phone number, agent or queue that contacts can be connected to."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import msgspec

from hub._constants import EndpointType
from hub._data import EndpointData, QueueRef

__all__ = ["Endpoint"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint (``connect.Endpoint``).

    ``endpoint_id`` is the library's alias of ``endpoint_arn``; requests carry only the ARN.
    """

    type: str | None
    endpoint_arn: str | None = None
    name: str | None = None
    phone_number: str | None = None
    agent_login: str | None = None
    queue: dict[str, Any] | None = None
    display_name: str | None = None
    """Kept for convenience; like the library, requests never carry it."""

    @property
    def endpoint_id(self) -> str | None:
        """``endpointId``: an alias of the endpoint ARN."""
        return self.endpoint_arn

    @classmethod
    def by_phone_number(cls, number: str, name: str | None = None) -> Endpoint:
        """An endpoint for a phone number (``Endpoint.byPhoneNumber``), e.g. for ``agent.connect``."""
        return cls(type=EndpointType.PHONE_NUMBER, phone_number=number, name=name or number)

    @classmethod
    def from_data(cls, data: EndpointData | None) -> Endpoint:
        """Build from a connection's wire endpoint (``new connect.Endpoint(connectionData.endpoint)``)."""
        if data is None:
            return cls(type=None)
        queue = msgspec.to_builtins(data.queue) if isinstance(data.queue, QueueRef) else None
        return cls(
            type=data.type,
            endpoint_arn=data.endpoint_arn,
            name=data.name,
            phone_number=data.phone_number,
            agent_login=data.agent_login,
            queue=queue,
            display_name=data.display_name,
        )

    @classmethod
    def coerce(cls, value: Endpoint | dict[str, Any]) -> Endpoint:
        """Accept an ``Endpoint`` or a Streams-style dict (``endpointARN``/``endpointId``, ``phoneNumber`` ...)."""
        if isinstance(value, Endpoint):
            return value
        if not isinstance(value, dict):
            raise ValueError("an endpoint is an Endpoint or a dict with at least a 'type'")
        return cls(
            type=value.get("type") or None,
            endpoint_arn=value.get("endpointId") or value.get("endpointARN"),
            name=value.get("name"),
            phone_number=value.get("phoneNumber"),
            agent_login=value.get("agentLogin"),
            queue=value.get("queue"),
            display_name=value.get("displayName"),
        )

    def with_name(self, name: str) -> Endpoint:
        """A copy with another display name."""
        return replace(self, name=name)

    def to_request(self) -> dict[str, Any]:
        """The endpoint as the CTI service takes it (``endpointId`` removed, ``null`` members dropped)."""
        fields = {
            "endpointARN": self.endpoint_arn,
            "type": self.type,
            "name": self.name,
            "phoneNumber": self.phone_number,
            "agentLogin": self.agent_login,
            "queue": self.queue,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The endpoint as the library exposes it (with ``endpointId``)."""
        return {
            "endpointARN": self.endpoint_arn,
            "endpointId": self.endpoint_arn,
            "type": self.type,
            "name": self.name,
            "phoneNumber": self.phone_number,
            "agentLogin": self.agent_login,
            "queue": self.queue,
        }
