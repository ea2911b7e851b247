"""``connect-hub demo``: the whole hub on embedded defaults, fed by the contact-center simulator.

SQLite in a folder (a temporary one unless ``--var-dir``), the embedded broker (``hubfs://``, no
server), the pipeline and the relay in this process, one ``connect-hub worker`` subprocess and the
example plugin. By default a seeded simulated contact center (``hub.simulator``) runs as fast as
possible: its Streams agent data goes through the pipeline, and its contact records and EventBridge
contact events through the HTTP ingest's store (:class:`hub.ingest.DatabaseSink`, on the same
database), then the outbox, the relay and the worker to the plugin; ``--scenarios`` feeds the bundled
scenario files instead. Exit code 0 only when every input was taken and every delivery succeeded.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import click
import msgspec
import sqlalchemy as sa
from click.core import ParameterSource
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.db import session_scope
from hub.db._models import CONTACTS, EVENTS
from hub.hookspecs import CONTACT_EVENT, CONTACT_RECORD_EVENT
from hub.ingest import ContactRecordInput, DatabaseSink, IngestResult
from hub.runtime import AgentInput, Pipeline, PipelineFeed, scenario_inputs
from hub.runtime._local import LocalRuntime
from hub.simulator import Progress as SimProgress
from hub.simulator import Simulation, SimulationConfig
from hub.sources.contact_events import decode_contact_event
from hub.sources.contact_records import decode_contact_record
from hub.sources.errors import SourceError, SourceUnavailableError

__all__ = ["DemoResult", "demo"]

#: How many event names the summary lists.
TOP_EVENTS = 5
#: A contact row with a stored contact record whose data it holds (its disconnect reason, at least).
_CONTACT_RECORD_DATA = sa.and_(
    CONTACTS.c.disconnect_reason.is_not(None),
    sa.exists().where(EVENTS.c.name == CONTACT_RECORD_EVENT, EVENTS.c.contact_id == CONTACTS.c.contact_id),
)
#: Attempts at storing contact data while the store is unavailable (a real source retries too).
_STORE_ATTEMPTS = 4
#: Seconds before the first retry; doubled each time.
_STORE_BACKOFF = 0.25
#: Seconds between two looks at the delivery counts while the simulation runs.
_POLL_WHILE_SIMULATING = 0.25
#: Seconds between two looks at the delivery counts while waiting for the worker.
_POLL_WHILE_WAITING = 0.1


@dataclass(slots=True)
class DemoResult:
    """What a demo run did, for the summary table."""

    title: str
    #: One line printed under the table (what was fed, how long it took).
    note: str
    agents: int = 0
    contacts: int = 0
    #: Contact rows completed by a contact record (queue, durations, disconnect reason...).
    contacts_with_record: int = 0
    events: int = 0
    #: Stored ``hub::contact_record`` / ``hub::contact_event`` events.
    contact_records: int = 0
    contact_events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    top_events: list[tuple[str, int]] = field(default_factory=list)
    #: Agent inputs the pipeline refused (malformed agent data).
    rejected: int = 0
    #: Whether contact records and contact events were fed (the simulator; not the scenario files).
    contact_data: bool = False
    #: Contact records and contact events the store refused.
    contact_rejected: int = 0

    @property
    def complete(self) -> bool:
        """Whether every input was taken, there were deliveries and every one succeeded."""
        total = sum(self.deliveries.values())
        taken = self.rejected == 0 and self.contact_rejected == 0
        return taken and total > 0 and self.deliveries.get("succeeded", 0) == total


class _CheckedIngest:
    """:meth:`hub.runtime.Pipeline.ingest` that counts the inputs the pipeline refused."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.rejected = 0
        self.first_error: str | None = None

    def __call__(self, items: list[AgentInput]) -> None:
        """Ingest one batch (one transaction)."""
        result = self.pipeline.ingest(items)
        if result.errors:
            self.rejected += len(result.errors)
            self.first_error = self.first_error or result.errors[0][1]


