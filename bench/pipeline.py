"""Throughput and latency of the hub runtime: decode → derive → persist → publish, and hook start latency.

Run with ``.venv/bin/python bench/pipeline.py`` (``--quick`` for a smaller run). It prints, as plain lines:

* snapshots/s through the whole hub side (wire JSON bytes → decode → core session → events →
  one outbox transaction → relay claim → broker publish) on the embedded default (SQLite + hubfs)
  and on PostgreSQL + RabbitMQ, with the batched relay and with the naive baseline (one
  ``apply_async`` per hook call), plus where the time goes per stage;
* p50/p99/max latency from agent data received to hook started at a fixed rate of 1,000 snapshots/s
  with 4 plugins enabled, two ``connect-hub worker`` processes, on PostgreSQL + RabbitMQ, in steady
  state (after the workers are ready and a 2 s warm-up at the same rate): from 300
  agents (about 3.4 snapshots/s each), and from the few agents of the throughput runs (100 snapshots/s
  per agent, the worst case for per-contact ordering); and at 50 snapshots/s.

The input is the realistic stream generator of ``bench/replay.py`` (voice, callbacks, chats and tasks
following the contact lifecycle), one stream per agent, interleaved. PostgreSQL and RabbitMQ come from
127.0.0.1 (a database and a queue created for the run and dropped afterwards); sections whose server
is unreachable are skipped with the reason. Bounded to well under three minutes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import sqlalchemy as sa

if TYPE_CHECKING:
    from hub.runtime._pipeline import InputKind
    from hub.runtime._relay import RelayMode

Inputs = list[tuple[str, "InputKind", bytes]]
"""(agent key, input kind, wire JSON) in feeding order."""

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("HUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP = os.environ.get("HUB_BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
PLUGINS = ("benchplug_a", "benchplug_b", "benchplug_c", "benchplug_d")

PLUGIN_SOURCE = textwrap.dedent(
    '''
    """A benchmark plugin: notes when each hook starts (idempotency key, epoch seconds)."""
    import os, time
    from hub.hookspecs import hookimpl
    CONNECT_HUB_API = "1.0"
    _out = None

    def _note(ctx):
        global _out
        if _out is None:
            folder = os.environ.get("HUB_BENCH_OUT")
            _out = open(os.path.join(folder, f"{os.getpid()}.starts"), "a", buffering=1) if folder else False
        if _out:
            _out.write(f"{ctx.idempotency_key} {time.time()}\\n")

    @hookimpl
    def on_agent_state_change(agent, change, ctx):
        _note(ctx)

    @hookimpl
    def on_contact_connected(contact, agent, ctx):
        _note(ctx)

    @hookimpl
    def on_contact_ended(contact, agent, ctx):
        _note(ctx)

    @hookimpl
    def on_contact_destroyed(contact, agent, ctx):
        _note(ctx)
    '''
)


def _load_replay_bench() -> Any:
    spec = importlib.util.spec_from_file_location("connect_hub_bench_replay", REPO / "bench" / "replay.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_inputs(agents: int, per_agent: int) -> Inputs:
    """(agent key, kind, wire JSON) for ``agents`` interleaved realistic streams (configuration first)."""
    replay = _load_replay_bench()
    streams: list[Inputs] = []
    for n in range(agents):
        doc = replay.make_stream(1000 + n, per_agent)
        key = f"arn:aws:connect:us-west-2:123456789012:instance/bench/agent/{n:04d}"
        stream: Inputs = [(key, "configuration", msgspec.json.encode(doc["configuration"]))]
        stream += [(key, "snapshot", msgspec.json.encode(s["snapshot"])) for s in doc["steps"]]
        streams.append(stream)
    out: Inputs = []
    for i in range(max(len(s) for s in streams)):
        out.extend(s[i] for s in streams if i < len(s))
    return out


def _write_plugins(folder: Path) -> None:
    for name in PLUGINS:
        (folder / f"{name}.py").write_text(PLUGIN_SOURCE)
    sys.path.insert(0, str(folder))


def _env(folder: Path, db_url: str, broker: str) -> dict[str, str]:
    return {
        "HUB_DATABASE__URL": db_url,
        "HUB_BROKER__URL": broker,
        "HUB_BROKER__QUEUE": f"hubbench-{uuid.uuid4().hex[:8]}",
        "HUB_BROKER__FOLDER": str(folder / "broker"),
        "HUB_PLUGINS__ENABLED": "[]",
        "HUB_PLUGINS__MODULES": "[" + ", ".join(f'"{p}"' for p in PLUGINS) + "]",
        "HUB_RELAY__POLL_INTERVAL": "0.05",
        "HUB_RELAY__BATCH_SIZE": "2000",
        "HUB_BENCH_OUT": str(folder / "starts"),
    }


class _PostgresDatabase:
    def __init__(self) -> None:
        self.admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.name = f"hub_bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        with self.admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        return sa.engine.make_url(PG_ADMIN).set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _reachable(host: str, port: int) -> str | None:
    import socket  # noqa: PLC0415

    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc})"


def _purge(runtime: Any) -> None:
    """Delete the run's queue from the broker (messages published without workers)."""
    relay = runtime.relay
    with relay.app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            channel.queue_delete(runtime.options.queue)
        except Exception as exc:
            print(f"  (could not delete queue {runtime.options.queue}: {exc})")


