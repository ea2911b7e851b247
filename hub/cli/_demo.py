"""``connect-hub demo``: the whole hub on embedded defaults, over the bundled scenarios.

SQLite in a folder (a temporary one unless ``--var-dir``), the embedded broker (``hubfs://``, no
server), the pipeline and the relay in this process, one ``connect-hub worker`` subprocess and the
example plugin. Exit code 0 only when every delivery succeeded.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.runtime import AgentInput
from hub.runtime._local import LocalRuntime, RuntimeCounts

__all__ = ["demo", "scenario_inputs"]


def _bundled() -> dict[str, Any]:
    folder = resources.files("hub").joinpath("scenarios")
    found: dict[str, Any] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            found[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return found


def scenario_inputs(name: str, scenario: dict[str, Any], *, source: str = "demo") -> list[AgentInput]:
    """The agent inputs of a scenario (its configuration and snapshot steps) for agent key ``name``.

    Action and inject steps are not fed (the demo has no agent browser); the snapshots that follow
    them carry their effects.
    """
    inputs: list[AgentInput] = []
    if scenario.get("configuration"):
        inputs.append(AgentInput(name, "configuration", scenario["configuration"], source=source))
    for step in scenario.get("steps", []):
        if step.get("configuration"):
            inputs.append(AgentInput(name, "configuration", step["configuration"], source=source))
        if step.get("snapshot"):
            inputs.append(AgentInput(name, "snapshot", step["snapshot"], source=source))
    return inputs


def _summary(counts: RuntimeCounts, elapsed: float, scenarios: int) -> Table:
    table = Table(title=f"Connect Hub demo: {scenarios} scenarios in {elapsed:.1f}s")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("agents", str(counts.agents))
    table.add_row("contacts", str(counts.contacts))
    table.add_row("events stored", str(counts.events))
    for status in ("succeeded", "dead", "pending", "queued", "running", "retrying"):
        if counts.deliveries.get(status) or status in ("succeeded", "dead"):
            table.add_row(f"deliveries {status}", str(counts.deliveries.get(status, 0)))
    table.add_row("dead letters open", str(counts.dead_letters))
    return table


@click.command()
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Keep the data here.")
@click.option("--scenario", "names", multiple=True, help="Bundled scenario(s) to run (default: all).")
@click.option("--repeat", type=int, default=1, show_default=True, help="Feed every scenario N times (new agents).")
@click.option("--timeout", type=float, default=45.0, show_default=True, help="Seconds to wait for the deliveries.")
def demo(var_dir: Path | None, names: tuple[str, ...], repeat: int, timeout: float) -> None:
    """Run the hub, a worker and the example plugin over the bundled scenarios, no servers needed."""
    console = Console()
    scenarios = _bundled()
    if names:
        unknown = sorted(set(names) - scenarios.keys())
        if unknown:
            raise click.BadParameter(f"unknown scenario(s) {unknown}; bundled: {sorted(scenarios)}")
        scenarios = {n: scenarios[n] for n in names}
    with tempfile.TemporaryDirectory(prefix="connect-hub-demo-") as tmp:
        folder = (var_dir or Path(tmp)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        env = {
            "HUB_DATABASE__URL": f"sqlite:///{folder / 'hub.sqlite3'}",
            "HUB_BROKER__URL": "embedded://",
            "HUB_BROKER__FOLDER": str(folder / "broker"),
            "HUB_PLUGINS__ENABLED": '["example"]',
            "HUB_PLUGINS__EXAMPLE__PATH": str(folder / "example-plugin.log"),
        }
        console.print(f"[bold]Connect Hub demo[/] - data in {folder} (SQLite + embedded broker, no servers)")
        started = time.monotonic()
        runtime = LocalRuntime(env, workers=1, concurrency=2)
        with runtime:
            counts = _run(console, runtime, scenarios, repeat, timeout)
            elapsed = time.monotonic() - started
        console.print(_summary(counts, elapsed, len(scenarios) * repeat))
        console.print(f"example plugin output: {folder / 'example-plugin.log'}" if var_dir else "")
    complete = counts.total_deliveries > 0 and counts.deliveries.get("succeeded", 0) == counts.total_deliveries
    if not complete:
        console.print("[red]not every delivery succeeded[/]")
        sys.exit(1)


def _run(
    console: Console, runtime: LocalRuntime, scenarios: dict[str, Any], repeat: int, timeout: float
) -> RuntimeCounts:
    pipeline = runtime.pipeline
    assert pipeline is not None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        feed = progress.add_task("agent data in", total=len(scenarios) * repeat)
        deliveries = progress.add_task("deliveries done", total=None)
        for round_ in range(repeat):
            for name, scenario in scenarios.items():
                key = name if repeat == 1 else f"{name}-{round_}"
                pipeline.ingest(scenario_inputs(key, scenario))
                progress.advance(feed)
        deadline = time.monotonic() + timeout
        while True:
            counts = runtime.counts()
            progress.update(deliveries, total=counts.total_deliveries, completed=counts.finished)
            if counts.finished == counts.total_deliveries or time.monotonic() >= deadline:
                return counts
            runtime.check_workers()
            time.sleep(0.1)
