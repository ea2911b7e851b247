"""Worker throughput: deliveries/s executed by N real ``connect-hub worker`` processes, and warm shutdown time.

Run with ``.venv/bin/python bench/worker.py`` (``--quick`` for a smaller run, ``--backend`` to pick one).

For each backend (embedded = SQLite + ``embedded://``; PostgreSQL + RabbitMQ on 127.0.0.1, a database
and a queue created for the run and dropped afterwards):

1. the realistic input of ``bench/pipeline.py`` (interleaved agent streams) is ingested into the
   outbox first, with neither relay nor workers running, and 4 trivial plugins enabled;
2. N worker processes (``--workers``, ``--concurrency`` pool processes each) are started and awaited;
3. the relay is started and the clock runs until every delivery succeeded (or is dead): the figure
   is deliveries/s executed, with the relay in this process publishing (as in production, where it
   shares the machine);
4. each worker is sent SIGTERM (warm shutdown) and the time until it exits is printed.

The plugins do nothing, so what is measured is the per-delivery cost of the worker side: broker
message, order check, claim, rebuilding the hook arguments, recording the result, draining.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the hub of this checkout (the workers get it through PYTHONPATH)
    sys.path.insert(0, str(REPO))


def _load_pipeline_bench() -> Any:
    """``bench/pipeline.py`` as a module (inputs, plugins, environment, PostgreSQL database)."""
    spec = importlib.util.spec_from_file_location("connect_hub_bench_pipeline", REPO / "bench" / "pipeline.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(label: str, env: dict[str, str], inputs: Any, *, workers: int, concurrency: int, timeout: float) -> None:
    """Preload the outbox with ``inputs``, then time ``workers`` worker processes draining it."""
    from hub.db._models import DELIVERIES  # noqa: PLC0415
    from hub.runtime import AgentInput  # noqa: PLC0415
    from hub.runtime._local import LocalRuntime  # noqa: PLC0415

    log_path = Path(env["HUB_BROKER__FOLDER"]).parent / f"workers-{label.split(maxsplit=1)[0]}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        rt = LocalRuntime(env, workers=workers, concurrency=concurrency, worker_output=log)
        rt.start(start_workers=False, start_relay=False)
        assert rt.pipeline is not None
        assert rt.relay is not None
        assert rt.engine is not None
        for i in range(0, len(inputs), 1000):
            rt.pipeline.ingest([AgentInput(k, kind, data) for k, kind, data in inputs[i : i + 1000]])
        for index in range(workers):
            rt.start_worker(f"benchw{index}-{os.getpid()}")
        rt.wait_workers_ready(120)
        start = time.perf_counter()
        rt.relay.start()
        counts = rt.wait_finished(timeout, poll=0.05)
        elapsed = time.perf_counter() - start
        with rt.engine.connect() as conn:
            retried = conn.execute(
                sa.select(sa.func.count()).select_from(DELIVERIES).where(DELIVERIES.c.attempts > 1)
            ).scalar_one()
        rt.relay.stop()
        messages = rt.relay.totals.messages + rt.relay.eager.messages
        print(
            f"{label}: {counts.finished / elapsed:8,.0f} deliveries/s executed by {workers} worker(s) x {concurrency} "
            f"({counts.finished}/{counts.total_deliveries} finished in {elapsed:.2f}s, {messages} messages "
            f"published, {retried} deliveries with more than one attempt; statuses {counts.deliveries})",
            flush=True,
        )
        shutdown = []
        for proc in rt.procs:
            t = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            shutdown.append(time.perf_counter() - t)
        print(f"    warm shutdown (SIGTERM -> exit): {', '.join(f'{s:.2f}s' for s in shutdown)}", flush=True)
        rt.stop()


def main() -> None:
    """Run the benchmark on the chosen backends."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller input")
    parser.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--agents", type=int, default=None, help="agent streams (default 20, --quick 10)")
    parser.add_argument("--per-agent", type=int, default=None, help="steps per agent (default 500, --quick 200)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the deliveries")
    args = parser.parse_args()
    bench = _load_pipeline_bench()
    agents = args.agents or (10 if args.quick else 20)
    per_agent = args.per_agent or (200 if args.quick else 500)
    inputs = bench.make_inputs(agents, per_agent)
    print(f"input: {len(inputs)} wire inputs from {agents} agents, 4 plugins", flush=True)
    with tempfile.TemporaryDirectory(prefix="hub-bench-worker-") as tmp:
        folder = Path(tmp)
        bench._write_plugins(folder)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), str(REPO), os.environ.get("PYTHONPATH", "")])
        if args.backend in ("embedded", "both"):
            env = bench._env(folder / "e", f"sqlite:///{folder}/e.sqlite3", "embedded://")
            env.pop("HUB_BENCH_OUT")
            run(
                "embedded (SQLite + hubfs)",
                env,
                inputs,
                workers=args.workers,
                concurrency=args.concurrency,
                timeout=args.timeout,
            )
        if args.backend in ("postgres", "both"):
            missing = bench._reachable("127.0.0.1", 5432) or bench._reachable("127.0.0.1", 5672)
            if missing:
                print(f"PostgreSQL + RabbitMQ: skipped, {missing}")
                return
            with bench._PostgresDatabase() as pg:
                env = bench._env(folder / "p", pg, bench.AMQP)
                env.pop("HUB_BENCH_OUT")
                run(
                    "PostgreSQL + RabbitMQ    ",
                    env,
                    inputs,
                    workers=args.workers,
                    concurrency=args.concurrency,
                    timeout=args.timeout,
                )


if __name__ == "__main__":
    main()
