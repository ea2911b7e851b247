"""``connect-hub simulate``: the seeded contact-center simulator, in process or against a running hub.

Three modes (``docs/simulator.md``):

* ``--emit scenario --agent ID --seed N [--duration S] [-o FILE]``: one simulated agent's Streams agent
  data as an oracle scenario file (what ``node oracle.js FILE`` and ``connect-hub replay FILE`` take);
* in process (default): a :class:`hub.Hub` with one session per agent, the simulator as every session's
  action backend; ``--persist`` drives the runtime instead (pipeline, outbox, relay, workers, database
  from the settings);
* ``--hub-url URL``: Firehose deliveries, EventBridge contact events and optionally bridge agent data to
  a running ``connect-hub serve``, exactly as the real sources send them.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub import Hub
from hub.simulator import FanoutSink, SimulatedBackend, Simulation, SimulationConfig, emit_scenario, list_agents
from hub.simulator import Progress as SimProgress
from hub.simulator.http_sink import DeliveryError, HubHttpSink, HubUnreachableError, RetryPolicy
from hub.simulator.sinks import flush_sink, tick_sink

__all__ = ["HubFeed", "RunSummary", "simulate"]

JSON = dict[str, Any]
_HTTP_OPTIONS = (
    "firehose_access_key",
    "eventbridge_api_key",
    "eventbridge_api_key_header",
    "eventbridge_username",
    "eventbridge_password",
    "bridge_secret",
    "bridge_tokens",
    "batch_size",
    "buffer_seconds",
    "no_gzip",
    "retry_duration",
)


@dataclass(slots=True)
class RunSummary:
    """What a run produced, as the summary table and ``--json`` print it."""

    seed: int
    sim_seconds: float
    wall_seconds: float
    agents: int
    contacts: int
    completed: int
    emitted: Counter[str] = field(default_factory=Counter)
    hub: dict[str, Any] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> JSON:
        """The summary as one JSON object."""
        return {
            "seed": self.seed,
            "sim_seconds": self.sim_seconds,
            "wall_seconds": round(self.wall_seconds, 3),
            "agents": self.agents,
            "contacts": self.contacts,
            "completed": self.completed,
            "emitted": dict(sorted(self.emitted.items())),
            "hub": self.hub,
            "events": self.events,
        }


class HubFeed:
    """A sink feeding Streams agent data into a :class:`hub.Hub` (one session per agent) and counting
    every event the sessions raise, by name (per-contact twins ``contact::x::<id>`` left out)."""

    def __init__(self, hub: Hub) -> None:
        """Feed ``hub``."""
        self.hub = hub
        self.events: Counter[str] = Counter()
        self.contacts: set[str] = set()
        hub.subscribe_all(self._count)

    def _count(self, data: Any, name: str) -> None:
        if name.count("::") < 2:
            self.events[name] += 1

    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Apply the agent data to the agent's session."""
        self.hub.session(agent_id).apply_agent_data(data)
        self.contacts.update(c["contactId"] for c in data["snapshot"].get("contacts", []))

    def agent_event(self, record: JSON) -> None:
        """Not a Streams input."""

    def contact_record(self, ctr: JSON) -> None:
        """Not a Streams input."""

    def contact_event(self, event: JSON) -> None:
        """Not a Streams input."""