def throughput(label: str, env: dict[str, str], inputs: Inputs, batch: int) -> None:
    """Ingest ``inputs`` in batches, publish everything with the batched relay, then the naive baseline."""
    from hub.runtime import AgentInput  # noqa: PLC0415
    from hub.runtime._local import LocalRuntime  # noqa: PLC0415

    modes: tuple[RelayMode, ...] = ("batched", "naive")
    for mode in modes:
        if mode == "naive":  # the same stream cut short: the rate is what matters, and this mode is slow
            inputs = inputs[: max(2000, len(inputs) // 3)]
        # Without workers nothing finishes, so publish every due delivery (no per-key holding): this
        # measures the raw publish capacity; the workers' order check keeps the order in real runs.
        rt = LocalRuntime(env, relay_mode=mode, hold_blocked=False)
        rt.start(start_workers=False, start_relay=False)
        assert rt.pipeline is not None
        assert rt.relay is not None
        stages: dict[str, float] = {}
        deliveries = events = 0
        start = time.perf_counter()
        futures = []
        for i in range(0, len(inputs), batch):
            chunk = [AgentInput(k, kind, data) for k, kind, data in inputs[i : i + batch]]
            # Batched: the pipeline derives the next batch while its writer thread commits and publishes
            # the last. Naive: each batch is committed, then the relay publishes it one message per delivery.
            futures.append(rt.pipeline.submit(chunk))
            while mode == "naive":
                futures[-1].result()
                r = rt.relay.run_once()
                if r.error:
                    raise RuntimeError(r.error)
                if r.claimed == 0:
                    break
        results = [future.result() for future in futures]
        rt.relay.flush_published()  # the publisher thread has published everything handed over
        for result in results:
            deliveries += result.deliveries
            events += result.events_written
            for k, v in result.timings.items():
                stages[k] = stages.get(k, 0.0) + v
        ingest_time = time.perf_counter() - start - rt.relay.totals.timings.get("claim", 0.0)
        ingest_time -= rt.relay.totals.timings.get("publish", 0.0)
        total = time.perf_counter() - start
        totals, eager = rt.relay.totals, rt.relay.eager
        published = totals.published + eager.published
        publish_time = totals.timings.get("publish", 0.0) + eager.timings.get("publish", 0.0)
        n = len(inputs)
        print(
            f"{label} [{mode:7}] {n / total:9,.0f} snapshots/s end to end "
            f"({n} snapshots, {events} events, {deliveries} deliveries in {totals.messages + eager.messages} "
            f"messages, {total:.2f}s); pipeline {n / ingest_time:,.0f}/s; "
            f"publish {published / max(publish_time, 1e-9):,.0f} deliveries/s"
        )
        parts = {
            **stages,
            "relay claim": totals.timings.get("claim", 0.0),
            "relay publish": totals.timings.get("publish", 0.0),
        }
        print(
            "    where the time goes (persist and publish run on the writer thread, beside the next batch's "
            "decode/derive): " + ", ".join(f"{k} {v:.2f}s" for k, v in parts.items())
        )
        _purge(rt)
        rt.stop()


def latency(label: str, env: dict[str, str], inputs: Inputs, rate: int, *, seconds: float, warmup: float) -> None:
    """Feed ``rate`` snapshots/s for ``warmup`` + ``seconds`` with workers running; hook start latency
    percentiles over the last ``seconds`` (steady state: the workers' first calls per agent, caches and
    connections warmed at the same rate first)."""
    from hub.runtime import AgentInput  # noqa: PLC0415
    from hub.runtime._local import LocalRuntime  # noqa: PLC0415

    out = Path(env["HUB_BENCH_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    rt = LocalRuntime(env, workers=2, concurrency=2)
    rt.start()
    assert rt.pipeline is not None
    # Warm up: the workers start and reach the broker (their imports take seconds on a busy machine),
    # then run a first batch's hooks.
    rt.wait_workers_ready(120)
    warm = inputs[:200]
    rt.pipeline.ingest([AgentInput(k, kind, d) for k, kind, d in warm])
    rt.wait_finished(60, poll=0.1)
    received: dict[str, float] = {}
    tick = 0.02
    per_tick = max(1, int(rate * tick))
    feed = inputs[200 : 200 + int(rate * (warmup + seconds))]
    measured_from = int(rate * warmup)
    pending = []
    t0 = time.time()
    t_measured = t0 + warmup
    for i in range(0, len(feed), per_tick):
        due = t0 + (i // per_tick) * tick
        now = time.time()
        if due > now:
            time.sleep(due - now)
        chunk = feed[i : i + per_tick]
        # A source at a fixed rate: the next tick's data arrives whether or not the last commit is done.
        future = rt.pipeline.submit([AgentInput(k, kind, d, received_at=due) for k, kind, d in chunk])
        if i >= measured_from:
            pending.append((due, future))
    for due, future in pending:
        for key in future.result().delivery_keys:
            received[key] = due
    achieved = (len(feed) - measured_from) / (time.time() - t_measured)
    counts = rt.wait_finished(45, poll=0.1)
    assert rt.engine is not None
    with rt.engine.connect() as conn:  # where the latency goes, per hop (PostgreSQL)
        hops = conn.execute(
            sa.text(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM queued_at - created_at)),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - queued_at)),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),"
                " sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) FROM deliveries WHERE started_at IS NOT NULL"
            )
        ).one()
    rt.stop()
    starts: dict[str, float] = {}
    for f in out.glob("*.starts"):
        for line in f.read_text().splitlines():
            key, t = line.rsplit(" ", 1)
            starts.setdefault(key, float(t))
    lat = sorted((starts[k] - received[k]) * 1000 for k in received if k in starts)
    if not lat:
        print(f"{label}: no hook ran ({counts})")
        return
    p = statistics.quantiles(lat, n=100)
    print(
        f"{label}: {achieved:,.0f} snapshots/s offered with {len(PLUGINS)} plugins, {len(lat)} hook calls: "
        f"latency received -> hook started p50 {p[49]:.1f} ms, p99 {p[98]:.1f} ms, max {lat[-1]:.1f} ms "
        f"({counts.finished}/{counts.total_deliveries} finished)"
    )
    print(
        f"    where the latency goes (medians): outbox -> queued {float(hops[0] or 0) * 1000:.1f} ms, "
        f"queued -> started {float(hops[1] or 0) * 1000:.1f} ms (broker, worker pick-up or drain), "
        f"hook + bookkeeping {float(hops[2] or 0):.1f} ms; deliveries needing more than one attempt: {hops[3]}"
    )


