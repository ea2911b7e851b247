"""The Streams library's redaction rules (``redactSensitiveInfo`` of ``src/log.js``, 2.28.2).

:func:`redact_text` applies the text rules (auth tokens, phone numbers, sent digits, e-mail
addresses) to one string; :func:`redact_sensitive_info` redacts a JSON-like structure in place:
:data:`REDACTED_FIELDS` become ``"[redacted]"``, :data:`HASHED_FIELDS` an MD5 digest (the library's
``md5.js``), ``callConfigJson`` credentials are masked and ``attributes`` objects dropped.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

__all__ = [
    "HASHED_FIELDS",
    "OBFUSCATED_PREFIX",
    "REDACTED",
    "REDACTED_FIELDS",
    "REDACT_MAX_DEPTH",
    "redact_sensitive_info",
    "redact_text",
]

REDACTED: Final = "[redacted]"
"""What a redacted value becomes."""
OBFUSCATED_PREFIX: Final = "[obfuscated value]"
"""The prefix of a hashed value: ``"[obfuscated value] <md5 hex>"``."""
REDACT_MAX_DEPTH: Final = 200
"""How deep :func:`redact_sensitive_info` walks nested objects."""


def _ci(text: str) -> str:
    """A case-insensitive pattern with JavaScript's non-unicode ``/i`` semantics (ASCII folding only)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in text)


_REST = r"[^\n\r\u2028\u2029]*"  # JavaScript '.*'
_TEXT_RULES: Final = (
    (re.compile(_ci("AuthToken") + _REST), REDACTED),
    (re.compile(_ci("Phone number") + _REST), "phone number" + REDACTED),
    (re.compile(_ci("Send digit") + _REST), "send digit " + REDACTED),
    (re.compile(_ci("ConnectionAuthenticationToken") + _REST), REDACTED),
    (re.compile(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}"), "email address " + REDACTED),
)
_CREDENTIAL = re.compile(r'("credential":")([^"]*)"')
REDACTED_FIELDS: Final = frozenset(
    {
        "quickconnectname",
        "token",
        "login",
        "credential",
        "internalip",
        "authtoken",
        "phonenumber",
        "firstname",
        "lastname",
        "emailaddress",
        "address",
        "displayname",
        "agentname",
        "description",
        "name",
        "value",
        "summary",
        "queue.name",
    }
)
HASHED_FIELDS: Final = frozenset({"customerid", "speakerid", "customerspeakerid", "presignedurl"})


def _md5_hex(s: str) -> str:
    return hashlib.md5(s.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def redact_text(text: str) -> str:
    """The ``url``/``text`` rules of ``redactSensitiveInfo`` applied to one string."""
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)  # replacements hold no backslashes or group refs
    return text


def redact_sensitive_info(data: object, _depth: int = 0) -> None:
    """``redactSensitiveInfo``: redact a JSON-like structure (dicts and lists) **in place**.

    String values: ``url``/``text`` get the text rules; keys in :data:`REDACTED_FIELDS`
    (case-insensitive) become ``"[redacted]"``; ``callConfigJson`` gets its first ``credential``
    masked; keys in :data:`HASHED_FIELDS` become ``"[obfuscated value] <md5>"``. Object values
    (``null`` and arrays included): ``attributes`` becomes ``"[redacted]"``, ``state`` is kept as is,
    others are walked, down to a depth of 200. Keys ``attributes``/``state``/``url``/``text`` are
    case-sensitive, as in the library; other values (numbers, booleans) are never touched.
    """
    if _depth >= REDACT_MAX_DEPTH:
        return
    if isinstance(data, dict):
        items: list[tuple[Any, object]] = list(data.items())
    elif isinstance(data, list):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return
    for key, value in items:
        new: object = value
        if value is None or isinstance(value, dict | list):
            if key == "attributes":
                new = REDACTED
            elif key != "state":
                redact_sensitive_info(value, _depth + 1)
        elif isinstance(value, str):
            lowered = key.lower()
            if key in ("url", "text"):
                new = redact_text(value)
            elif lowered in REDACTED_FIELDS:
                new = REDACTED
            elif lowered == "callconfigjson":
                new = _CREDENTIAL.sub(lambda m: m.group(1) + REDACTED + '"', value, count=1)
            elif lowered in HASHED_FIELDS:
                new = f"{OBFUSCATED_PREFIX} {_md5_hex(value)}"
        if new is not value:
            data[int(key) if isinstance(data, list) else key] = new
