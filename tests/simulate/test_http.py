"""``connect-hub simulate --hub-url``: a real ``connect-hub serve`` on a free loopback port with SQLite
stores what the simulator produced, and a second delivery of the same envelopes duplicates nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from hub.cli import main
from hub.simulator import CollectingSink, FanoutSink, Simulation, SimulationConfig
from hub.simulator.http_sink import HubHttpSink

CLI = Path(sys.executable).with_name("connect-hub")
FIREHOSE_KEY = "simulate-test-firehose-key"
EVENTBRIDGE_KEY = "simulate-test-eventbridge-key"
BRIDGE_SECRET = "simulate-test-bridge-secret-0123456789abcdef"
SEED, AGENTS, DURATION = 9, 4, "1200"


@dataclass
class Served:
    """A running hub: its base URL and its database."""

    base: str
    engine: sa.Engine


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``connect-hub serve`` configured by environment variables only, until the module is done."""
    folder = tmp_path_factory.mktemp("served")
    port, database = free_port(), folder / "hub.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_HTTP__HOST": "127.0.0.1",
        "HUB_HTTP__PORT": str(port),
        "HUB_DATABASE__URL": f"sqlite:///{database}",
        "HUB_INGEST__FIREHOSE__ACCESS_KEY": FIREHOSE_KEY,
        "HUB_INGEST__EVENTBRIDGE__API_KEY": EVENTBRIDGE_KEY,
        "HUB_INGEST__BRIDGE__SECRET": BRIDGE_SECRET,
    }
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen([str(CLI), "serve"], env=env, cwd=folder, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        engine = sa.create_engine(f"sqlite:///{database}", poolclass=sa.NullPool)
        try:
            deadline = time.monotonic() + 40
            while True:
                assert process.poll() is None, (folder / "serve.log").read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "connect-hub serve did not become healthy"
                time.sleep(0.05)  # readiness polling, not synchronisation between test steps
            yield Served(base, engine)
        finally:
            process.terminate()
            process.wait(20)
            engine.dispose()


def reference() -> tuple[Simulation, CollectingSink]:
    """The CLI's run, straight through the library (same seed: same output)."""
    sink = CollectingSink()
    sim = Simulation(SimulationConfig(agents=AGENTS), SEED, sink)
    sim.run(float(DURATION))
    sim.drain()
    return sim, sink


def snapshot_of(engine: sa.Engine) -> dict[str, object]:
    """Row counts and keys that a duplicate would change."""
    with engine.connect() as db:
        receipts = dict(db.execute(sa.text("SELECT source, COUNT(*) FROM ingest_receipts GROUP BY source")).all())
        return {
            "contacts": sorted(db.execute(sa.text("SELECT contact_id FROM contacts")).scalars()),
            "agents": sorted(db.execute(sa.text("SELECT key FROM agents")).scalars()),
            "events": db.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one(),
            "state_history": db.execute(sa.text("SELECT COUNT(*) FROM agent_state_history")).scalar_one(),
            "deliveries": db.execute(sa.text("SELECT COUNT(*) FROM deliveries")).scalar_one(),
            "receipts": receipts,
        }


def test_hub_stores_the_simulation_and_redelivery_duplicates_nothing(served: Served) -> None:
    args = ["simulate", "--seed", str(SEED), "--agents", str(AGENTS), "--duration", DURATION, "--json"]
    args += ["--hub-url", served.base, "--batch-size", "40", "--buffer-seconds", "30"]
    env = {
        "HUB_INGEST__FIREHOSE__ACCESS_KEY": FIREHOSE_KEY,
        "HUB_INGEST__EVENTBRIDGE__API_KEY": EVENTBRIDGE_KEY,
        "HUB_INGEST__BRIDGE__SECRET": BRIDGE_SECRET,
    }
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sim, sink = reference()
    ctr_ids = {ctr["ContactId"] for ctr in sink.contact_records}
    arns = {data["configuration"]["agentARN"] for _, data in sink.agent_data_items}
    assert len(ctr_ids) == len(sim.center.contacts) > 10 and len(arns) == AGENTS

    stored = snapshot_of(served.engine)
    assert stored["contacts"] == sorted(ctr_ids)
    assert stored["agents"] == sorted(arns)
    assert isinstance(stored["events"], int) and stored["events"] > 0
    receipts = stored["receipts"]
    assert isinstance(receipts, dict)
    assert receipts["aes"] == len({r["EventId"] for r in sink.agent_events}) == len(sink.agent_events)
    assert receipts["ctr"] == len(sink.contact_records)
    assert receipts["eventbridge"] == len(sink.contact_events)
    assert receipts["bridge"] == len(sink.agent_data_items)
    with served.engine.connect() as db:
        rows = {r.contact_id: r for r in db.execute(sa.text("SELECT contact_id, channel, agent_key FROM contacts"))}
    for ctr in sink.contact_records:
        row = rows[ctr["ContactId"]]
        assert row.channel == ctr["Channel"]
        if ctr.get("Agent"):
            assert row.agent_key == ctr["Agent"]["ARN"]

    # the same run again: identical envelopes (same requestIds, EventIds, event ids), all duplicates
    again = HubHttpSink(
        served.base,
        firehose_access_key=FIREHOSE_KEY,
        eventbridge_api_key=EVENTBRIDGE_KEY,
        batch_size=40,
        buffer_seconds=30,
        seed=SEED,
        keep_envelopes=True,
    )
    try:
        again.connect()
        rerun = Simulation(SimulationConfig(agents=AGENTS), SEED, FanoutSink(CollectingSink(), again))
        rerun.run(float(DURATION))
        rerun.drain()
        again.flush()
        assert again.stats.duplicates["contact-events"] == len(sink.contact_events)
        assert receipts["firehose"] == sum(1 for kind, _ in again.sent if kind != "contact-events")
        assert snapshot_of(served.engine) == stored

        # and each kept envelope delivered once more, as a source's retry would
        for kind, body in list(again.sent):
            if kind == "contact-events":
                again.deliver_contact_event(body)
            else:
                again.deliver_firehose("agent-events" if kind == "agent-events" else "contact-records", body)
        assert again.stats.total_dropped == 0 and sum(again.stats.retries.values()) == 0
    finally:
        again.close()
    assert snapshot_of(served.engine) == stored