class _Counting:
    """Counts what the simulator emits, by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.agents: set[str] = set()

    def agent_data(self, agent_id: str, data: JSON) -> None:
        self.counts["agent_data"] += 1
        self.agents.add(agent_id)

    def agent_event(self, record: JSON) -> None:
        self.counts["agent_events"] += 1

    def contact_record(self, ctr: JSON) -> None:
        self.counts["contact_records"] += 1

    def contact_event(self, event: JSON) -> None:
        self.counts["contact_events"] += 1


# ---------------------------------------------------------------------------------------------- running
@dataclass(slots=True)
class _RunArgs:
    duration: float
    rate: float | None
    drain: bool
    console: Console
    quiet: bool
    extra: Callable[[], str] | None = None


def _drive(sim: Simulation, args: _RunArgs) -> float:
    """Run the simulation with a progress bar; returns the wall-clock seconds it took."""
    started = time.monotonic()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} simulated s"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=args.console,
        disable=args.quiet,
        transient=False,
    ) as progress:
        task = progress.add_task("simulating", total=args.duration, detail="")

        def report(p: SimProgress) -> None:
            detail = f"contacts {p.contacts} (done {p.completed}, queued {p.queued}), agents on {p.agents_logged_in}"
            if args.extra is not None:
                detail += f", {args.extra()}"
            progress.update(task, completed=p.sim_seconds, detail=detail)

        sim.run(args.duration, args.rate, report)
        if args.drain:
            progress.update(task, description="draining")
            sim.drain()
        tick_sink(sim.sink, sim.now_ms)
        flush_sink(sim.sink)
    return time.monotonic() - started


def _summary(sim: Simulation, seed: int, wall: float, counting: _Counting) -> RunSummary:
    contacts = sim.center.contacts.values()
    return RunSummary(
        seed=seed,
        sim_seconds=sim.elapsed,
        wall_seconds=wall,
        agents=len(counting.agents),
        contacts=len(sim.center.contacts),
        completed=sum(1 for c in contacts if c.done),
        emitted=counting.counts,
    )


def _print(console: Console, summary: RunSummary, as_json: bool, title: str) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_json(), sort_keys=False))
        return
    table = Table(
        title=title,
        caption=f"seed {summary.seed}: {summary.sim_seconds:.0f} simulated s in {summary.wall_seconds:.1f} s",
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in (("agents", summary.agents), ("contacts", summary.contacts), ("completed", summary.completed)):
        table.add_row(name, str(value))
    for name, value in sorted(summary.emitted.items()):
        table.add_row(f"emitted {name.replace('_', ' ')}", str(value))
    for name, value in summary.hub.items():
        table.add_row(f"hub {name}", json.dumps(value) if isinstance(value, dict) else str(value))
    for name, value in sorted(summary.events.items()):
        table.add_row(f"event {name}", str(value))
    console.print(table)


def _run_in_process(sim: Simulation, feed: HubFeed, seed: int, args: _RunArgs, counting: _Counting) -> RunSummary:
    wall = _drive(sim, args)
    summary = _summary(sim, seed, wall, counting)
    summary.hub = {"sessions": len(feed.hub), "contacts seen": len(feed.contacts)}
    summary.events = dict(sorted(feed.events.items()))
    return summary


def _run_persisted(config: SimulationConfig, seed: int, args: _RunArgs, workers: int, timeout: float) -> RunSummary:
    from hub.runtime import PipelineFeed  # noqa: PLC0415 - heavy; only with --persist
    from hub.runtime._local import LocalRuntime  # noqa: PLC0415

    counting = _Counting()
    with LocalRuntime({}, workers=workers) as runtime:
        assert runtime.pipeline is not None
        feed = PipelineFeed(runtime.pipeline.ingest)
        sim = Simulation(config, seed, FanoutSink(counting, feed))
        wall = _drive(sim, args)
        counts = runtime.wait_finished(timeout) if workers > 0 else runtime.counts()
    summary = _summary(sim, seed, wall, counting)
    summary.hub = {
        "agents": counts.agents,
        "contacts": counts.contacts,
        "events stored": counts.events,
        "deliveries": dict(sorted(counts.deliveries.items())),
        "dead letters": counts.dead_letters,
    }
    return summary


# ---------------------------------------------------------------------------------------------- options
def _on_command_line(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


def _flag(ctx: click.Context, name: str) -> str:
    for param in ctx.command.params:
        if param.name == name and isinstance(param, click.Option):
            return "/".join(param.opts)
    return name


def _check_usage(ctx: click.Context, p: dict[str, Any]) -> None:
    """Every combination of options that makes no sense is a usage error (exit code 2)."""

    def refuse(names: tuple[str, ...], why: str) -> None:
        given = [_flag(ctx, n) for n in names if _on_command_line(ctx, n)]
        if given:
            raise click.UsageError(f"{', '.join(given)} {why}", ctx)

    if p["emit"] is not None:
        if not p["agent"]:
            raise click.UsageError("--emit scenario needs --agent ID (an agent's username, resource id or index)", ctx)
        refuse(
            ("hub_url", "persist", "rate", "fast", "drain", "workers", "as_json", *_HTTP_OPTIONS),
            "cannot be used with --emit",
        )
        return
    refuse(("agent",), "only applies with --emit scenario")
    refuse(("output",), "only applies with --emit scenario (a run prints a summary)")
    if p["rate"] is not None and p["fast"]:
        raise click.UsageError("--rate and --fast are mutually exclusive", ctx)
    if p["hub_url"] is None:
        refuse(_HTTP_OPTIONS, "only applies with --hub-url")
    else:
        if p["persist"]:
            raise click.UsageError(
                "--persist drives the runtime in this process; it cannot be used with --hub-url", ctx
            )
        url = urlsplit(p["hub_url"])
        if url.scheme not in ("http", "https") or not url.netloc:
            raise click.BadParameter(f"{p['hub_url']!r} is not an http(s) URL", ctx, param_hint="--hub-url")
        if not p["firehose_access_key"]:
            raise click.UsageError(
                "--hub-url needs the Firehose access key: --firehose-access-key or HUB_INGEST__FIREHOSE__ACCESS_KEY",
                ctx,
            )
        if bool(p["eventbridge_username"]) != bool(p["eventbridge_password"]):
            raise click.UsageError("--eventbridge-username and --eventbridge-password go together", ctx)
    if not p["persist"]:
        refuse(("workers", "delivery_timeout"), "only applies with --persist")


def _bridge_tokens(
    ctx: click.Context, secret: str | None, pairs: tuple[str, ...]
) -> Callable[[str], str | None] | None:
    tokens: dict[str, str] = {}
    for pair in pairs:
        agent, sep, token = pair.partition("=")
        if not sep or not agent.strip() or not token.strip():
            raise click.BadParameter(f"{pair!r} is not AGENT=TOKEN", ctx, param_hint="--bridge-token")
        tokens[agent.strip()] = token.strip()
    if not secret and not tokens:
        return None
    minter = None
    if secret:
        import sqlalchemy as sa  # noqa: PLC0415

        from hub.ingest._credentials import MIN_SECRET_LENGTH, BridgeCredentials, BridgeSettings  # noqa: PLC0415

        if len(secret) < MIN_SECRET_LENGTH:
            raise click.BadParameter(
                f"must be at least {MIN_SECRET_LENGTH} characters", ctx, param_hint="--bridge-secret"
            )
        # minting only signs a JWT; the engine (revocations) is never used for it
        minter = BridgeCredentials(BridgeSettings(secret=secret), sa.create_engine("sqlite://"))

    def token_of(agent: str) -> str | None:
        if agent not in tokens and minter is not None:
            tokens[agent] = minter.mint(agent).token
        return tokens.get(agent)

    return token_of


@contextmanager
def _exit_on_delivery_errors(console: Console) -> Iterator[None]:
    try:
        yield
    except HubUnreachableError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except DeliveryError as exc:
        console.print(f"[red]error:[/] delivery failed: {exc}")
        sys.exit(1)


def _emit(agent: str, seed: int, duration: float, config: SimulationConfig, output: Path | None) -> None:
    try:
        scenario = emit_scenario(agent, seed, duration, config)
    except KeyError:
        known = ", ".join(username for _, username in list_agents(config))
        raise click.BadParameter(f"no simulated agent {agent!r}; agents: {known}", param_hint="--agent") from None
    text = json.dumps(scenario, indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------- command
@click.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: same seed, same run.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Simulated seconds.",
)
@click.option("--agents", type=click.IntRange(min=1, max=10_000), default=None, help="Number of agents (default 10).")
@click.option("--emit", type=click.Choice(["scenario"]), default=None, help="Write a scenario file instead of running.")
@click.option("--agent", default=None, help="With --emit scenario: the agent (username, resource id or index).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="With --emit: write here (default stdout).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Simulated seconds per wall second (1 = real time).",
)
@click.option("--fast", is_flag=True, help="As fast as possible (the default).")
@click.option(
    "--drain/--no-drain", default=True, show_default=True, help="Then stop arrivals and let open contacts finish."
)
@click.option(
    "--persist",
    is_flag=True,
    help="Drive the runtime (database, outbox, workers from the settings) instead of a bare Hub.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="With --persist: worker processes (0: none).",
)
@click.option(
    "--delivery-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="With --persist: seconds to wait for deliveries.",
)
@click.option("--hub-url", default=None, help="Send everything over HTTP to a running hub (connect-hub serve).")
@click.option(
    "--firehose-access-key",
    envvar="HUB_INGEST__FIREHOSE__ACCESS_KEY",
    default=None,
    help="X-Amz-Firehose-Access-Key [env HUB_INGEST__FIREHOSE__ACCESS_KEY].",
)
@click.option(
    "--eventbridge-api-key",
    envvar="HUB_INGEST__EVENTBRIDGE__API_KEY",
    default=None,
    help="EventBridge connection API key [env HUB_INGEST__EVENTBRIDGE__API_KEY].",
)
@click.option("--eventbridge-api-key-header", default="X-Api-Key", show_default=True, help="Header of the API key.")
@click.option(
    "--eventbridge-username",
    envvar="HUB_INGEST__EVENTBRIDGE__BASIC_USERNAME",
    default=None,
    help="EventBridge Basic auth user.",
)
@click.option(
    "--eventbridge-password",
    envvar="HUB_INGEST__EVENTBRIDGE__BASIC_PASSWORD",
    default=None,
    help="EventBridge Basic auth password.",
)
@click.option(
    "--bridge-secret",
    envvar="HUB_INGEST__BRIDGE__SECRET",
    default=None,
    help="Mint bridge tokens and send Streams agent data through the bridge.",
)
@click.option(
    "--bridge-token",
    "bridge_tokens",
    multiple=True,
    metavar="AGENT=TOKEN",
    help="A bridge token for one agent (its ARN); repeatable.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Records per Firehose delivery.",
)
@click.option(
    "--buffer-seconds",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Firehose buffering interval (simulated s).",
)
@click.option("--no-gzip", is_flag=True, help="Send Firehose bodies uncompressed.")
@click.option(
    "--retry-duration",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Give up a delivery after retrying this long (s).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.pass_context
def simulate(ctx: click.Context, /, **p: Any) -> None:
    """Run the seeded contact-center simulator: in process, into the runtime, or over HTTP to a hub.

    \b
    connect-hub simulate --emit scenario --agent agent01 --seed 7 > agent01.json
    connect-hub simulate --seed 7 --agents 20 --duration 3600 --fast
    connect-hub simulate --seed 7 --hub-url http://127.0.0.1:8080 --rate 60
    """
    _check_usage(ctx, p)
    console = Console(stderr=True)
    config = SimulationConfig() if p["agents"] is None else SimulationConfig(agents=p["agents"])
    seed: int = p["seed"]
    if p["emit"] is not None:
        _emit(p["agent"], seed, p["duration"], config, p["output"])
        return
    args = _RunArgs(p["duration"], p["rate"], p["drain"], console, p["quiet"] or p["as_json"])
    out = Console()
    if p["persist"]:
        summary = _run_persisted(config, seed, args, p["workers"], p["delivery_timeout"])
        _print(out, summary, p["as_json"], "Connect Hub simulate (persisted)")
        deliveries: dict[str, int] = summary.hub["deliveries"]
        if p["workers"] > 0 and sum(deliveries.values()) != deliveries.get("succeeded", 0):
            console.print("[red]not every delivery succeeded[/]")
            sys.exit(1)
        return
    if p["hub_url"] is None:
        holder: dict[str, Simulation] = {}

        def backend(key: str) -> SimulatedBackend:  # the simulator answers every session's actions
            return holder["sim"].backend(key)

        hub = Hub(backend_factory=backend)
        feed, counting = HubFeed(hub), _Counting()
        sim = holder["sim"] = Simulation(config, seed, FanoutSink(counting, feed))
        _print(out, _run_in_process(sim, feed, seed, args, counting), p["as_json"], "Connect Hub simulate")
        return
    basic = (p["eventbridge_username"], p["eventbridge_password"]) if p["eventbridge_username"] else None
    sink = HubHttpSink(
        p["hub_url"],
        firehose_access_key=p["firehose_access_key"],
        eventbridge_api_key=p["eventbridge_api_key"] or "",
        eventbridge_api_key_header=p["eventbridge_api_key_header"],
        eventbridge_basic=basic,
        bridge_tokens=_bridge_tokens(ctx, p["bridge_secret"], p["bridge_tokens"]),
        gzip_firehose=not p["no_gzip"],
        batch_size=p["batch_size"],
        buffer_seconds=p["buffer_seconds"],
        seed=seed,
        retry=RetryPolicy(duration=p["retry_duration"]),
    )
    counting = _Counting()
    args.extra = lambda: f"sent {sum(sink.stats.records.values())}, retries {sum(sink.stats.retries.values())}"
    with _exit_on_delivery_errors(console):
        try:
            endpoints = sink.connect()
            sim = Simulation(config, seed, FanoutSink(counting, sink))
            wall = _drive(sim, args)
        finally:
            sink.close()
    summary = _summary(sim, seed, wall, counting)
    stats = sink.stats
    summary.hub = {
        "url": sink.base_url,
        "paths": [endpoints.agent_events, endpoints.contact_records, endpoints.contact_events]
        + ([endpoints.bridge_agent_data] if endpoints.bridge_agent_data and sink.sends_agent_data else []),
        "requests": dict(sorted(stats.requests.items())),
        "delivered": dict(sorted(stats.records.items())),
        "retries": sum(stats.retries.values()),
        "dropped": dict(sorted(stats.dropped.items())),
    }
    _print(out, summary, p["as_json"], f"Connect Hub simulate -> {sink.base_url}")
    if stats.total_dropped:
        console.print(f"[red]the hub refused {stats.total_dropped} records or events for good[/]")
        sys.exit(1)