class _DemoSink:
    """The simulator's sink (:class:`hub.simulator.Sink`) in the demo: everything a deployment receives.

    Streams agent data goes to the pipeline (:class:`~hub.runtime.PipelineFeed`); contact records and
    EventBridge contact events go to the HTTP ingest's store (:class:`~hub.ingest.DatabaseSink`, on the
    same database), each encoded to JSON and decoded by the sources' decoders. At each
    simulated tick: the agent data (one pipeline batch), then the contact records (one call, like one
    Firehose delivery), then each contact event (one call each, like EventBridge), then the relay is
    woken. Agent Event Stream records are not fed: the Streams agent data already describes the agents.
    """

    def __init__(self, feed: PipelineFeed, store: DatabaseSink, notify: Callable[[], None]) -> None:
        """Feed agent data to ``feed``, contact data to ``store``; call ``notify`` after storing contact data."""
        self.feed = feed
        self.store = store
        self.notify = notify
        self._records: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        #: Contact records and contact events stored (accepted by the store).
        self.records = 0
        self.events = 0
        #: Contact records and contact events refused (malformed, or the store failed).
        self.rejected = 0
        self.first_error: str | None = None

    def agent_data(self, agent_id: str, data: dict[str, Any]) -> None:
        """Buffer Streams agent data in the pipeline feed, keyed by the agent's ARN.

        The ARN is the key the browser bridge and the Agent Event Stream use, and the agent a contact
        record or contact event names, so contact rows and agent rows agree whichever source wrote last.
        """
        arn = (data.get("configuration") or {}).get("agentARN")
        self.feed.agent_data(arn if isinstance(arn, str) and arn else agent_id, data)

    def agent_event(self, record: dict[str, Any]) -> None:
        """Not fed (see the class docstring)."""

    def contact_record(self, ctr: dict[str, Any]) -> None:
        """Buffer a contact record until the tick ends."""
        self._records.append(ctr)

    def contact_event(self, event: dict[str, Any]) -> None:
        """Buffer a contact event until the tick ends."""
        self._events.append(event)

    def tick(self, now_ms: int) -> None:
        """The simulated clock moved on: store what the last tick produced."""
        self.flush()

    def flush(self) -> None:
        """Store the buffered agent data, contact records and contact events, in that order."""
        self.feed.flush()
        records, self._records = self._records, []
        events, self._events = self._events, []
        inputs: list[ContactRecordInput] = []
        for ctr in records:
            body = msgspec.json.encode(ctr)
            try:
                inputs.append(ContactRecordInput(record=decode_contact_record(body), raw=msgspec.json.decode(body)))
            except SourceError as exc:
                self._refused(1, f"contact record: {exc.reason}")
        if inputs:
            try:
                self.records += _stored(partial(self.store.ingest_contact_records, None, inputs)).accepted
            except SourceError as exc:
                self._refused(len(inputs), f"contact records: {exc.reason}")
        for event in events:
            body = msgspec.json.encode(event)
            try:
                decoded, raw = decode_contact_event(body), msgspec.json.decode(body)
                self.events += _stored(partial(self.store.ingest_contact_event, decoded, raw)).accepted
            except SourceError as exc:
                self._refused(1, f"contact event: {exc.reason}")
        if records or events:
            self.notify()

    def _refused(self, count: int, why: str) -> None:
        self.rejected += count
        self.first_error = self.first_error or why


def _stored(call: Callable[[], IngestResult]) -> IngestResult:
    """``call()``, retried with backoff while the store is unavailable, as Firehose and EventBridge retry a 503.

    Safe: a failed store call wrote nothing, and a stored one is never stored twice (dedupe keys).
    """
    for attempt in range(_STORE_ATTEMPTS - 1):
        try:
            return call()
        except SourceUnavailableError:
            time.sleep(_STORE_BACKOFF * 2**attempt)  # backing off before a retry, as the real sources do
    return call()


