"""The Celery application that runs deliveries, built from the hub settings.

Configuration (see ``docs/architecture.md`` and the engineering notes §2.11):

* JSON only; no result backend (the ``deliveries`` table is the record);
* ``task_acks_late`` + ``task_reject_on_worker_lost`` (and no ack on the hard time limit): a worker
  killed mid-hook gets its message redelivered; the attempt counter lives in the database row, and the
  executor dead-letters a delivery whose worker was lost at every attempt, so a poison message ends as
  a dead letter instead of looping;
* ``worker_prefetch_multiplier=1``: a worker reserves one message at a time;
* ``worker_cancel_long_running_tasks_on_connection_loss``: a late-ack task whose channel died is
  stopped (the broker redelivers it anyway);
* RabbitMQ: publisher confirms; Redis: a visibility timeout well above the longest hook run; the
  embedded broker: ``hubfs://`` (see :mod:`hub.runtime._transport`), remote control off.

* a hard ``task_time_limit`` (:func:`task_time_limits`), set by ``connect-hub worker``: the backstop for
  a hook stuck in C code, which the executor's ``SIGALRM`` timeout cannot interrupt.

Retries are NOT broker ETAs: the executor writes ``next_attempt_at`` and the relay publishes again.
Plugins are loaded once per worker process in ``worker_process_init`` (or lazily on the first task for
pools that do not fork), and the database engine is created there, after the fork.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from celery import Celery, signals
from celery.worker import state as worker_state
from kombu.transport.virtual import Transport as VirtualTransport

from hub.config import HubSettings, WorkersSettings, hub_settings, load_settings
from hub.db import create_engine_from_url
from hub.plugins import HubPlugins, load_plugins
from hub.runtime._executor import Executor
from hub.runtime._settings import RuntimeOptions

__all__ = ["TASK_NAME", "WorkerProcess", "create_app", "task_time_limits", "worker_process"]

_log = logging.getLogger("connect_hub.worker")

#: Environment variable naming a folder where each worker writes ``<pid>.ready`` when it consumes.
READY_DIR_ENVVAR = "HUB_WORKER_READY_DIR"

#: The name of the one task the hub publishes: run groups of deliveries.
TASK_NAME = "connect_hub.deliver"

#: Seconds of slack in the task time limits (database work around the hooks, process start).
TIME_MARGIN = 5.0


def task_time_limits(workers: WorkersSettings, stale_after: float) -> tuple[float, float]:
    """``(time budget, hard time limit)`` of one delivery task, in seconds.

    The executor starts no hook after the *budget* (the rest of the message goes back to the outbox,
    no attempt consumed), so a task ends within the budget + one hook timeout + database time; each
    hook is interrupted at its timeout (``SIGALRM``). The *hard limit* is Celery's ``time_limit``: the
    pool process is killed when a hook is stuck where a signal cannot reach it (C code). It stays
    below ``relay.stale_after`` when possible (``stale_after - 5 s``), so the relay does not make a
    stuck delivery due again (and another worker start it) while the stuck process still lives, and
    it is at least 2 x the longest hook timeout + 10 s.
    """
    longest = max([workers.hook_timeout, *workers.per_plugin_hook_timeout.values()])
    hard = max(stale_after - TIME_MARGIN, 2 * longest + 2 * TIME_MARGIN)
    return hard - longest - TIME_MARGIN, hard


def create_app(options: RuntimeOptions) -> Celery:
    """The Celery app for ``options`` with the hub's task registered."""
    app = Celery("connect_hub", broker=options.broker.url, set_as_current=False)
    conf: dict[str, Any] = {
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        # A pool process killed mid-task: raise WorkerLostError (and requeue) after 2 s, not 10 s.
        "worker_lost_wait": 2.0,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_transport_options": dict(options.broker.transport_options),
        "broker_connection_retry_on_startup": True,
        # Reconnect to the broker forever (every 30 s at most): Celery's default, 100 attempts, makes a worker
        # exit after a ~45 min broker outage, and nothing restarts it under `docker compose` (no restart policy).
        "broker_connection_max_retries": None,
        "task_default_queue": options.queue,
        "task_create_missing_queues": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
    }
    if options.broker.embedded:
        conf["worker_enable_remote_control"] = False
        conf["broker_transport_options"]["control_folder"] = str((options.broker.folder or Path(".")) / "control")
    app.conf.update(conf)

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME,
        shared=False,
        bind=False,
        ignore_result=True,
        acks_late=True,
        reject_on_worker_lost=True,
        # Past the hard time limit the pool process is killed: requeue the message like for a lost worker
        # (the executor turns a delivery whose worker was lost at every attempt into a dead letter).
        acks_on_timeout=False,
    )
    def deliver(groups: list[list[int]], sent_at: float | None = None) -> dict[str, int]:
        """Run groups of deliveries (ids in order per ordering key and plugin)."""
        executor = worker_process().executor
        try:
            outcome = executor.run_message(groups)
        except Exception:
            # e.g. the database went away mid-message: hand the unrun deliveries back to the outbox.
            executor.release([i for group in groups for i in group])
            raise
        return {"succeeded": outcome.succeeded, "retrying": outcome.retrying, "dead": outcome.dead}

    return app


