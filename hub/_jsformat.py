"""JavaScript-compatible formatting for the Streams logger mirror (:mod:`hub._logger`).

Ports of what ``src/log.js`` of amazon-connect-streams 2.28.2 relies on, with JavaScript value
semantics for Python values:

* :func:`vsprintf`: ``connect.vsprintf``, the bundled sprintf.js (raises :class:`SprintfError` where
  the library throws);
* :func:`js_string` and :func:`js_number_to_string`: ``String(value)`` and ``Number.prototype.toString``;
* :func:`js_deepcopy`: ``connect.deepcopy``, i.e. ``JSON.parse(JSON.stringify(value))``;
* :func:`js_stringify`: ``JSON.stringify(value, undefined, indent)`` byte for byte;
* :func:`js_iso_string`: ``Date.prototype.toISOString``;
* :data:`UNDEFINED`: JavaScript ``undefined`` (a missing sprintf argument, an absent message).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Final

__all__ = [
    "UNDEFINED",
    "SprintfError",
    "js_deepcopy",
    "js_iso_string",
    "js_number_to_string",
    "js_string",
    "js_stringify",
    "vsprintf",
]


# ---------------------------------------------------------------------------------------------
# JavaScript value semantics needed by sprintf.js and JSON.stringify
# ---------------------------------------------------------------------------------------------


class _Undefined:
    """JavaScript ``undefined`` (a missing sprintf argument)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Final = _Undefined()
"""JavaScript ``undefined``: a missing sprintf argument, an absent ``message`` of a logged error."""


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
        return js_iso_string(value)
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


def js_iso_string(dt: datetime) -> str:
    """``Date.prototype.toISOString``: UTC, millisecond precision, ``Z``."""
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
