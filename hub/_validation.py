"""Request validation against the CTI model, with the AWS SDK's error codes and messages.

The library's AWS SDK validates every request against the bundled model before sending it: a missing
required member, an unknown member or a value of the wrong type fails the call without reaching the
service. The hub validates the same way for every backend, so a plugin sees the same failures it
would see in the agent's browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub._cti_model import OPERATION_INPUTS
from hub._errors import ActionError

__all__ = ["validate_request"]

_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean",
    "long": "a number",
    "integer": "a number",
    "double": "a number",
    "timestamp": "a Date object, ISO-8601 string, or a UNIX timestamp",
}


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in {"long", "integer", "double"}:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "timestamp":
        return isinstance(value, str | int | float | datetime) and not isinstance(value, bool)
    return True


def _walk(shape: Any, value: Any, context: str, errors: list[tuple[str, str]]) -> None:
    if value is None:
        return
    if isinstance(shape, str):
        if not _scalar_ok(shape, value):
            errors.append(("InvalidParameterType", f"Expected {context} to be {_TYPE_NAMES.get(shape, shape)}"))
        return
    if isinstance(shape, list):
        if not isinstance(value, list | tuple):
            errors.append(("InvalidParameterType", f"Expected {context} to be an Array"))
            return
        for i, item in enumerate(value):
            _walk(shape[0], item, f"{context}[{i}]", errors)
        return
    if not isinstance(value, Mapping):
        kind = "a map" if "<key>" in shape else "a structure"
        errors.append(("InvalidParameterType", f"Expected {context} to be {kind}"))
        return
    if "<key>" in shape:
        for key, item in value.items():
            _walk(shape["<key>"], item, f"{context}[{key!r}]", errors)
        return
    members = {name.rstrip("?"): (name.endswith("?"), sub) for name, sub in shape.items()}
    for name, (optional, _sub) in members.items():
        if not optional and value.get(name) is None:
            errors.append(("MissingRequiredParameter", f"Missing required key '{name}' in {context}"))
    for key, item in value.items():
        member = members.get(key)
        if member is None:
            if item is not None:
                errors.append(("UnexpectedParameter", f"Unexpected key '{key}' found in {context}"))
            continue
        _walk(member[1], item, f"{context}.{key}", errors)


def validate_request(operation: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`~hub.ActionError` as the AWS SDK would for params that do not fit ``operation``'s model.

    Operations the bundled model does not describe are not checked.
    """
    shape = OPERATION_INPUTS.get(operation)
    if shape is None:
        return
    errors: list[tuple[str, str]] = []
    # ``authentication`` is the transport's to add (the library's client adds it to the body).
    _walk({k: v for k, v in shape.items() if k != "authentication"}, params, "params", errors)
    if len(errors) == 1:
        raise ActionError(*errors[0])
    if errors:
        lines = "\n* ".join(f"{code}: {message}" for code, message in errors)
        raise ActionError("MultipleValidationErrors", f"There were {len(errors)} validation errors:\n* {lines}")
