"""A whole hub on one machine: pipeline + relay in this process, Celery workers as subprocesses.

Used by ``connect-hub demo``, the runtime tests and the benchmark. The workers are real
``connect-hub worker`` processes (``celery worker`` with the prefork pool) started with the same
settings through ``HUB_*`` environment variables, so what runs here is what runs in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from hub._interpreter import tuned_for_ingest
from hub.config import hub_settings, load_settings
from hub.db import create_engine_from_url, session_scope, upgrade
from hub.db._models import AGENTS, CONTACTS, DEAD_LETTERS, DELIVERIES, EVENTS
from hub.plugins import HubPlugins
from hub.runtime._celery import READY_DIR_ENVVAR, create_app
from hub.runtime._pipeline import Pipeline
from hub.runtime._relay import Relay, RelayMode
from hub.runtime._settings import RuntimeOptions

__all__ = ["LocalRuntime", "RuntimeCounts", "ensure_sqlite_folder", "worker_command"]

_TERMINAL = ("succeeded", "dead")


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file (no-op for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def worker_command(
    concurrency: int, *, loglevel: str = os.environ.get("HUB_WORKER_LOGLEVEL", "warning"), name: str | None = None
) -> list[str]:
    """The command line of one ``connect-hub worker`` subprocess using this interpreter."""
    cmd = [
        sys.executable,
        "-m",
        "hub.runtime._worker_main",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
    ]
    if name:
        cmd.append(f"--hostname={name}@%h")
    return cmd


@dataclass(slots=True)
class RuntimeCounts:
    """Row counts for the summary."""

    agents: int = 0
    contacts: int = 0
    events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0

    @property
    def total_deliveries(self) -> int:
        """Every delivery, whatever its status."""
        return sum(self.deliveries.values())

    @property
    def finished(self) -> int:
        """Deliveries that succeeded or are dead letters."""
        return sum(self.deliveries.get(s, 0) for s in _TERMINAL)


class LocalRuntime:
    """Pipeline, relay and worker subprocesses for one set of settings (a context manager).

    :param env: ``HUB_*`` overrides applied to this process (while running) and to the workers.
    :param plugins: the plugins deciding deliveries in this process (loaded from the settings if
        ``None``).
    :param workers: how many worker subprocesses; ``concurrency`` pool processes each.
    :param relay_mode: ``batched`` or ``naive``.
    :param worker_output: where worker stdout/stderr go (default: discarded).
    :param worker_env: extra environment for the workers only (``PYTHONPATH``...).
    :param hold_blocked: passed to :class:`~hub.runtime.Relay`.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        plugins: HubPlugins | None = None,
        workers: int = 1,
        concurrency: int = 2,
        relay_mode: RelayMode = "batched",
        worker_output: IO[Any] | None = None,
        worker_env: Mapping[str, str] | None = None,
        hold_blocked: bool = True,
    ) -> None:
        self.hold_blocked = hold_blocked
        self.env = dict(env)
        self.worker_env = dict(worker_env or {})
        self._saved: dict[str, str | None] = {}
        self._apply_env()
        try:
            self.settings = load_settings()
            if plugins is None:
                plugins = HubPlugins()
                plugins.load(self.settings)
                plugins.validate(self.settings)
            self.plugins = plugins
            self.hub = hub_settings(self.settings)
            self.options = RuntimeOptions.from_settings(self.hub, self.settings)
        finally:
            self._restore_env()
        self.workers = workers
        self.concurrency = concurrency
        self.relay_mode: RelayMode = relay_mode
        self.worker_output = worker_output
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ready_dir = Path(tempfile.mkdtemp(prefix="hub-ready-"))
        self.engine: Engine | None = None
        self.pipeline: Pipeline | None = None
        self.relay: Relay | None = None
        self._tuning: ExitStack | None = None

    def _apply_env(self) -> None:
        for k, v in self.env.items():
            self._saved[k] = os.environ.get(k)
            os.environ[k] = v

    def _restore_env(self) -> None:
        for k, old in self._saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        self._saved.clear()

    # ------------------------------------------------------------------ lifecycle
    def start(self, *, start_workers: bool = True, start_relay: bool = True) -> LocalRuntime:
        """Migrate the database, start the workers and the relay, create the pipeline."""
        url = self.options.database_url
        ensure_sqlite_folder(url)
        upgrade(url)
        self.engine = create_engine_from_url(url)
        self.pipeline = Pipeline(self.engine, self.plugins)
        self.relay = Relay(
            self.engine, create_app(self.options), self.options, mode=self.relay_mode, hold_blocked=self.hold_blocked
        )
        if self.relay_mode == "batched":  # published right after each commit; the relay does retries
            self.pipeline.publisher = self.relay.publish_committed
        else:
            self.pipeline.after_commit.append(self.relay.notify)
        if start_workers:
            for index in range(self.workers):
                self.start_worker(f"hub{index}-{os.getpid()}")
        if start_relay:
            self.relay.start()
        if self._tuning is None:  # start-up done: see hub._interpreter
            self._tuning = ExitStack()
            self._tuning.enter_context(tuned_for_ingest())
        return self

    def start_worker(self, name: str | None = None) -> subprocess.Popen[bytes]:
        """Start one more worker subprocess (it reports readiness in :attr:`ready_dir`)."""
        env = {**os.environ, **self.env, **self.worker_env, READY_DIR_ENVVAR: str(self.ready_dir)}
        out = self.worker_output if self.worker_output is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            worker_command(self.concurrency, name=name),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if self.worker_output is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def wait_workers_ready(self, timeout: float = 60.0) -> None:
        """Wait until every worker subprocess consumes from the broker (raise after ``timeout``)."""
        deadline = time.monotonic() + timeout
        expected = {p.pid for p in self.procs}
        while True:
            ready = {int(f.stem) for f in self.ready_dir.glob("*.ready")}
            if expected <= ready:
                return
            self.check_workers()
            if time.monotonic() >= deadline:
                raise TimeoutError(f"workers not ready after {timeout}s: {sorted(expected - ready)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the relay and the workers (SIGTERM: warm shutdown; SIGKILL after ``timeout``)."""
        if self.pipeline is not None:  # its last batches publish through the relay's connection
            self.pipeline.close()
        if self.relay is not None:
            self.relay.stop()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()
        if self.engine is not None:
            self.engine.dispose()
        if self._tuning is not None:
            self._tuning.close()
            self._tuning = None

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ observation
    def counts(self) -> RuntimeCounts:
        """Current row counts (agents, contacts, events, deliveries by status, open dead letters)."""
        assert self.engine is not None, "start() first"
        with session_scope(self.engine, write=False) as db:
            counts = RuntimeCounts(
                agents=db.execute(sa.select(sa.func.count()).select_from(AGENTS)).scalar_one(),
                contacts=db.execute(sa.select(sa.func.count()).select_from(CONTACTS)).scalar_one(),
                events=db.execute(sa.select(sa.func.count()).select_from(EVENTS)).scalar_one(),
                dead_letters=db.execute(
                    sa.select(sa.func.count()).select_from(DEAD_LETTERS).where(DEAD_LETTERS.c.retried_at.is_(None))
                ).scalar_one(),
            )
            rows = db.execute(sa.select(DELIVERIES.c.status, sa.func.count()).group_by(DELIVERIES.c.status))
            counts.deliveries = {str(s): int(n) for s, n in rows}
        return counts

    def wait_finished(self, timeout: float, *, poll: float = 0.05) -> RuntimeCounts:
        """Wait until every delivery succeeded or is dead (or ``timeout`` seconds); returns the counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if counts.finished == counts.total_deliveries or time.monotonic() >= deadline:
                return counts
            self.check_workers()
            time.sleep(poll)

    def check_workers(self) -> None:
        """Raise when a worker subprocess exited on its own."""
        for proc in self.procs:
            code = proc.poll()
            if code is not None:
                raise RuntimeError(f"worker process {proc.pid} exited with status {code}")
