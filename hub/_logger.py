"""The Streams logger, ``connect.getLog()`` of amazon-connect-streams 2.28.2, for a server-side hub.

Mirrors ``src/log.js`` (and the ``sprintf.js`` / ``md5.js`` it relies on) with Pythonic names:

* writers ``test/trace/debug/info/log/warn/error/critical(fmt, *args)``; an optional first argument
  that is a :class:`LogComponent` value sets the component (default ``ccp``); the text is formatted by
  :func:`vsprintf` exactly as ``connect.vsprintf``; ``critical()`` writes level ``ERROR``;
* **every** entry is stored; one at or above the log level gets a ``line`` number and is echoed, via
  the Python logger ``connect_hub.streams``, if it is also at or above the echo level;
* redaction (``redactSensitiveInfo``) of the entry text and of ``with_object`` copies;
* log roll every ``roll_interval`` seconds, driven by an injectable clock instead of a timer;
* :meth:`Logger.download` returns ``JSON.stringify(logs, undefined, 4)`` byte for byte;
* every stored entry is handed to an optional ``publish`` callback (the hub publishes it on its bus
  as the ``log`` EventType). A failing callback is logged and ignored; entries written while a
  callback runs on the same thread are stored and echoed but not published again (no recursion).
  The entry is published when written, before any chained ``with_*`` call (as the library
  broadcasts it); subscribers that serialise later see the chained data too.

A format error (``%d`` with a non-number, a lone ``%``, ...) behaves as in the library, whose logger
methods are wrapped in try/catch: nothing is stored, the error is echoed at ERROR. The writer then
returns a *detached* entry (``entry.stored`` is false) so that chaining stays safe.

Not mirrored (browser only): the CRM/global-resiliency ``crm-`` prefix and CCP log fan-out, the
upstream/downstream conduit pushes, ``clearObjects``/``clearExceptions``, ``LogEntry.fromObject``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import re
import threading
import time as _time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from hub._constants import LogComponent, LogLevel

__all__ = [
    "CONSOLE_METHOD",
    "DEFAULT_LOG_ROLL_INTERVAL",
    "HASHED_FIELDS",
    "LEVEL_ORDER",
    "REDACTED_FIELDS",
    "LogComponent",
    "LogContextLayer",
    "LogEntry",
    "LogLevel",
    "LoggedException",
    "Logger",
    "SprintfError",
    "get_log",
    "js_deepcopy",
    "js_number_to_string",
    "js_string",
    "js_stringify",
    "redact_sensitive_info",
    "redact_text",
    "vsprintf",
]

_py_log = logging.getLogger("connect_hub.streams")

DEFAULT_LOG_ROLL_INTERVAL: Final = 1800.0
"""Seconds between log rolls (the library's ``DEFAULT_LOG_ROLL_INTERVAL`` of 1 800 000 ms)."""

LEVEL_ORDER: Final[Mapping[str, int]] = {
    "TEST": 0,
    "TRACE": 10,
    "DEBUG": 20,
    "INFO": 30,
    "LOG": 40,
    "WARN": 50,
    "ERROR": 100,
    "CRITICAL": 200,
}
"""The library's internal ``LogLevelOrder`` (not exported by the library)."""


class LogContextLayer(StrEnum):
    """``LogContextLayer`` of ``log.js`` (internal): where an entry was written."""

    CCP = "CCP"
    SHARED_WORKER = "SharedWorker"
    CRM = "CRM"


CONSOLE_METHOD: Final[Mapping[str, str]] = {
    "TRACE": "info",
    "DEBUG": "info",
    "INFO": "info",
    "LOG": "log",
    "TEST": "log",
    "WARN": "warn",
    "ERROR": "error",
    "CRITICAL": "error",
}
"""``CONSOLE_LOGGER_MAP``: the ``console`` method the library echoes each level with."""

_PY_LEVEL: Final[Mapping[str, int]] = {
    "info": logging.INFO,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}

REDACTED: Final = "[redacted]"
OBFUSCATED_PREFIX: Final = "[obfuscated value]"
REDACT_MAX_DEPTH: Final = 200
COPYABLE_EVENT_FIELDS: Final = (
    "bubbles",
    "cancelBubble",
    "cancelable",
    "composed",
    "data",
    "defaultPrevented",
    "eventPhase",
    "isTrusted",
    "lastEventId",
    "origin",
    "returnValue",
    "timeStamp",
    "type",
)


# ---------------------------------------------------------------------------------------------
# JavaScript value semantics needed by sprintf.js and JSON.stringify
# ---------------------------------------------------------------------------------------------


class _Undefined:
    """JavaScript ``undefined`` (a missing sprintf argument)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Final = _Undefined()


def js_number_to_string(x: float) -> str:
    """``Number.prototype.toString()`` of a double (shortest round-trip digits, JS exponent rules)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    sign = "-" if x < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    n = int(exponent) + len(digits)  # decimal point position (ECMA-262 Number::toString)
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def _js_type(value: object) -> str:
    """``Object.prototype.toString.call(v).slice(8, -1).toLowerCase()`` for Python values."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def js_string(value: object) -> str:
    """``String(value)`` with Python values mapped to their JavaScript counterparts."""
    if isinstance(value, str):
        return str(value)
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number_to_string(value)
    if isinstance(value, list | tuple):
        return ",".join("" if v is None or v is UNDEFINED else js_string(v) for v in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, BaseException):
        msg = str(value)
        return f"{type(value).__name__}: {msg}" if msg else type(value).__name__
    return str(value)


def _to_number(value: object) -> float:
    """``Number(value)`` for the values sprintf accepts as numbers."""
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # a Python int beyond the double range is +-Infinity in JavaScript
            return math.inf if value > 0 else -math.inf
    try:
        return float(str(value))
    except ValueError:
        return float("nan")


# ---------------------------------------------------------------------------------------------
# sprintf.js (the copy bundled with Streams 2.28.2)
# ---------------------------------------------------------------------------------------------


class SprintfError(ValueError):
    """A format error raised by :func:`vsprintf` (the library throws a string such as
    ``"[sprintf] expecting number but found string"``)."""


_TEXT = re.compile(r"[^%]+")
_PLACEHOLDER = re.compile(r"%(?:([1-9][0-9]*)\$|\(([^)]+)\))?(\+)?(0|'[^$])?(-)?([0-9]+)?(?:\.([0-9]+))?([b-fosuxX])")
_FIELD_FIRST = re.compile(r"([a-z_][a-z_0-9]*)", re.ASCII | re.IGNORECASE)
_FIELD_NEXT = re.compile(r"\.([a-z_][a-z_0-9]*)|\[([0-9]+)\]", re.ASCII | re.IGNORECASE)
_MIXING = "[sprintf] mixing positional and named placeholders is not (yet) supported"
_Node = str | tuple[Any, ...]
_parse_cache: dict[str, list[_Node]] = {}


def _parse(fmt: str) -> list[_Node]:
    """``sprintf.parse``: split a format into literal text and placeholder tuples."""
    cached = _parse_cache.get(fmt)
    if cached is not None:
        return cached
    tree: list[_Node] = []
    arg_names = 0
    pos = 0
    while pos < len(fmt):
        if m := _TEXT.match(fmt, pos):
            tree.append(m.group())
        elif fmt.startswith("%%", pos):
            tree.append("%")
            m = None
        elif m := _PLACEHOLDER.match(fmt, pos):
            groups: list[Any] = list(m.groups())
            if groups[1]:
                arg_names |= 1
                field = groups[1]
                first = _FIELD_FIRST.match(field)
                if first is None:
                    raise SprintfError("[sprintf] huh?")
                fields = [first.group(1)]
                rest = field[first.end() :]
                while rest:
                    nxt = _FIELD_NEXT.match(rest)
                    if nxt is None:
                        raise SprintfError("[sprintf] huh?")
                    fields.append(nxt.group(1) or nxt.group(2))
                    rest = rest[nxt.end() :]
                groups[1] = fields
            else:
                arg_names |= 2
            if arg_names == 3:
                raise SprintfError("[sprintf] mixing positional and named placeholders is not (yet) supported")
            tree.append(tuple(groups))
        else:
            raise SprintfError("[sprintf] huh?")
        pos = m.end() if m is not None else pos + 2
    if len(_parse_cache) < 1024:
        _parse_cache[fmt] = tree
    return tree


def _has_own(arg: object, key: str) -> tuple[bool, object]:
    if isinstance(arg, Mapping):
        return (key in arg, arg.get(key))
    if isinstance(arg, list | tuple | str) and key.isdigit() and int(key) < len(arg):
        return (True, arg[int(key)])
    if arg is None or arg is UNDEFINED:
        raise SprintfError(f"TypeError: Cannot read properties of {js_string(arg)} (reading 'hasOwnProperty')")
    return (False, None)


def _to_fixed(x: float, digits: int) -> str:
    """``Number.prototype.toFixed`` (ties away from zero on the exact binary value)."""
    if not math.isfinite(x) or abs(x) >= 1e21:
        return js_number_to_string(x)
    d = Decimal(0.0 if x == 0 else x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{d:f}"


def _to_exponential(x: float, digits: str | None) -> str:
    """``Number.prototype.toExponential`` (with or without a fraction-digit count)."""
    if not math.isfinite(x):
        return js_number_to_string(x)
    if digits is None:
        mantissa, _, exp = f"{Decimal(repr(abs(x))).normalize():e}".partition("e")
    else:
        with localcontext() as ctx:
            ctx.rounding = ROUND_HALF_UP
            mantissa, _, exp = format(Decimal(abs(x)), f".{int(digits)}e").partition("e")
    return ("-" if x < 0 else "") + mantissa + "e" + ("-" if exp.startswith("-") else "+") + str(abs(int(exp)))


def _radix(value: float, radix: int) -> str:
    """``Number.prototype.toString(radix)``: a port of V8's ``DoubleToRadixCString``."""
    if not math.isfinite(value):
        return js_number_to_string(value)
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    negative = value < 0
    value = -value if negative else value
    integer = math.floor(value)
    fraction = value - integer
    delta = max(math.nextafter(0.0, 1.0), 0.5 * (math.nextafter(value, math.inf) - value))
    frac_digits: list[int] = []
    if fraction >= delta:
        while True:
            fraction *= radix
            delta *= radix
            digit = int(fraction)
            frac_digits.append(digit)
            fraction -= digit
            if (fraction > 0.5 or (fraction == 0.5 and digit & 1)) and fraction + delta > 1:
                while True:  # round up, carrying into the written digits
                    if not frac_digits:
                        integer += 1
                        break
                    last = frac_digits.pop()
                    if last + 1 < radix:
                        frac_digits.append(last + 1)
                        break
                break
            if fraction < delta:
                break
    int_digits: list[str] = []
    whole = float(integer)
    while math.frexp(whole / radix)[1] > 53:  # digits below the double's precision print as 0
        whole /= radix
        int_digits.append("0")
    while True:
        remainder = math.fmod(whole, radix)
        int_digits.append(chars[int(remainder)])
        whole = (whole - remainder) / radix
        if whole <= 0:
            break
    out = "".join(reversed(int_digits))
    if frac_digits:
        out += "." + "".join(chars[d] for d in frac_digits)
    return ("-" if negative else "") + out


def _utf16_len(s: str) -> int:
    """``s.length`` in JavaScript (UTF-16 code units)."""
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def _utf16_prefix(s: str, n: int) -> str:
    """``s.substring(0, n)`` in JavaScript (may split a surrogate pair, as JavaScript does)."""
    if _utf16_len(s) == len(s):
        return s[:n]
    return s.encode("utf-16-le", "surrogatepass")[: 2 * n].decode("utf-16-le", "surrogatepass")


def _parse_int(value: object) -> float:
    """``parseInt(value, 10)``."""
    m = re.match(r"\s*([+-]?[0-9]+)", js_string(value))
    return float(int(m.group(1))) if m else float("nan")


def vsprintf(fmt: str | None, args: Sequence[object]) -> str:
    """``connect.vsprintf(fmt, args)``: sprintf.js formatting with JavaScript value semantics.

    Extra arguments are ignored, a missing one prints ``undefined`` for ``%s`` and raises for the
    numeric conversions. Raises :class:`SprintfError` wherever the library throws.
    """
    if not fmt:
        return ""
    if not isinstance(fmt, str):
        raise SprintfError("TypeError: _fmt.substring is not a function")
    out: list[str] = []
    cursor = 0
    for node in _parse(fmt):
        if isinstance(node, str):
            out.append(node)
            continue
        explicit, names, plus, pad_spec, left, width, precision, conv = node
        if names:
            arg: object = args[cursor] if cursor < len(args) else UNDEFINED
            for name in names:
                found, arg = _has_own(arg, name)
                if not found:
                    raise SprintfError(f'[sprintf] property "{name}" does not exist')
        elif explicit:
            idx = int(explicit) - 1
            arg = args[idx] if idx < len(args) else UNDEFINED
        else:
            arg = args[cursor] if cursor < len(args) else UNDEFINED
            cursor += 1
        if conv != "s" and _js_type(arg) != "number":
            raise SprintfError(f"[sprintf] expecting number but found {_js_type(arg)}")
        text = _convert(conv, arg, precision)
        if conv in "def" and plus and _to_number(text) >= 0:
            text = "+" + text
        pad_char = (" " if not pad_spec else "0" if pad_spec == "0" else pad_spec[1]) if width else ""
        pad = pad_char * (int(width) - _utf16_len(text)) if width else ""
        out.append(text + pad if left else pad + text)
    return "".join(out)


def _convert(conv: str, arg: object, precision: str | None) -> str:
    if conv == "s":
        s = js_string(arg)
        return _utf16_prefix(s, int(precision)) if precision and s else s
    x = _to_number(arg)
    if conv == "d":
        return js_number_to_string(_parse_int(x))
    if conv == "f":
        return _to_fixed(x, int(precision)) if precision else js_number_to_string(x)
    if conv == "e":
        return _to_exponential(x, precision)
    if conv == "c":
        return chr(0 if not math.isfinite(x) else int(x) & 0xFFFF)
    if conv == "u":
        return str(0 if not math.isfinite(x) else int(x) % 2**32)
    base = {"b": 2, "o": 8, "x": 16, "X": 16}[conv]
    out = _radix(x, base)
    return out.upper() if conv == "X" else out


# ---------------------------------------------------------------------------------------------
# JSON.parse(JSON.stringify(x)) and JSON.stringify(x, undefined, 4)
# ---------------------------------------------------------------------------------------------

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) < 2**32 - 1


