"""The Streams logger, ``connect.getLog()`` of amazon-connect-streams 2.28.2, for a server-side hub.

Mirrors ``src/log.js`` with Pythonic names; the ``sprintf.js`` / ``JSON.stringify`` semantics it
relies on live in :mod:`hub._jsformat`, its ``redactSensitiveInfo`` in :mod:`hub._redaction`
(both re-exported here):

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

import logging
import os
import random
import threading
import time as _time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from hub._constants import LogComponent, LogLevel
from hub._jsformat import (
    UNDEFINED,
    SprintfError,
    js_deepcopy,
    js_iso_string,
    js_number_to_string,
    js_string,
    js_stringify,
    vsprintf,
)
from hub._redaction import HASHED_FIELDS, REDACTED_FIELDS, redact_sensitive_info, redact_text

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
        return js_iso_string(self.time)

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