def main() -> None:
    """Run the benchmark sections."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller inputs (CI smoke run)")
    args = parser.parse_args()
    agents, per_agent = (5, 700) if args.quick else (10, 1500)
    seconds, warmup = (2, 1) if args.quick else (6, 2)
    t = time.perf_counter()
    inputs = make_inputs(agents, per_agent)
    # The latency runs: 300 agents at about 3.4 snapshots/s each (a busy floor's rate per agent), and
    # the few-agents stream above (100 snapshots/s per agent: the worst case for per-contact ordering).
    crowd = make_inputs(300, (1000 * (seconds + warmup) + 200) // 300 + 2)
    print(
        f"input: {len(inputs)} wire inputs from {agents} agents and {len(crowd)} from 300 agents (realistic mix), "
        f"generated in {time.perf_counter() - t:.1f}s"
    )
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        folder = Path(tmp)
        _write_plugins(folder)
        os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), str(REPO), os.environ.get("PYTHONPATH", "")])
        throughput(
            "embedded (SQLite + hubfs)     ",
            _env(folder / "e", f"sqlite:///{folder}/e.sqlite3", "embedded://"),
            inputs,
            1000,
        )
        missing = _reachable("127.0.0.1", 5432) or _reachable("127.0.0.1", 5672)
        if missing:
            print(f"PostgreSQL + RabbitMQ: skipped, {missing}")
            return
        with _PostgresDatabase() as pg:
            throughput("PostgreSQL + RabbitMQ         ", _env(folder / "p", pg, AMQP), inputs, 1000)
        runs = [
            ("latency PostgreSQL + RabbitMQ @1000/s, 300 agents", crowd, 1000),
            (f"latency PostgreSQL + RabbitMQ @1000/s, {agents} agents", inputs, 1000),
            (f"latency PostgreSQL + RabbitMQ @  50/s, {agents} agents", inputs, 50),
        ]
        for n, (label, feed, rate) in enumerate(runs):
            with _PostgresDatabase() as pg:
                latency(label, _env(folder / f"l{n}", pg, AMQP), feed, rate, seconds=seconds, warmup=warmup)


if __name__ == "__main__":
    main()