def _js_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool | int | float) or key is None:
        return js_string(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


_SKIP = object()


def _to_json_value(value: object, stack: list[int]) -> object:
    """One value of ``JSON.parse(JSON.stringify(value))``; ``_SKIP`` for ``undefined``-like values."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is UNDEFINED or (callable(value) and not isinstance(value, type)):
        return _SKIP
    if isinstance(value, datetime):  # Date.prototype.toJSON
        return _iso_ms(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        value = value.to_dict()
    elif hasattr(value, "__struct_fields__"):  # msgspec.Struct
        value = {f: getattr(value, f) for f in value.__struct_fields__}
    elif hasattr(value, "__dataclass_fields__"):
        value = {f: getattr(value, f) for f in value.__dataclass_fields__}
    if id(value) in stack:
        raise TypeError("Converting circular structure to JSON")
    if isinstance(value, Mapping):
        stack.append(id(value))
        items = [(_js_key(k), _to_json_value(v, stack)) for k, v in value.items()]
        stack.pop()
        index_keys = sorted((k for k, _ in items if _is_array_index(k)), key=int)
        out: dict[str, object] = dict.fromkeys(index_keys)
        for k, v in items:
            if v is _SKIP:
                out.pop(k, None)
            else:
                out[k] = v
        return out
    if isinstance(value, list | tuple | set | frozenset):
        stack.append(id(value))
        arr = [_to_json_value(v, stack) for v in value]
        stack.pop()
        return [None if v is _SKIP else v for v in arr]
    return str(value)


def js_deepcopy(value: object) -> object:
    """``connect.deepcopy`` (``JSON.parse(JSON.stringify(value))``) for Python values.

    Mappings become dicts with JavaScript key order (array-index keys first, ascending), sequences and
    sets lists; ``datetime`` becomes its ISO string, NaN/Infinity ``None``; dataclasses, msgspec
    structs and objects with ``to_dict()`` their fields; other objects ``str(obj)``. A cycle raises
    ``TypeError`` as in JavaScript.
    """
    out = _to_json_value(value, [])
    return None if out is _SKIP else out


def js_stringify(value: object, indent: int = 4) -> str:
    """``JSON.stringify(value, undefined, indent)`` for JSON-compatible Python values (0: compact)."""
    parts: list[str] = []
    _stringify_into(value, parts, " " * min(indent, 10), "\n" if indent > 0 else "")
    return "".join(parts)


def _stringify_into(value: object, parts: list[str], step: str, nl: str) -> None:
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_quote(value))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, float):
        parts.append(js_number_to_string(value) if math.isfinite(value) else "null")
    elif isinstance(value, Mapping):
        if not value:
            parts.append("{}")
            return
        inner = nl + step
        parts.append("{")
        for i, (k, v) in enumerate(value.items()):
            parts.append(("," if i else "") + inner + _quote(str(k)) + (": " if step else ":"))
            _stringify_into(v, parts, step, inner)
        parts.append(nl + "}")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = nl + step
        parts.append("[")
        for i, v in enumerate(value):
            parts.append(("," if i else "") + inner)
            _stringify_into(v, parts, step, inner)
        parts.append(nl + "]")
    else:
        _stringify_into(js_deepcopy(value), parts, step, nl)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')


def _quote(s: str) -> str:
    """JSON string quoting as ``JSON.stringify`` (well-formed: lone surrogates escaped)."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), s) + '"'


def _iso_ms(dt: datetime) -> str:
    """``Date.prototype.toISOString``: UTC, millisecond precision, ``Z``."""
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------
# redactSensitiveInfo
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# LoggedException, LogEntry
# ---------------------------------------------------------------------------------------------


class LoggedException:
    """``LoggedException``: the ``{type, message, stack}`` of an exception, for JSON.

    For a Python exception: ``type`` is the class name, ``message`` ``str(e)``, ``stack`` the
    ``"Type: message"`` line followed by the traceback lines (like a JavaScript ``Error.stack`` split
    on newlines). For a mapping (an error object received as JSON): ``type`` is its ``code`` or
    ``"[object Object]"``, ``message`` its ``message`` (omitted when absent), ``stack`` its ``stack``
    (a list as is, a string split on newlines, an object as one JSON line).
    """

    __slots__ = ("message", "stack", "type")

    def __init__(self, e: BaseException | Mapping[str, Any] | str) -> None:
        self.message: object = UNDEFINED
        self.stack: list[object] = []
        if isinstance(e, BaseException):
            self.type: object = type(e).__name__
            self.message = str(e)
            lines = traceback.format_exception_only(type(e), e)
            if e.__traceback__ is not None:
                lines += traceback.format_tb(e.__traceback__)
            self.stack = list("".join(lines).rstrip("\n").split("\n"))
        elif isinstance(e, Mapping):
            self.type = e.get("code") or "[object Object]"
            self.message = e.get("message", UNDEFINED)
            stack = e.get("stack")
            if isinstance(stack, list):
                self.stack = list(stack)
            elif isinstance(stack, Mapping):
                self.stack = [js_stringify(js_deepcopy(stack), 0)]
            elif isinstance(stack, str) and stack:
                self.stack = list(stack.split("\n"))
        else:
            self.type = "[object String]" if isinstance(e, str) else "[object Object]"

    def to_dict(self) -> dict[str, object]:
        """The JSON object, key order ``type, message, stack`` (``message`` omitted when undefined)."""
        out: dict[str, object] = {"type": self.type}
        if self.message is not UNDEFINED:
            out["message"] = self.message
        out["stack"] = list(self.stack)
        return out


class LogEntry:
    """One log entry (``connect.LogEntry``), as returned by every :class:`Logger` writer.

    ``with_*`` methods mutate the entry and return it, for chaining. :meth:`to_dict` gives the
    library's JSON object; ``str(entry)`` the console line ``[<ISO time>] [<LEVEL>] [<agent>]: <text>``.
    """

    __slots__ = (
        "_logger",
        "agent_resource_id",
        "component",
        "context_layer",
        "exception",
        "level",
        "line",
        "logger_id",
        "objects",
        "stored",
        "tab_id",
        "text",
        "time",
    )

    def __init__(
        self,
        component: str,
        level: str,
        text: str,
        logger_id: str,
        *,
        time: datetime,
        agent_resource_id: str | None = None,
        tab_id: str | None = None,
        context_layer: LogContextLayer | None = None,
        logger: Logger | None = None,
    ) -> None:
        self.component = component
        self.level = level
        self.text = text
        self.time = time
        self.tab_id = tab_id
        self.exception: LoggedException | None = None
        self.objects: list[object] = []
        self.line = 0
        self.agent_resource_id = agent_resource_id
        self.logger_id = logger_id
        self.context_layer = context_layer
        self.stored = False
        """Whether the entry is in its logger's storage (false for a format error's detached entry)."""
        self._logger = logger

    def with_object(self, obj: object) -> LogEntry:
        """Append a deep, redacted copy of ``obj`` (``withObject``); a cycle raises ``TypeError``."""
        copied = js_deepcopy(obj)
        redact_sensitive_info(copied)
        self.objects.append(copied)
        return self

    def with_cross_origin_event_object(self, event: object) -> LogEntry:
        """Append the copyable fields of a (cross-origin) message event, deep-copied and redacted."""
        picked: dict[str, object] = {}
        for key in COPYABLE_EVENT_FIELDS:
            if isinstance(event, Mapping):
                if key in event:
                    picked[key] = event[key]
            elif hasattr(event, key):
                picked[key] = getattr(event, key)
        return self.with_object(picked)

    def with_exception(self, e: BaseException | Mapping[str, Any] | str) -> LogEntry:
        """Attach an exception as ``{type, message, stack: [lines]}`` (replaces any previous one)."""
        self.exception = LoggedException(e)
        return self

    def send_internal_log_to_server(self) -> LogEntry:
        """Queue this entry as a server-bound internal log on its logger (see
        :meth:`Logger.drain_server_bound_logs`)."""
        if self._logger is not None:
            self._logger._queue_server_bound(self)
        return self

    @property
    def iso_time(self) -> str:
        """The time as ``Date.toISOString()`` prints it."""
        return _iso_ms(self.time)

    def to_dict(self) -> dict[str, object]:
        """The library's JSON object: ``component, level, text, time, [tabId], exception, objects,
        line, agentResourceId, loggerId, [contextLayer]``."""
        out: dict[str, object] = {
            "component": self.component,
            "level": self.level,
            "text": self.text,
            "time": self.iso_time,
        }
        if self.tab_id is not None:
            out["tabId"] = self.tab_id
        out["exception"] = None if self.exception is None else self.exception.to_dict()
        out["objects"] = list(self.objects)
        out["line"] = self.line
        out["agentResourceId"] = self.agent_resource_id
        out["loggerId"] = self.logger_id
        if self.context_layer is not None:
            out["contextLayer"] = str(self.context_layer)
        return out

    def to_json(self, indent: int = 4) -> str:
        """``JSON.stringify(entry, undefined, indent)``."""
        return js_stringify(self.to_dict(), indent)

    def __str__(self) -> str:
        agent = "null" if self.agent_resource_id is None else self.agent_resource_id
        return f"[{self.iso_time}] [{self.level}] [{agent}]: {self.text}"

    def __repr__(self) -> str:
        return f"<LogEntry {self.level} line={self.line} {self.text!r}>"


# ---------------------------------------------------------------------------------------------
# Logger
# ---------------------------------------------------------------------------------------------

_ROLL_TEXT = "Log roll interval occurred."
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_COMPONENTS: Final = frozenset(str(c) for c in LogComponent)


class _TextSink(Protocol):
    def write(self, s: str, /) -> object: ...


def _new_logger_id(now: float) -> str:
    """``new Date().getTime() + "-" + Math.random().toString(36).slice(2)``."""
    return f"{int(now * 1000)}-" + "".join(random.choice(_BASE36) for _ in range(11))


def _level_name(level: object) -> str:
    if isinstance(level, str) and level in LEVEL_ORDER:
        return str(level)
    raise ValueError(f"Unknown logging level: {js_string(level)}")


class Logger:
    """``connect.Logger``: stores every entry, numbers and echoes those at or above the log level.

    :param publish: called with every stored entry (the hub publishes it as the ``log`` event).
    :param clock: seconds since the epoch (default ``time.time``); drives entry times and log rolls.
    :param roll_interval: seconds between log rolls (library default 1800).
    :param context_layer: ``contextLayer`` of every entry (omitted from JSON when ``None``).
    :param tab_id: ``tabId`` of every entry (omitted from JSON when ``None``).
    """

    def __init__(
        self,
        *,
        publish: Callable[[LogEntry], object] | None = None,
        clock: Callable[[], float] = _time.time,
        roll_interval: float = DEFAULT_LOG_ROLL_INTERVAL,
        context_layer: LogContextLayer | None = None,
        tab_id: str | None = None,
    ) -> None:
        self.publish = publish
        """The bus publishing callback (may be replaced at any time)."""
        self.agent_resource_id: str | None = None
        """The agent's resource id, stamped on new entries (``None`` until the agent is initialized)."""
        self.context_layer = context_layer
        self.tab_id = tab_id
        self._clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._logs: list[LogEntry] = []
        self._rolled_logs: list[LogEntry] = []
        self._server_bound: list[LogEntry] = []
        self._log_level = LEVEL_ORDER["INFO"]
        self._echo_level = LEVEL_ORDER["INFO"]
        self._line_count = 0
        now = clock()
        self._logger_id = _new_logger_id(now)
        self._roll_interval = float(roll_interval)
        self._next_roll = now + self._roll_interval

    # -- configuration -----------------------------------------------------------------------

    @property
    def logger_id(self) -> str:
        """``"<epoch ms>-<random base36>"``, stamped on every entry (``getLoggerId()``)."""
        return self._logger_id

    @property
    def log_level(self) -> LogLevel:
        """The minimum level that gets a line number (and may be echoed)."""
        return next(LogLevel(k) for k, v in LEVEL_ORDER.items() if v == self._log_level)

    @property
    def echo_level(self) -> LogLevel:
        """The minimum level echoed to Python logging (entries must also pass the log level)."""
        return next(LogLevel(k) for k, v in LEVEL_ORDER.items() if v == self._echo_level)

    @property
    def roll_interval(self) -> float:
        """Seconds between log rolls."""
        return self._roll_interval

    def set_log_level(self, level: LogLevel | str) -> None:
        """``setLogLevel``; raises ``ValueError("Unknown logging level: X")`` for an unknown name."""
        self._log_level = LEVEL_ORDER[_level_name(level)]

    def set_echo_level(self, level: LogLevel | str) -> None:
        """``setEchoLevel``; raises ``ValueError("Unknown logging level: X")`` for an unknown name."""
        self._echo_level = LEVEL_ORDER[_level_name(level)]

    def set_log_roll_interval(self, seconds: float) -> None:
        """``setLogRollInterval``: restart the roll period, or warn if it is already ``seconds``."""
        if float(seconds) == self._roll_interval:
            self.warn("Logger is already set to the given interval: %d", int(self._roll_interval * 1000))
            return
        with self._lock:
            self._roll_interval = float(seconds)
            self._next_roll = self._clock() + self._roll_interval

    # -- writers -----------------------------------------------------------------------------

    def test(self, fmt: object = None, *args: object) -> LogEntry:
        """Write a ``TEST`` entry; ``fmt`` may be a :class:`LogComponent`, then the format follows."""
        return self._write("TEST", fmt, args)

    def trace(self, fmt: object = None, *args: object) -> LogEntry:
        """Write a ``TRACE`` entry (see :meth:`test` for the arguments)."""
        return self._write("TRACE", fmt, args)

    def debug(self, fmt: object = None, *args: object) -> LogEntry:
        """Write a ``DEBUG`` entry (see :meth:`test` for the arguments)."""
        return self._write("DEBUG", fmt, args)

    def info(self, fmt: object = None, *args: object) -> LogEntry:
        """Write an ``INFO`` entry (see :meth:`test` for the arguments)."""
        return self._write("INFO", fmt, args)

    def log(self, fmt: object = None, *args: object) -> LogEntry:
        """Write a ``LOG`` entry (see :meth:`test` for the arguments)."""
        return self._write("LOG", fmt, args)

    def warn(self, fmt: object = None, *args: object) -> LogEntry:
        """Write a ``WARN`` entry (see :meth:`test` for the arguments)."""
        return self._write("WARN", fmt, args)

    def error(self, fmt: object = None, *args: object) -> LogEntry:
        """Write an ``ERROR`` entry (see :meth:`test` for the arguments)."""
        return self._write("ERROR", fmt, args)

    def critical(self, fmt: object = None, *args: object) -> LogEntry:
        """Write an entry of level **``ERROR``**, as the library's ``critical()`` does."""
        return self._write("ERROR", fmt, args)

    def _write(self, level: str, first: object, args: tuple[object, ...]) -> LogEntry:
        if isinstance(first, str) and first in _COMPONENTS:
            component, fmt, rest = str(first), (args[0] if args else None), args[1:]
        else:
            component, fmt, rest = str(LogComponent.CCP), first, args
        try:
            text = vsprintf(fmt, rest)  # type: ignore[arg-type]  # non-str formats raise, as in JS
        except SprintfError as exc:
            _py_log.error("%s", exc, extra={"streams_console": "error"})
            return self._new_entry(component, level, "", self._clock())
        with self._lock:
            ready = self._roll_locked(self._clock())
            entry = self._new_entry(component, level, text, self._clock())
            ready.append(self._add_locked(entry))
        self._emit(ready)
        return entry

    # -- storage -----------------------------------------------------------------------------

    def _new_entry(self, component: str, level: str, text: str, now: float) -> LogEntry:
        when = datetime.fromtimestamp(int(now * 1000) / 1000, UTC)
        return LogEntry(
            component,
            level,
            text,
            self._logger_id,
            time=when,
            agent_resource_id=self.agent_resource_id,
            tab_id=self.tab_id,
            context_layer=self.context_layer,
            logger=self,
        )

    def _add_locked(self, entry: LogEntry) -> tuple[LogEntry, bool]:
        # write() and addLogEntry() both run redactSensitiveInfo on the entry: only ``text`` is affected.
        entry.text = redact_text(redact_text(entry.text))
        entry.stored = True
        self._logs.append(entry)
        echo = False
        order = LEVEL_ORDER.get(entry.level)
        if order is not None and order >= self._log_level:
            echo = order >= self._echo_level
            entry.line = self._line_count
            self._line_count += 1
        return (entry, echo)

    def _roll_locked(self, now: float) -> list[tuple[LogEntry, bool]]:
        ready: list[tuple[LogEntry, bool]] = []
        while now >= self._next_roll:
            self._rolled_logs = self._logs
            self._logs = []
            roll = self._new_entry(str(LogComponent.CCP), "INFO", "Log roll interval occurred.", self._next_roll)
            ready.append(self._add_locked(roll))
            self._next_roll += self._roll_interval
        return ready

    def _emit(self, ready: list[tuple[LogEntry, bool]]) -> None:
        for entry, echo in ready:
            publish = self.publish
            if publish is not None and not getattr(self._local, "publishing", False):
                self._local.publishing = True
                try:
                    publish(entry)
                except Exception:
                    _py_log.exception("Publishing a log entry failed; logging goes on.")
                finally:
                    self._local.publishing = False
            if echo:
                method = CONSOLE_METHOD[entry.level]
                _py_log.log(_PY_LEVEL[method], "%s", entry, extra={"streams_console": method})

    def check_roll(self) -> int:
        """Perform the log rolls that are due by the clock (the library's timer); return how many."""
        with self._lock:
            ready = self._roll_locked(self._clock())
        self._emit(ready)
        return len(ready)

    def _queue_server_bound(self, entry: LogEntry) -> None:
        with self._lock:
            self._server_bound.append(entry)

    def drain_server_bound_logs(self) -> list[LogEntry]:
        """Return and forget the entries marked with ``send_internal_log_to_server()``."""
        with self._lock:
            out, self._server_bound = self._server_bound, []
        return out

    @property
    def logs(self) -> list[LogEntry]:
        """A copy of the current (not yet rolled) entries."""
        with self._lock:
            return list(self._logs)

    @property
    def rolled_logs(self) -> list[LogEntry]:
        """A copy of the entries of the previous roll period."""
        with self._lock:
            return list(self._rolled_logs)

    def __str__(self) -> str:
        """``Logger.toString()``: the console lines of the current entries."""
        return "\n".join(str(e) for e in self.logs)

    def __repr__(self) -> str:
        return f"<Logger {self._logger_id} entries={len(self._logs)} level={self.log_level}>"

    # -- download ----------------------------------------------------------------------------

    @staticmethod
    def download_name(options: str | Mapping[str, object] | None = None, *, log_name: str | None = None) -> str:
        """The file name ``download()`` would save as: ``<logName>.txt`` (default ``agent-log.txt``)."""
        return _download_options(options, log_name, None)[0] + ".txt"

    def download(
        self,
        options: str | Mapping[str, object] | None = None,
        *,
        log_name: str | None = None,
        filter_by_log_level: bool | None = None,
    ) -> str:
        """The text ``download()`` puts in its Blob: ``JSON.stringify(rolled + current, undefined, 4)``.

        ``options`` is a log name or ``{"logName", "filterByLogLevel"}`` as in the library; the keyword
        arguments override it. With ``filter_by_log_level`` only entries at or above the log level
        are kept.
        """
        _, filtered = _download_options(options, log_name, filter_by_log_level)
        with self._lock:
            ready = self._roll_locked(self._clock())
            entries = self._rolled_logs + self._logs
            threshold = self._log_level
        self._emit(ready)
        if filtered:
            entries = [e for e in entries if LEVEL_ORDER.get(e.level, -1) >= threshold]
        return js_stringify([e.to_dict() for e in entries], 4)

    def download_to(
        self,
        target: str | os.PathLike[str] | _TextSink,
        options: str | Mapping[str, object] | None = None,
        *,
        log_name: str | None = None,
        filter_by_log_level: bool | None = None,
    ) -> Path | None:
        """Write :meth:`download` to a text stream, a file path, or ``<dir>/<logName>.txt`` for a
        directory; return the path written (``None`` for a stream). Files are UTF-8."""
        text = self.download(options, log_name=log_name, filter_by_log_level=filter_by_log_level)
        if not isinstance(target, str | os.PathLike):
            target.write(text)
            return None
        path = Path(target)
        if path.is_dir():
            path = path / self.download_name(options, log_name=log_name)
        path.write_text(text, encoding="utf-8")
        return path


def _download_options(
    options: str | Mapping[str, object] | None, log_name: str | None, filter_by_log_level: bool | None
) -> tuple[str, bool]:
    name, filtered = "agent-log", False
    if isinstance(options, Mapping):
        name = str(options.get("logName") or options.get("log_name") or name)
        filtered = bool(options.get("filterByLogLevel") or options.get("filter_by_log_level"))
    elif isinstance(options, str):
        name = options or name
    if log_name:
        name = log_name
    if filter_by_log_level is not None:
        filtered = filter_by_log_level
    return (name, filtered)


_root: Logger | None = None
_root_lock = threading.Lock()


def get_log() -> Logger:
    """``connect.getLog()``: the process-wide root :class:`Logger` (created on first use)."""
    global _root  # noqa: PLW0603
    with _root_lock:
        if _root is None:
            _root = Logger()
        return _root
