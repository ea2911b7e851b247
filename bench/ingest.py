"""HTTP ingest throughput and latency on loopback, against a real ``connect-hub serve`` process.

Starts ``connect-hub serve`` on a free port (its own SQLite file, or ``--database-url``), then for each
scenario sends pre-built requests exactly as the sources do (Firehose HTTP endpoint delivery with the
access key; EventBridge API destination with an API key) from an httpx load generator with
``--concurrency`` requests in flight, and prints records/s, requests/s and p50 / p99 request latency.

Agent Event Stream records come from ``--agents`` agents each cycling through Available → offered
call → connected → after-call work → Available, so every record is a real state change for the
engine (the expensive case), with unique ``EventId`` values and increasing timestamps per agent.

Targets (issue 4): ≥ 5,000 AES records/s per hub process, p99 < 200 ms for a 500-record batch.
Bounded: each scenario stops after ``--seconds`` or its request budget, whichever comes first.

    .venv/bin/python bench/ingest.py                      # SQLite, concurrency 2
    .venv/bin/python bench/ingest.py --concurrency 1      # latency without queueing
    .venv/bin/python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ACCESS_KEY = "bench-access-key"
API_KEY = "bench-api-key"
INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/0f0e0d0c-0000-4000-8000-00000000aaaa"
QUEUE = {"ARN": f"{INSTANCE}/queue/q-sales", "Name": "Sales", "Channels": ["VOICE"]}
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CYCLE = ("Available", "CONNECTING", "CONNECTED", "ENDED")

Json = dict[str, Any]


def _ts(seconds: float) -> str:
    moment = EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _configuration(agent: int) -> Json:
    return {
        "FirstName": "Agent",
        "LastName": str(agent),
        "Username": f"agent{agent}",
        "AgentHierarchyGroups": None,
        "RoutingProfile": {
            "ARN": f"{INSTANCE}/routing-profile/rp-1",
            "Name": "Voice only",
            "Concurrency": [{"Channel": "VOICE", "AvailableSlots": 1, "MaximumSlots": 1}],
            "DefaultOutboundQueue": QUEUE,
            "InboundQueues": [QUEUE],
        },
    }


def aes_stream(agents: int) -> Iterator[Json]:
    """AES records, round-robin over ``agents`` agents, each cycling through a call."""
    step = 0
    while True:
        for agent in range(agents):
            at = step * 7.0 + agent * 0.001
            phase = CYCLE[step % len(CYCLE)]
            call = step // len(CYCLE)
            contacts = []
            if phase != "Available":
                contacts.append(
                    {
                        "ContactId": f"call-{agent}-{call}",
                        "InitialContactId": f"call-{agent}-{call}",
                        "Channel": "VOICE",
                        "InitiationMethod": "INBOUND",
                        "State": phase,
                        "StateStartTimestamp": _ts(at),
                        "ConnectedToAgentTimestamp": _ts(at) if phase == "CONNECTED" else None,
                        "QueueTimestamp": _ts(at - 3),
                        "Queue": QUEUE,
                    }
                )
            yield {
                "AWSAccountId": "111122223333",
                "AgentARN": f"{INSTANCE}/agent/bench-{agent:06d}",
                "EventId": str(uuid.uuid4()),
                "EventTimestamp": _ts(at),
                "EventType": "STATE_CHANGE",
                "InstanceARN": INSTANCE,
                "Version": "2019-05-25",
                "CurrentAgentSnapshot": {
                    "AgentStatus": {
                        "ARN": f"{INSTANCE}/agent-state/available",
                        "Name": "Available",
                        "StartTimestamp": _ts(0),
                        "Type": "ROUTABLE",
                    },
                    "Configuration": _configuration(agent),
                    "Contacts": contacts,
                },
            }
        step += 1


def ctr_stream() -> Iterator[Json]:
    """Contact records of distinct contacts."""
    n = 0
    while True:
        n += 1
        yield {
            "AWSAccountId": "111122223333",
            "InstanceARN": INSTANCE,
            "ContactId": f"ctr-{uuid.uuid4()}",
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "InitiationTimestamp": _ts(n),
            "DisconnectTimestamp": _ts(n + 300),
            "LastUpdateTimestamp": _ts(n + 400),
            "DisconnectReason": "CUSTOMER_DISCONNECT",
            "Queue": {"ARN": QUEUE["ARN"], "Name": "Sales", "Duration": 22},
            "Agent": {
                "ARN": f"{INSTANCE}/agent/bench-000001",
                "AgentInteractionDuration": 301,
                "CustomerHoldDuration": 4,
            },
            "Attributes": {"case": str(n)},
        }


def contact_event_stream() -> Iterator[Json]:
    """EventBridge contact events."""
    while True:
        yield {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Amazon Connect Contact Event",
            "source": "aws.connect",
            "account": "111122223333",
            "time": "2026-03-02T09:15:43Z",
            "region": "eu-west-2",
            "resources": [],
            "detail": {"eventType": "QUEUED", "contactId": f"ev-{uuid.uuid4()}", "channel": "VOICE"},
        }


@dataclass(frozen=True)
class Request:
    """One pre-built request."""

    path: str
    content: bytes
    headers: dict[str, str]
    records: int


def firehose_requests(path: str, stream: Iterator[Json], batch: int, count: int, compress: bool) -> list[Request]:
    """``count`` Firehose deliveries of ``batch`` records each."""
    out = []
    for _ in range(count):
        request_id = str(uuid.uuid4())
        records = [{"data": base64.b64encode(json.dumps(next(stream)).encode()).decode()} for _ in range(batch)]
        content = json.dumps(
            {"requestId": request_id, "timestamp": int(time.time() * 1000), "records": records}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Firehose-Protocol-Version": "1.0",
            "X-Amz-Firehose-Request-Id": request_id,
            "X-Amz-Firehose-Access-Key": ACCESS_KEY,
        }
        if compress:
            content = gzip.compress(content, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        out.append(Request(path, content, headers, batch))
    return out


def event_requests(count: int) -> list[Request]:
    """``count`` EventBridge API-destination calls."""
    stream = contact_event_stream()
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Api-Key": API_KEY}
    return [
        Request("/ingest/eventbridge/contact-events", json.dumps(next(stream)).encode(), headers, 1)
        for _ in range(count)
    ]


@dataclass
class Result:
    """Figures of one scenario."""

    name: str
    batch: int
    requests: int
    records: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    server_cpu_s: float = 0.0
    concurrency: int = 1

    def percentile(self, q: float) -> float:
        """The ``q`` quantile of the request latencies (nearest rank)."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