@dataclass
class WorkerProcess:
    """What one worker process holds: settings, plugins, engine and executor."""

    settings: Any
    hub: HubSettings
    plugins: HubPlugins
    executor: Executor


class _State:
    """This process's :class:`WorkerProcess` (created once, after fork)."""

    current: WorkerProcess | None = None
    pid: int | None = None
    lock = threading.Lock()


def worker_process() -> WorkerProcess:
    """This process's worker state: settings loaded, plugins loaded and started, engine created."""
    with _State.lock:
        if _State.current is None or _State.pid != os.getpid():
            settings = load_settings()
            plugins = load_plugins(settings)
            plugins.validate(settings)
            typed = hub_settings(settings)
            plugins.startup(None)
            engine = create_engine_from_url(typed.database.url)
            budget, _hard = task_time_limits(typed.workers, RuntimeOptions.from_settings(typed, settings).stale_after)
            executor = Executor(engine, plugins, typed.workers, time_budget=budget)
            _State.current = WorkerProcess(settings, typed, plugins, executor)
            _State.pid = os.getpid()
            _log.info("worker process %s ready: plugins %s", os.getpid(), ", ".join(plugins.enabled()) or "none")
        return _State.current


@signals.worker_process_init.connect  # type: ignore[untyped-decorator]
def _on_worker_process_init(**_: Any) -> None:
    """Load plugins and create the engine in each forked pool process."""
    worker_process()


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """Readiness probe: with ``HUB_WORKER_READY_DIR`` set, write ``<dir>/<pid>.ready`` once consuming."""
    transport = getattr(getattr(sender, "connection", None), "transport", None)
    if isinstance(transport, VirtualTransport):
        _quick_warm_shutdown(transport)
    folder = os.environ.get(READY_DIR_ENVVAR)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{os.getpid()}.ready").write_text(str(os.getpid()))


def _shutdown_requested() -> bool:
    return worker_state.should_stop is not None or worker_state.should_terminate is not None


def _quick_warm_shutdown(transport: VirtualTransport) -> None:
    """Let a polling (virtual: ``hubfs://``) transport's worker start its warm shutdown at once.

    Celery's blocking loop for such transports polls ``drain_events(timeout=2.0)`` and, once the shutdown
    flag is set, polls one more cycle, so SIGTERM took up to 4 s to reach the pool. Here (main process
    only) SIGTERM also ends the current poll when it interrupted the poll's sleep (the transport's own
    ``drain_events`` frame: no message is in hand there), and no new poll starts after the flag is set.
    A message left unfetched stays in the queue; nothing in progress is cut short (the pool still
    finishes its tasks: warm shutdown).
    """
    poll: Callable[..., Any] = transport.drain_events
    poll_code = VirtualTransport.drain_events.__code__

    def drain_events(connection: Any, timeout: float | None = None) -> Any:
        if _shutdown_requested():
            raise TimeoutError("warm shutdown: no new poll")
        return poll(connection, timeout=timeout)

    transport.drain_events = drain_events  # type: ignore[method-assign]
    celery_handler = signal.getsignal(signal.SIGTERM)
    if not callable(celery_handler):
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        celery_handler(signum, frame)  # sets the warm shutdown flag
        if frame is not None and frame.f_code is poll_code and _shutdown_requested():
            raise TimeoutError("warm shutdown: poll ended")

    signal.signal(signal.SIGTERM, on_sigterm)


@signals.worker_process_shutdown.connect  # type: ignore[untyped-decorator]
def _on_worker_process_shutdown(**_: Any) -> None:
    current = _State.current
    if current is not None and _State.pid == os.getpid():
        current.plugins.shutdown(None)
        current.executor.engine.dispose()
