"""Throughput of the hub's event engine against the real Streams library, and memory per idle session.

Run with ``make bench`` (or ``.venv/bin/python bench/replay.py``). It generates one deterministic,
realistic stream of ``GetAgentSnapshot`` snapshots (voice, callbacks, chats and tasks following the
contact lifecycle, holds, third parties, ACW, agent state changes) and prints, as plain lines:

* snapshots/s of the engine alone (wire JSON bytes -> decode -> normalise -> diff -> events),
* snapshots/s of ``replay_scenario`` end to end (including the oracle-format output lines),
* snapshots/s of the real library on the same stream (time inside node around ``run()``, with and
  without its fixed per-run jsdom set-up, and wall time through :class:`~hub.testing.oracle.OracleRunner`),
  and the hub/oracle ratios,
* the per-scenario cost of the real library: ``node oracle.js`` per file versus the persistent runner,
* the memory per idle agent session (tracemalloc over many sessions sharing one configuration).

Finishes in well under two minutes on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from hub import AgentSession, decode_configuration
from hub.replay import replay_scenario
from hub.testing.oracle import OracleError, OracleRunner, oracle_unavailable_reason
from hub.testing.oracle_setup import default_oracle_dir

REPO = Path(__file__).resolve().parent.parent
Json = dict[str, Any]


def _load_strategies() -> ModuleType:
    path = REPO / "tests" / "oracle" / "strategies.py"
    spec = importlib.util.spec_from_file_location("connect_hub_bench_strategies", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_stream(seed: int, n_snapshots: int) -> Json:
    """A deterministic realistic scenario holding only snapshot steps (about ``n_snapshots``)."""
    strategies = _load_strategies()
    scenario: Json = strategies.realistic_stream(seed, n_snapshots)
    steps = [s for s in scenario["steps"] if "snapshot" in s][:n_snapshots]
    return {"configuration": scenario["configuration"], "steps": steps}


def best_of(repeat: int, fn: Callable[[], float]) -> float:
    """The smallest of ``repeat`` timings returned by ``fn``."""
    return min(fn() for _ in range(repeat))


# ---------------------------------------------------------------------------------------------
# (a) the engine alone: the one function that drives the hub's lower-level API (AgentSession).


def engine_alone_seconds(configuration: Json, wire_snapshots: list[bytes]) -> tuple[float, int]:
    """Apply every snapshot (wire JSON bytes) to one fresh ``AgentSession``; returns (seconds, events).

    A counting ``subscribe_all`` subscriber stands in for the consumers, as the oracle's recorder does.
    """
    session = AgentSession("bench-agent", clock=lambda: 1_740_819_600.0)
    events = 0

    def count(_data: Any, _name: str, *_rest: Any) -> None:
        nonlocal events
        events += 1

    session.bus.subscribe_all(count)
    session.apply_configuration(configuration)
    started = time.perf_counter()
    for raw in wire_snapshots:
        session.apply_snapshot(raw)
    return time.perf_counter() - started, events


def idle_session_bytes(configuration: Json, idle_snapshot: bytes, sessions: int) -> float:
    """Bytes per idle agent session: one idle snapshot each, the decoded configuration shared."""
    shared = decode_configuration(json.dumps(configuration).encode())
    keys = [f"agent-{i:06d}" for i in range(sessions)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = []
    for key in keys:
        session = AgentSession(key)
        session.apply_configuration(shared)
        session.apply_snapshot(idle_snapshot)
        kept.append(session)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(kept)


# ---------------------------------------------------------------------------------------------


def replay_seconds(scenario: Json) -> tuple[float, int]:
    """``replay_scenario`` end to end; returns (seconds, event lines)."""
    started = time.perf_counter()
    lines = replay_scenario(scenario)
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 for line in lines if line.get("kind") == "event")


def oracle_figures(scenario: Json) -> dict[str, float] | str:
    """Times of the real library on the stream (run(), run() minus set-up, wall), or why not."""
    reason = oracle_unavailable_reason()
    if reason is not None:
        return reason
    baseline_scenario = {"configuration": scenario["configuration"], "steps": scenario["steps"][:1]}
    try:
        with OracleRunner(workers=1) as runner:
            runner.run(baseline_scenario)  # warm up the JIT
            baseline = min(runner.run_result(baseline_scenario).run_ms for _ in range(5))
            result = runner.run_result(scenario)
    except OracleError as exc:
        return f"oracle failed: {exc}"
    events = sum(1 for line in result.lines if line.get("kind") == "event")
    return {
        "run_s": result.run_ms / 1000,
        "setup_s": baseline / 1000,
        "wall_s": result.wall_ms / 1000,
        "events": float(events),
    }


def oracle_per_scenario_costs() -> list[str]:
    """Per-scenario cost of the real library over the shared scenarios: ``node oracle.js`` per file
    versus the persistent :class:`OracleRunner` (one process, then a pool of two)."""
    folder = default_oracle_dir() / "scenarios"
    files = sorted(folder.glob("*.json"))
    node = shutil.which("node")
    if not files or node is None:
        return [f"oracle per-scenario cost: not measured (no scenarios in {folder} or no node)"]
    docs = [json.loads(f.read_text()) for f in files]
    sample = files[::3]  # spawning is slow: a third of the files is enough for the average
    started = time.perf_counter()
    for f in sample:
        subprocess.run([node, "oracle.js", str(f)], cwd=folder.parent, capture_output=True, check=True)
    spawn = (time.perf_counter() - started) / len(sample)
    with OracleRunner(workers=1) as runner:
        runner.run_many(docs)  # warm up
        started = time.perf_counter()
        runner.run_many(docs)
        single = (time.perf_counter() - started) / len(files)
    with OracleRunner(workers=2) as pool:
        pool.run_many(docs)
        started = time.perf_counter()
        pool.run_many(docs * 2)
        pair = (time.perf_counter() - started) / (2 * len(files))
    return [
        f"oracle per-scenario cost over the {len(files)} shared scenarios: "
        f"node oracle.js per file {spawn * 1000:.0f} ms, OracleRunner {single * 1000:.0f} ms, "
        f"pool of 2 {pair * 1000:.0f} ms"
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the figures; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=3000, help="snapshots in the stream")
    parser.add_argument("--sessions", type=int, default=10_000, help="idle sessions for the memory figure")
    parser.add_argument("--seed", type=int, default=20250301)
    parser.add_argument("--repeat", type=int, default=5, help="repeats of the hub timings (best is kept)")
    parser.add_argument("--no-oracle", action="store_true", help="skip the real library")
    args = parser.parse_args(argv)

    scenario = make_stream(args.seed, args.snapshots)
    configuration: Json = scenario["configuration"]
    wire = [json.dumps(s["snapshot"]).encode() for s in scenario["steps"]]
    n = len(wire)
    contacts = sum(len(s["snapshot"]["contacts"]) for s in scenario["steps"])
    print(f"stream: {n} snapshots, {contacts / n:.2f} contacts per snapshot on average, seed {args.seed}")

    engine_s, engine_events = engine_alone_seconds(configuration, wire)
    engine_s = min(engine_s, best_of(args.repeat - 1, lambda: engine_alone_seconds(configuration, wire)[0]))
    print(f"hub engine alone: {n / engine_s:,.0f} snapshots/s ({engine_events} events, {engine_s:.3f} s)")

    replay_s, replay_events = replay_seconds(scenario)
    replay_s = min(replay_s, best_of(args.repeat - 1, lambda: replay_seconds(scenario)[0]))
    print(f"hub replay end to end: {n / replay_s:,.0f} snapshots/s ({replay_events} events, {replay_s:.3f} s)")

    if args.no_oracle:
        print("oracle: skipped (--no-oracle)")
    else:
        figures = oracle_figures(scenario)
        if isinstance(figures, str):
            print(f"oracle: not run: {figures}")
        else:
            run_s, setup_s, wall_s = figures["run_s"], figures["setup_s"], figures["wall_s"]
            steady_s = max(run_s - setup_s, 1e-9)
            print(
                f"oracle (real amazon-connect-streams) run(): {n / run_s:,.0f} snapshots/s "
                f"({int(figures['events'])} events, {run_s:.3f} s, of which {setup_s:.3f} s jsdom set-up)"
            )
            print(f"oracle without set-up: {n / steady_s:,.0f} snapshots/s")
            print(f"oracle wall through OracleRunner: {n / wall_s:,.0f} snapshots/s ({wall_s:.3f} s)")
            if replay_events != int(figures["events"]):
                print(f"note: event counts differ (hub {replay_events}, oracle {int(figures['events'])})")
            print(f"ratio hub engine / oracle run(): {run_s / engine_s:.1f}x")
            print(f"ratio hub engine / oracle without set-up: {steady_s / engine_s:.1f}x")
            print(f"ratio hub replay / oracle run(): {run_s / replay_s:.1f}x")
            for line in oracle_per_scenario_costs():
                print(line)

    idle_snapshot = json.dumps(scenario["steps"][0]["snapshot"] | {"contacts": []}).encode()
    per_session = idle_session_bytes(configuration, idle_snapshot, args.sessions)
    print(f"memory per idle agent session: {per_session:,.0f} bytes ({args.sessions} sessions, shared config)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
