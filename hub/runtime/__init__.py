"""The hub runtime: the ingest pipeline (outbox), the relay, and the Celery workers that run hooks.

Typical use in a hub process::

    settings = load_settings(); plugins = load_plugins(settings); plugins.validate(settings)
    options = RuntimeOptions.from_settings(hub_settings(settings), settings)
    engine = create_engine_from_url(options.database_url); upgrade(options.database_url)
    pipeline = Pipeline(engine, plugins)
    relay = Relay(engine, create_app(options), options); relay.start()
    pipeline.publisher = relay.publish_committed          # publish each batch right after its commit
    pipeline.ingest([AgentInput(key, "snapshot", wire_snapshot), ...])
    pipeline.ingest(scenario_inputs("jane", scenario))                 # a scenario in the oracle's format
    Simulation(SimulationConfig(), seed, PipelineFeed(pipeline.ingest)).run(1800)   # a simulated center

and ``connect-hub worker`` (Celery workers) on as many machines as needed.
"""

from hub.runtime._celery import TASK_NAME, WorkerProcess, create_app, worker_process
from hub.runtime._executor import DeliveryOutcome, Executor, HookTimeoutError, backoff_delay
from hub.runtime._feeds import PipelineFeed, scenario_inputs
from hub.runtime._pipeline import (
    AgentInput,
    IngestResult,
    Pipeline,
    PipelineResetError,
    agent_token,
    idempotency_key,
    ordering_key,
)
from hub.runtime._relay import Relay, RelayRound, pack_groups
from hub.runtime._settings import BrokerTarget, RuntimeOptions, resolve_broker

__all__ = [
    "TASK_NAME",
    "AgentInput",
    "BrokerTarget",
    "DeliveryOutcome",
    "Executor",
    "HookTimeoutError",
    "IngestResult",
    "Pipeline",
    "PipelineFeed",
    "PipelineResetError",
    "Relay",
    "RelayRound",
    "RuntimeOptions",
    "WorkerProcess",
    "agent_token",
    "backoff_delay",
    "create_app",
    "idempotency_key",
    "ordering_key",
    "pack_groups",
    "resolve_broker",
    "scenario_inputs",
    "worker_process",
]