async def run(base: str, name: str, requests: list[Request], concurrency: int, max_seconds: float) -> Result:
    """Send ``requests`` with ``concurrency`` in flight; stop issuing after ``max_seconds``."""
    latencies: list[float] = []
    errors = 0
    done_records = 0
    queue = iter(requests)
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, done_records
        for request in queue:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            response = await client.post(request.path, content=request.content, headers=request.headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1
            else:
                done_records += request.records

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(name, requests[0].records, len(latencies), done_records, elapsed, latencies, errors)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(database_url: str, folder: Path, *, relay: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """``connect-hub serve`` on a free port; returns the process and its base URL once healthy."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_HTTP__PORT": str(port),
        "HUB_DATABASE__URL": database_url,
        "HUB_INGEST__FIREHOSE__ACCESS_KEY": ACCESS_KEY,
        "HUB_INGEST__EVENTBRIDGE__API_KEY": API_KEY,
    }
    cli = Path(sys.executable).with_name("connect-hub")
    log = (folder / "serve.log").open("wb")
    command = [str(cli), "serve", "--log-level", "warning", *([] if relay else ["--no-relay"])]
    process = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"connect-hub serve exited: {(folder / 'serve.log').read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("connect-hub serve did not become healthy")


def scenarios(
    agents: int, scale: float, compress: bool, concurrency: int, only: str | None = None
) -> list[tuple[str, int, list[Request]]]:
    """``(name, concurrency, requests)`` per scenario, built before any timing starts.

    ``only``: keep the scenarios whose endpoint name contains it (``agent-events``, ``contact``...).
    """
    aes = aes_stream(agents)
    ctr = ctr_stream()
    aes_path, ctr_path = "/ingest/firehose/agent-events", "/ingest/firehose/contact-records"

    def n(count: int) -> int:
        return max(10, int(count * scale))

    c = concurrency
    plan = [
        ("firehose agent-events", c, lambda: firehose_requests(aes_path, aes, 1, n(1500), compress)),
        ("firehose agent-events", c, lambda: firehose_requests(aes_path, aes, 100, n(200), compress)),
        ("firehose agent-events", c, lambda: firehose_requests(aes_path, aes, 500, n(60), compress)),
        # one batch at a time: the latency of a 500-record batch without queueing behind another (100
        # requests, so the p99 is not just the slowest of a handful)
        ("firehose agent-events", 1, lambda: firehose_requests(aes_path, aes, 500, n(100), compress)),
        ("firehose contact-records", c, lambda: firehose_requests(ctr_path, ctr, 1, n(1000), compress)),
        ("firehose contact-records", c, lambda: firehose_requests(ctr_path, ctr, 100, n(100), compress)),
        ("firehose contact-records", c, lambda: firehose_requests(ctr_path, ctr, 500, n(30), compress)),
        ("eventbridge contact-events", c, lambda: event_requests(n(1000))),
    ]
    return [(name, conc, build()) for name, conc, build in plan if only is None or only in name]


def main() -> None:
    """Parse the options, run every scenario against a fresh server, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (default 2)")
    parser.add_argument("--seconds", type=float, default=12.0, help="cap per scenario (default 12 s)")
    parser.add_argument("--agents", type=int, default=200, help="distinct agents in the AES stream (default 200)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the request budgets")
    parser.add_argument("--gzip", action="store_true", help="Firehose content encoding GZIP")
    parser.add_argument("--database-url", help="database to use (default: a fresh SQLite file)")
    parser.add_argument("--no-relay", action="store_true", help="serve without the outbox relay (ingest alone)")
    parser.add_argument("--only", help="run only the scenarios whose endpoint contains this (e.g. agent-events)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hub-bench-ingest-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        print(f"building requests ({args.agents} agents, gzip={args.gzip}) ...", flush=True)
        plan = scenarios(args.agents, args.scale, args.gzip, args.concurrency, args.only)
        process, base = start_server(url, folder, relay=not args.no_relay)
        relay = "off" if args.no_relay else "on"
        print(f"server: connect-hub serve at {base}, database {url.split('@')[-1]}, relay {relay}")
        print(f"load generator: httpx, {args.concurrency} requests in flight")
        results = []
        try:
            for name, concurrency, requests in plan:
                cpu_before = cpu_seconds(process.pid)
                r = asyncio.run(run(base, name, requests, concurrency, args.seconds))
                r.concurrency = concurrency
                r.server_cpu_s = cpu_seconds(process.pid) - cpu_before
                results.append(r)
                print(f"  done {r.name} x{r.batch} c{concurrency}: {r.records / r.seconds:,.0f} records/s", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    header = (
        f"{'endpoint':<28}{'batch':>6}{'conc':>5}{'requests':>10}{'records':>9}{'s':>7}{'records/s':>11}{'req/s':>8}"
    )
    print()
    print(header + f"{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'rec/server-CPU-s':>18}")
    for r in results:
        print(
            f"{r.name:<28}{r.batch:>6}{r.concurrency:>5}{r.requests:>10}{r.records:>9}{r.seconds:>7.1f}"
            f"{r.records / r.seconds:>11,.0f}{r.requests / r.seconds:>8.0f}"
            f"{r.percentile(0.5):>9.1f}{r.percentile(0.99):>9.1f}{r.errors:>8}"
            f"{r.records / r.server_cpu_s if r.server_cpu_s else float('nan'):>18,.0f}"
        )
    aes = [r for r in results if r.name.endswith("agent-events")]
    best = max(r.records / r.seconds for r in aes)
    p99_500 = next(r.percentile(0.99) for r in aes if r.batch == 500 and r.concurrency == 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nhost: {os.cpu_count()} CPUs, load average {load:.1f} at the end (server and load generator share them)")
    print("rec/server-CPU-s: records per second of CPU the hub process used, independent of contention")
    print(f"target >= 5,000 AES records/s per hub process: {best:,.0f} -> {'met' if best >= 5000 else 'NOT met'}")
    per_cpu = max((r.records / r.server_cpu_s for r in aes if r.server_cpu_s), default=float("nan"))
    print(f"  AES records per second of hub CPU (best scenario, contention-independent): {per_cpu:,.0f}")
    verdict = "met" if p99_500 < 200 else "NOT met"
    print(f"target p99 < 200 ms for a 500-record batch (one in flight): {p99_500:.1f} ms -> {verdict}")
    if any(r.errors for r in results):
        raise SystemExit("some requests failed (see the errors column)")


if __name__ == "__main__":
    main()
