"""Errors the simulated backend raises, carrying the CTI error code Amazon Connect would send."""

from __future__ import annotations

from typing import Any

from hub._constants import CTIExceptions

__all__ = ["CTIError"]


class CTIError(Exception):
    """A failed CTI operation: ``code`` is a ``CTIExceptions`` value such as ``InvalidStateException``."""

    def __init__(self, code: str, message: str, status_code: int = 400) -> None:
        """Create the error; ``status_code`` is the HTTP status the CTI service answers with."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code

    def to_wire(self) -> dict[str, Any]:
        """``{"type", "message", "statusCode"}``: the error as the Streams worker reports it to a page."""
        return {"type": self.code, "message": self.message, "statusCode": self.status_code}

    @classmethod
    def invalid_state(cls, message: str) -> CTIError:
        """``InvalidStateException`` (400)."""
        return cls(CTIExceptions.INVALID_STATE_EXCEPTION.value, message)

    @classmethod
    def bad_endpoint(cls, message: str) -> CTIError:
        """``BadEndpointException`` (400)."""
        return cls(CTIExceptions.BAD_ENDPOINT_EXCEPTION.value, message)

    @classmethod
    def invalid_configuration(cls, message: str) -> CTIError:
        """``InvalidConfigurationException`` (400)."""
        return cls(CTIExceptions.INVALID_CONFIGURATION_EXCEPTION.value, message)

    @classmethod
    def invalid_contact_type(cls, message: str) -> CTIError:
        """``InvalidContactTypeException`` (400)."""
        return cls(CTIExceptions.INVALID_CONTACT_TYPE_EXCEPTION.value, message)

    @classmethod
    def access_denied(cls, message: str) -> CTIError:
        """``AccessDeniedException`` (403)."""
        return cls(CTIExceptions.ACCESS_DENIED_EXCEPTION.value, message, 403)