def _bundled() -> dict[str, Any]:
    folder = resources.files("hub").joinpath("scenarios")
    found: dict[str, Any] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            found[entry.name[:-5]] = json.loads(entry.read_text(encoding="utf-8"))
    return found


def _summary(result: DemoResult) -> Table:
    table = Table(title=result.title)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("agents", str(result.agents))
    table.add_row("contacts", str(result.contacts))
    if result.contact_data:
        table.add_row("contacts with a contact record", str(result.contacts_with_record))
    table.add_row("events stored", str(result.events))
    if result.contact_data:
        table.add_row("contact records", str(result.contact_records))
        table.add_row("contact events", str(result.contact_events))
    for status in ("succeeded", "dead", "pending", "queued", "running", "retrying"):
        if result.deliveries.get(status) or status in ("succeeded", "dead"):
            table.add_row(f"deliveries {status}", str(result.deliveries.get(status, 0)))
    table.add_row("dead letters open", str(result.dead_letters))
    if result.rejected:
        table.add_row("agent inputs rejected", str(result.rejected))
    if result.contact_rejected:
        table.add_row("contact inputs rejected", str(result.contact_rejected))
    for name, count in result.top_events:
        table.add_row(f"event {name}", str(count))
    return table


def _top_events(runtime: LocalRuntime) -> list[tuple[str, int]]:
    """The most frequent stored event names, most frequent first."""
    assert runtime.engine is not None
    count = sa.func.count().label("n")
    query = sa.select(EVENTS.c.name, count).group_by(EVENTS.c.name).order_by(count.desc(), EVENTS.c.name)
    with session_scope(runtime.engine, write=False) as db:
        return [(str(name), int(n)) for name, n in db.execute(query.limit(TOP_EVENTS))]


def _refuse(ctx: click.Context, names: tuple[str, ...], why: str) -> None:
    """A usage error (exit code 2) naming the options of ``names`` given on the command line."""
    given = [
        "/".join(param.opts)
        for param in ctx.command.params
        if param.name in names and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE
    ]
    if given:
        raise click.UsageError(f"{', '.join(given)} {why}", ctx)


