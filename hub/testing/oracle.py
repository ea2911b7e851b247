"""Run the real Amazon Connect Streams library (the streams-oracle) from Python and diff its output.

:class:`OracleRunner` keeps one or more persistent Node processes (``oracle_server.js``) that each
load ``oracle.js`` once and then run scenarios on request, which costs tens of milliseconds per
scenario instead of the ~0.6 s of ``node oracle.js FILE``. :func:`compare_outputs` compares the hub's
JSON lines with the oracle's on the contract fields and :func:`format_difference` renders the first
disagreement with context.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.testing.oracle_setup import default_oracle_dir, is_installed

__all__ = [
    "COMPARED_FIELDS",
    "Difference",
    "OracleError",
    "OracleResult",
    "OracleRunner",
    "compare_outputs",
    "format_difference",
    "oracle_unavailable_reason",
    "project",
]

SERVER_JS = Path(__file__).with_name("oracle_server.js")
MIN_NODE_MAJOR = 18

COMPARED_FIELDS: dict[str, tuple[str, ...]] = {
    "event": ("step", "depth", "event", "payload"),
    "backend_call": ("step", "method", "target", "body"),
    "callback": ("step", "action", "result"),
}
"""The output-line kinds that are compared, and the fields of each that form the contract."""


class OracleError(RuntimeError):
    """The oracle process failed, timed out or rejected a scenario."""


def _node_major(node: str) -> int | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip().lstrip("v")
    try:
        return int(text.split(".", 1)[0])
    except ValueError:
        return None


def oracle_unavailable_reason(oracle_dir: Path | None = None, node: str | None = None) -> str | None:
    """Why the oracle cannot run here (node missing or too old, oracle not installed), or ``None``."""
    node_path = node or shutil.which("node")
    if node_path is None:
        return "node not found on PATH (Node.js >= 18 is needed for the differential tests)"
    major = _node_major(node_path)
    if major is None or major < MIN_NODE_MAJOR:
        return f"{node_path} is not Node.js >= {MIN_NODE_MAJOR} (got major version {major})"
    folder = oracle_dir or default_oracle_dir()
    if not is_installed(folder):
        return f"streams-oracle is not installed in {folder} (run `make oracle`)"
    return None


@dataclass(frozen=True)
class OracleResult:
    """One oracle run: the JSON lines, the summary, the time inside ``run()`` and the round-trip time."""

    lines: list[dict[str, Any]]
    summary: dict[str, Any]
    run_ms: float
    wall_ms: float


@dataclass
class _Worker:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    next_id: int = 0
    runs: int = 0
    pumps: list[threading.Thread] = field(default_factory=list)

    def alive(self) -> bool:
        return self.proc.poll() is None


class OracleRunner:
    """A pool of persistent Node processes running the real Streams library over scenarios.

    Use as a context manager or call :meth:`close`. Thread-safe: each call takes an idle worker.
    """

    def __init__(
        self,
        oracle_dir: Path | None = None,
        *,
        workers: int = 1,
        node: str | None = None,
        timeout: float = 120.0,
        recycle_heap_mb: float = 350.0,
        max_runs: int = 500,
    ) -> None:
        """Start ``workers`` Node processes for the oracle installed in ``oracle_dir``.

        Each ``run()`` of the real library leaks a few MB in its process and slows later runs, so a
        process is replaced after a run that leaves its heap above ``recycle_heap_mb`` or after
        ``max_runs`` runs.
        """
        self.oracle_dir = (oracle_dir or default_oracle_dir()).resolve()
        self.timeout = timeout
        self.recycle_heap_mb = recycle_heap_mb
        self.max_runs = max_runs
        self.recycled = 0
        """How many worker processes were replaced so far (leak control or crash)."""
        node_path = node or shutil.which("node")
        reason = oracle_unavailable_reason(self.oracle_dir, node_path)
        if reason is not None or node_path is None:
            raise OracleError(reason or "node not found")
        self._node = node_path
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.streams_version: str | None = None
        try:
            for _ in range(max(1, workers)):
                worker = self._spawn()
                self._all.append(worker)
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        """Number of Node worker processes in the pool."""
        return len(self._all)

    def _spawn(self) -> _Worker:
        proc = subprocess.Popen(
            [self._node, str(SERVER_JS), str(self.oracle_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            cwd=self.oracle_dir,
            env={**os.environ, "NODE_OPTIONS": os.environ.get("CONNECT_HUB_ORACLE_NODE_OPTIONS", "")},
        )
        worker = _Worker(proc)
        worker.pumps = [
            threading.Thread(target=self._pump_stdout, args=(worker,), daemon=True),
            threading.Thread(target=self._pump_stderr, args=(worker,), daemon=True),
        ]
        for pump in worker.pumps:
            pump.start()
        hello = self._read(worker, self.timeout)
        if not hello.get("ready"):
            proc.kill()
            raise OracleError(f"oracle server failed to start: {hello.get('error')}")
        self.streams_version = hello.get("streamsVersion")
        return worker

    @staticmethod
    def _pump_stdout(worker: _Worker) -> None:
        assert worker.proc.stdout is not None
        for line in worker.proc.stdout:
            worker.lines.put(line)
        worker.lines.put(None)

    @staticmethod
    def _pump_stderr(worker: _Worker) -> None:
        assert worker.proc.stderr is not None
        for line in worker.proc.stderr:
            worker.stderr_tail.append(line.rstrip("\n"))

    def _read(self, worker: _Worker, timeout: float) -> dict[str, Any]:
        try:
            line = worker.lines.get(timeout=timeout)
        except queue.Empty:
            worker.proc.kill()
            raise OracleError(f"oracle did not answer within {timeout:.0f} s") from None
        if line is None:
            worker.proc.wait()
            tail = "\n".join(worker.stderr_tail)
            raise OracleError(f"oracle process exited with {worker.proc.returncode}:\n{tail}")
        doc: dict[str, Any] = json.loads(line)
        return doc

    def run_result(self, scenario: Mapping[str, Any] | Sequence[Any], **opts: Any) -> OracleResult:
        """Run one scenario (oracle format) and return lines, summary and timings.

        ``opts`` are the oracle's ``run()`` options, e.g. ``mode="direct"``, ``allEvents=True``.
        """
        if self._closed:
            raise OracleError("runner is closed")
        worker = self._idle.get()
        try:
            if not worker.alive():
                worker = self._replace(worker)
            worker.next_id += 1
            request = json.dumps({"id": worker.next_id, "scenario": scenario, "opts": opts})
            started = time.perf_counter()
            assert worker.proc.stdin is not None
            try:
                worker.proc.stdin.write(request + "\n")
                worker.proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise OracleError(f"oracle process is gone: {exc}") from exc
            reply = self._read(worker, self.timeout)
            wall_ms = (time.perf_counter() - started) * 1000.0
            if reply.get("id") != worker.next_id:
                raise OracleError(f"oracle answered request {reply.get('id')}, expected {worker.next_id}")
            worker.runs += 1
            if float(reply.get("heapMB", 0.0)) > self.recycle_heap_mb or worker.runs >= self.max_runs:
                worker = self._replace(worker)
        finally:
            self._idle.put(worker)
        if not reply.get("ok"):
            raise OracleError(f"oracle rejected the scenario: {reply.get('error')}")
        return OracleResult(reply["lines"], reply["summary"], float(reply["runMs"]), wall_ms)

    def run(self, scenario: Mapping[str, Any] | Sequence[Any], **opts: Any) -> list[dict[str, Any]]:
        """Run one scenario and return the oracle's output lines (dicts, as ``node oracle.js`` prints)."""
        return self.run_result(scenario, **opts).lines

    def run_many(self, scenarios: Iterable[Mapping[str, Any] | Sequence[Any]], **opts: Any) -> list[OracleResult]:
        """Run scenarios concurrently over the pool; results are in input order."""
        items = list(scenarios)
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            return list(pool.map(lambda s: self.run_result(s, **opts), items))

    def _replace(self, old: _Worker) -> _Worker:
        self._stop(old, timeout=5.0)
        with self._lock:
            fresh = self._spawn()
            self._all = [fresh if w is old else w for w in self._all]
            self.recycled += 1
        return fresh

    @staticmethod
    def _stop(worker: _Worker, timeout: float) -> None:
        proc = worker.proc
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pump in worker.pumps:  # they stop at end of file, now that the process is gone
            pump.join(timeout)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the current Node workers."""
        return [w.proc.pid for w in self._all]

    def close(self, timeout: float = 10.0) -> None:
        """Stop every Node process: close stdin, wait, kill what does not exit in time."""
        self._closed = True
        for worker in self._all:
            self._stop(worker, timeout)
        self._all = []

    def __enter__(self) -> OracleRunner:
        """Return the runner itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the runner."""
        self.close()


# ---------------------------------------------------------------------------------------------
# comparison


def _canonical(value: Any) -> Any:
    """JSON value with integral floats as ints (JavaScript prints ``1`` for ``1.0``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def project(lines: Iterable[Mapping[str, Any]], kind: str) -> list[tuple[int, str]]:
    """The lines of one ``kind`` as ``(index in lines, canonical JSON of the compared fields)``."""
    fields = COMPARED_FIELDS[kind]
    out: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        if line.get("kind") == kind:
            key = {name: _canonical(line.get(name)) for name in fields}
            out.append((index, json.dumps(key, sort_keys=True, separators=(",", ":"))))
    return out


@dataclass(frozen=True)
class Difference:
    """The first disagreement between the oracle's lines (expected) and the hub's (actual) for one kind."""

    kind: str
    position: int
    """Index among the lines of this kind."""
    expected: Mapping[str, Any] | None
    actual: Mapping[str, Any] | None
    expected_context: list[Mapping[str, Any]]
    """Lines of this kind just before the difference (identical on both sides)."""
    expected_count: int
    actual_count: int


def compare_outputs(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    kinds: Iterable[str] = ("event", "backend_call", "callback"),
    *,
    optional_kinds: Iterable[str] = ("backend_call", "callback"),
    context: int = 3,
) -> Difference | None:
    """Compare per kind on :data:`COMPARED_FIELDS`; return the first difference or ``None``.

    A kind in ``optional_kinds`` is skipped when ``actual`` has no line of that kind at all (the hub
    may not print backend calls or callbacks); every other kind must match exactly.
    """
    optional = set(optional_kinds)
    for kind in kinds:
        got = project(actual, kind)
        if kind in optional and not got:
            continue
        want = project(expected, kind)
        for pos in range(max(len(want), len(got))):
            w = want[pos] if pos < len(want) else None
            g = got[pos] if pos < len(got) else None
            if w is not None and g is not None and w[1] == g[1]:
                continue
            return Difference(
                kind=kind,
                position=pos,
                expected=expected[w[0]] if w else None,
                actual=actual[g[0]] if g else None,
                expected_context=[expected[i] for i, _ in want[max(0, pos - context) : pos]],
                expected_count=len(want),
                actual_count=len(got),
            )
    return None


def _show(line: Mapping[str, Any] | None, kind: str) -> str:
    if line is None:
        return "<no line>"
    return json.dumps({k: line.get(k) for k in ("step", *COMPARED_FIELDS[kind][1:])}, sort_keys=False)


def format_difference(name: str, diff: Difference, labels: Sequence[str | None] = ()) -> str:
    """A readable report of ``diff`` for scenario ``name``; ``labels`` are the steps' labels."""
    step = (diff.expected or diff.actual or {}).get("step")
    label = labels[step] if isinstance(step, int) and 0 <= step < len(labels) else None
    out = [
        f"scenario {name!r}: first differing {diff.kind!r} line is #{diff.position} "
        f"(oracle has {diff.expected_count}, hub has {diff.actual_count}) at step {step}"
        + (f" ({label})" if label else ""),
        "  context (identical on both sides):",
        *(f"    {_show(c, diff.kind)}" for c in diff.expected_context),
        f"  oracle: {_show(diff.expected, diff.kind)}",
        f"  hub:    {_show(diff.actual, diff.kind)}",
    ]
    return "\n".join(out)