@click.command()
@click.option("--seed", type=int, default=1, show_default=True, help="Simulator seed: same seed, same contact center.")
@click.option("--agents", type=click.IntRange(1, 200), default=10, show_default=True, help="Simulated agents.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    help="Simulated seconds of arrivals (then open contacts finish).",
)
@click.option("--scenarios", "use_scenarios", is_flag=True, help="Feed the bundled scenario files instead.")
@click.option("--scenario", "names", multiple=True, help="With --scenarios: bundled scenario(s) to run (default all).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True, help="With --scenarios: N times.")
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Keep the data here.")
@click.option("--timeout", type=float, default=45.0, show_default=True, help="Seconds to wait for the deliveries.")
@click.pass_context
def demo(
    ctx: click.Context,
    /,
    *,
    seed: int,
    agents: int,
    duration: float,
    use_scenarios: bool,
    names: tuple[str, ...],
    repeat: int,
    var_dir: Path | None,
    timeout: float,
) -> None:
    """Run the hub, a worker and the example plugin on a simulated contact center, no servers needed.

    \b
    connect-hub demo                                  # 10 agents, 30 simulated minutes, seed 1
    connect-hub demo --seed 7 --agents 20 --duration 3600
    connect-hub demo --scenarios --scenario inbound_voice
    """
    if use_scenarios:
        _refuse(ctx, ("seed", "agents", "duration"), "only applies to the simulator (not with --scenarios)")
    else:
        _refuse(ctx, ("names", "repeat"), "only applies with --scenarios")
    scenarios: dict[str, Any] = {}
    if use_scenarios:
        scenarios = _bundled()
        if names:
            unknown = sorted(set(names) - scenarios.keys())
            if unknown:
                raise click.BadParameter(f"unknown scenario(s) {unknown}; bundled: {sorted(scenarios)}")
            scenarios = {n: scenarios[n] for n in names}
    console = Console()
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
        what = "bundled scenarios" if use_scenarios else f"a simulated contact center (seed {seed})"
        console.print(f"[bold]Connect Hub demo[/] on {what} - data in {folder} (SQLite + embedded broker, no servers)")
        started = time.monotonic()
        try:
            with LocalRuntime(env, workers=1, concurrency=2) as runtime:
                assert runtime.pipeline is not None
                ingest = _CheckedIngest(runtime.pipeline)
                sink: _DemoSink | None = None
                if use_scenarios:
                    note = _run_scenarios(console, runtime, ingest, scenarios=scenarios, repeat=repeat, timeout=timeout)
                    title = f"Connect Hub demo: {len(scenarios) * repeat} scenarios"
                else:
                    note, sink = _run_simulation(
                        console, runtime, ingest, seed=seed, agents=agents, duration=duration, timeout=timeout
                    )
                    title = f"Connect Hub demo: {agents} simulated agents"
                note += f"; {time.monotonic() - started:.1f} s from the hub's start to the summary"
                result = _result(runtime, title, note)
                result.rejected = ingest.rejected
                if sink is not None:
                    result.contact_data = True
                    result.contact_rejected = sink.rejected
        except RuntimeError as exc:  # a worker process died
            console.print(f"[red]error:[/] {exc}")
            sys.exit(1)
        console.print(_summary(result))
        console.print(result.note)
        if var_dir is not None:
            console.print(f"example plugin output: {folder / 'example-plugin.log'}")
    if ingest.first_error is not None:
        console.print(f"[red]the pipeline refused {ingest.rejected} agent input(s)[/], the first: {ingest.first_error}")
    if sink is not None and sink.first_error is not None:
        console.print(f"[red]the store refused {sink.rejected} contact input(s)[/], the first: {sink.first_error}")
    if not result.complete:
        console.print("[red]not every delivery succeeded[/]")
        sys.exit(1)


def _contact_counts(runtime: LocalRuntime) -> tuple[int, int, int]:
    """Stored contact records and contact events, and the contact rows a contact record completed."""
    assert runtime.engine is not None
    by_name = sa.select(EVENTS.c.name, sa.func.count()).where(EVENTS.c.name.in_((CONTACT_RECORD_EVENT, CONTACT_EVENT)))
    completed = sa.select(sa.func.count()).select_from(CONTACTS).where(_CONTACT_RECORD_DATA)
    with session_scope(runtime.engine, write=False) as db:
        named = {str(name): int(n) for name, n in db.execute(by_name.group_by(EVENTS.c.name))}
        rows = int(db.execute(completed).scalar_one())
    return named.get(CONTACT_RECORD_EVENT, 0), named.get(CONTACT_EVENT, 0), rows


def _result(runtime: LocalRuntime, title: str, note: str) -> DemoResult:
    counts = runtime.counts()
    records, events, with_record = _contact_counts(runtime)
    return DemoResult(
        title=title,
        note=note,
        agents=counts.agents,
        contacts=counts.contacts,
        contacts_with_record=with_record,
        events=counts.events,
        contact_records=records,
        contact_events=events,
        deliveries=dict(counts.deliveries),
        dead_letters=counts.dead_letters,
        top_events=_top_events(runtime),
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    )


class _Deliveries:
    """The ``deliveries done`` line of the progress display, refreshed from the database."""

    def __init__(self, runtime: LocalRuntime, progress: Progress) -> None:
        self.runtime = runtime
        self.progress = progress
        self.task: TaskID = progress.add_task("deliveries done", total=None, detail="")
        self.looked_at = 0.0

    def refresh(self) -> bool:
        """Show the current counts; returns whether every delivery is finished (succeeded or dead)."""
        counts = self.runtime.counts()
        self.looked_at = time.monotonic()
        detail = f"{counts.finished}/{counts.total_deliveries}"
        if counts.deliveries.get("dead"):
            detail += f" ({counts.deliveries['dead']} dead)"
        self.progress.update(self.task, total=counts.total_deliveries or None, completed=counts.finished, detail=detail)
        finished: bool = counts.finished == counts.total_deliveries
        return finished

    def wait(self, timeout: float) -> None:
        """Poll until every delivery is finished or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while not self.refresh() and time.monotonic() < deadline:
            self.runtime.check_workers()
            time.sleep(_POLL_WHILE_WAITING)  # polling the database for the worker's progress


def _run_simulation(
    console: Console,
    runtime: LocalRuntime,
    ingest: _CheckedIngest,
    *,
    seed: int,
    agents: int,
    duration: float,
    timeout: float,
) -> tuple[str, _DemoSink]:
    """Run the simulated center into the hub, then wait for the deliveries; returns the note and the sink.

    Streams agent data goes into the pipeline, contact records and contact events into the ingest store
    (:class:`_DemoSink`).
    """
    assert runtime.engine is not None
    assert runtime.relay is not None
    feed = PipelineFeed(ingest)
    sink = _DemoSink(feed, DatabaseSink(runtime.engine, hooks=runtime.plugins), runtime.relay.notify)
    sim = Simulation(SimulationConfig(agents=agents), seed, sink)
    sim_started = time.monotonic()
    with _progress(console) as progress:
        clock = progress.add_task("simulated time", total=duration, detail="")
        contact_data = progress.add_task("contact data", total=None, detail="")
        deliveries = _Deliveries(runtime, progress)

        def show_contact_data() -> None:
            detail = f"{sink.records} contact records, {sink.events} contact events"
            progress.update(contact_data, detail=detail + (f" ({sink.rejected} refused)" if sink.rejected else ""))

        def report(p: SimProgress) -> None:
            detail = f"{p.sim_seconds:.0f}/{duration:.0f} s, contacts {p.contacts} (done {p.completed})"
            progress.update(clock, completed=min(p.sim_seconds, duration), detail=detail)
            show_contact_data()
            if time.monotonic() - deliveries.looked_at >= _POLL_WHILE_SIMULATING:
                deliveries.refresh()

        sim.run(duration, None, report)
        progress.update(clock, description="open contacts end")
        sim.drain()
        sink.flush()
        done = sum(1 for c in sim.center.contacts.values() if c.done)
        progress.update(
            clock,
            description="simulated time",
            detail=f"{sim.elapsed:.0f} s, contacts {len(sim.center.contacts)} (done {done})",
        )
        show_contact_data()
        progress.update(contact_data, total=1, completed=1)  # everything is stored: stop its clock
        sim_wall = time.monotonic() - sim_started
        deliveries.wait(timeout)
    note = (
        f"seed {seed}: {duration / 60:g} simulated min of arrivals and {(sim.elapsed - duration) / 60:.0f} more "
        f"until the last contact ended ({len(sim.center.contacts)} contacts, {feed.ingested} agent data items, "
        f"{sink.records} contact records, {sink.events} contact events) simulated and stored in {sim_wall:.1f} s"
    )
    return note, sink


def _run_scenarios(
    console: Console,
    runtime: LocalRuntime,
    ingest: _CheckedIngest,
    *,
    scenarios: dict[str, Any],
    repeat: int,
    timeout: float,
) -> str:
    """Feed the bundled scenarios (one agent each), then wait for the deliveries; returns the note."""
    with _progress(console) as progress:
        total = len(scenarios) * repeat
        feed = progress.add_task("scenarios fed", total=total, detail="")
        deliveries = _Deliveries(runtime, progress)
        fed = 0
        for round_ in range(repeat):
            for name, scenario in scenarios.items():
                key = name if repeat == 1 else f"{name}-{round_}"
                ingest(scenario_inputs(key, scenario, source="demo"))
                fed += 1
                progress.update(feed, completed=fed, detail=f"{fed}/{total}")
        deliveries.wait(timeout)
    return f"scenarios {', '.join(scenarios)}" + (f", {repeat} times each" if repeat > 1 else "")
