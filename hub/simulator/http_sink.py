"""Driving a running hub over HTTP with exactly what the real sources send.

:class:`HubHttpSink` is a :class:`~hub.simulator.sinks.Sink` that delivers the simulator's output the way
Amazon Connect and the agent's browser deliver it:

* Agent Event Stream records and contact records as **Firehose HTTP endpoint deliveries**: batched
  envelopes (:class:`~hub.simulator.firehose.FirehoseBatchingSink`), gzip, the Firehose headers
  (``X-Amz-Firehose-Request-Id``, ``-Access-Key``, ``-Protocol-Version``, ``-Source-Arn``) and Firehose's
  retry contract: only a 200 whose body echoes the ``requestId`` with a numeric ``timestamp`` is a
  success; 413 drops the batch for good; anything else (and a connection failure) is retried with the
  same request id, exponential backoff from 1 s (x2, +-15 % jitter, at most 2 min) for up to the retry
  duration, which counts waiting time only;
* contact events as an **EventBridge API destination** does: one POST per event with the connection's
  API-key header or HTTP Basic credentials; 429 and 5xx (and connection failures) are retried with
  backoff, honouring ``Retry-After``; any other 4xx drops the event;
* optionally Streams agent data as the **browser bridge** script does: per-agent ordered items
  ``{seq, key, agentData}`` with the agent's bearer token, retried on 429 / 5xx.

The paths come from the hub's ``/openapi.json`` (:meth:`HubHttpSink.connect`), so the sink follows the
hub rather than hard-coding it. Failures that outlive the retry policy raise :class:`DeliveryError`.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub.simulator.firehose import FirehoseBatchingSink, FirehoseStream

__all__ = [
    "BridgeTokens",
    "DeliveryError",
    "DeliveryStats",
    "HubEndpoints",
    "HubHttpSink",
    "HubUnreachableError",
    "RetryPolicy",
]

_log = logging.getLogger("connect_hub.simulate")

JSON = dict[str, Any]
#: Returns the bridge bearer token of an agent (its agent ARN), or ``None`` to not send its agent data.
BridgeTokens = Callable[[str], str | None]
_SOURCE_ARN = "arn:aws:firehose:us-west-2:123456789012:deliverystream/connect-hub-simulator-{stream}"
_BRIDGE_BATCH = 50


class HubUnreachableError(Exception):
    """The hub does not answer (connection refused, timeout) or is not a Connect Hub."""


class DeliveryError(Exception):
    """A delivery failed for longer than the retry policy allows."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff between attempts: ``initial`` s, times ``multiplier``, at most ``max_interval``, +-``jitter``.

    ``duration`` bounds the total waiting time after the first failed attempt (Firehose's retry
    duration; 0 means no retry).
    """

    initial: float = 1.0
    multiplier: float = 2.0
    max_interval: float = 120.0
    jitter: float = 0.15
    duration: float = 300.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        base = min(self.max_interval, self.initial * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True, slots=True)
class HubEndpoints:
    """The ingest paths of a hub, as its ``/openapi.json`` lists them."""

    agent_events: str
    contact_records: str
    contact_events: str
    bridge_agent_data: str | None = None

    @classmethod
    def from_openapi(cls, spec: Mapping[str, Any]) -> HubEndpoints:
        """Pick the paths out of an OpenAPI document.

        :raises HubUnreachableError: a Firehose or EventBridge path is missing (not a Connect Hub).
        """
        posts = [path for path, ops in spec.get("paths", {}).items() if isinstance(ops, dict) and "post" in ops]

        def find(*parts: str) -> str | None:
            return next((p for p in posts if all(part in p for part in parts)), None)

        agent_events = find("firehose", "agent-events")
        contact_records = find("firehose", "contact-records")
        contact_events = find("eventbridge", "contact-events")
        if agent_events is None or contact_records is None or contact_events is None:
            raise HubUnreachableError("the server's /openapi.json lists no Firehose / EventBridge ingest paths")
        return cls(agent_events, contact_records, contact_events, find("bridge", "agent-data"))


@dataclass(slots=True)
class DeliveryStats:
    """What was sent and how the hub answered."""

    requests: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)

    @property
    def total_dropped(self) -> int:
        """Records or events the hub refused for good (413 to Firehose, 4xx to EventBridge or the bridge)."""
        return sum(self.dropped.values())


class HubHttpSink:
    """A simulator sink that posts everything to a running hub at ``base_url`` (see the module doc).

    :param firehose_access_key: sent as ``X-Amz-Firehose-Access-Key``.
    :param eventbridge_api_key: the API destination connection's key, in ``eventbridge_api_key_header``.
    :param eventbridge_basic: ``(username, password)`` of a Basic-auth connection.
    :param bridge_tokens: the bridge token of an agent; ``None`` sends no Streams agent data.
    :param keep_envelopes: keep every delivered Firehose envelope and contact event in :attr:`sent`
        (to deliver them again, as a source's redelivery would).
    :param client: an ``httpx.Client`` to use (default: one of its own, closed by :meth:`close`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        firehose_access_key: str,
        eventbridge_api_key: str = "",
        eventbridge_api_key_header: str = "X-Api-Key",
        eventbridge_basic: tuple[str, str] | None = None,
        bridge_tokens: BridgeTokens | None = None,
        gzip_firehose: bool = True,
        batch_size: int = 500,
        buffer_seconds: float = 60.0,
        seed: int = 0,
        retry: RetryPolicy | None = None,
        timeout: float = 180.0,
        keep_envelopes: bool = False,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create the sink; call :meth:`connect` before the simulation runs."""
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._own_client = client is None
        self._access_key = firehose_access_key
        self._eb_headers: dict[str, str] = {}
        if eventbridge_api_key:
            self._eb_headers[eventbridge_api_key_header] = eventbridge_api_key
        self._eb_auth = httpx.BasicAuth(*eventbridge_basic) if eventbridge_basic else None
        self._bridge_tokens = bridge_tokens
        self._gzip = gzip_firehose
        self._retry = retry or RetryPolicy()
        self._rng = random.Random(f"http-sink:{seed}")
        self._sleep = sleep
        self._keep = keep_envelopes
        self.sent: list[tuple[str, JSON]] = []
        self.stats = DeliveryStats()
        self.endpoints: HubEndpoints | None = None
        self._bridge_seq: dict[str, int] = {}
        self._bridge_pending: dict[str, list[JSON]] = {}
        self._batcher = FirehoseBatchingSink(
            self.deliver_firehose,
            agent_data=self._queue_agent_data,
            contact_event=self.deliver_contact_event,
            batch_size=batch_size,
            buffer_seconds=buffer_seconds,
            seed=seed,
        )

    # ------------------------------------------------------------------ set-up
    def connect(self) -> HubEndpoints:
        """Check the hub answers and read its ingest paths from ``/openapi.json``.

        :raises HubUnreachableError: no answer, or not a Connect Hub.
        """
        try:
            response = self._client.get("/openapi.json")
        except httpx.TransportError as exc:
            raise HubUnreachableError(f"cannot reach the hub at {self.base_url}: {exc}") from exc
        if response.status_code != 200:
            raise HubUnreachableError(f"{self.base_url}/openapi.json answered {response.status_code}")
        try:
            spec = response.json()
        except ValueError as exc:
            raise HubUnreachableError(f"{self.base_url}/openapi.json is not JSON") from exc
        self.endpoints = HubEndpoints.from_openapi(spec)
        if self._bridge_tokens is not None and self.endpoints.bridge_agent_data is None:
            raise HubUnreachableError("bridge credentials were given but the hub serves no bridge endpoint")
        return self.endpoints

    @property
    def sends_agent_data(self) -> bool:
        """Whether Streams agent data goes to the bridge endpoint (bridge credentials were given)."""
        return self._bridge_tokens is not None

    def _paths(self) -> HubEndpoints:
        if self.endpoints is None:
            self.connect()
        assert self.endpoints is not None
        return self.endpoints

    def close(self) -> None:
        """Close the HTTP client (if the sink created it)."""
        if self._own_client:
            self._client.close()

    # ------------------------------------------------------------------ Sink
    def agent_data(self, agent_id: str, data: JSON) -> None:
        """Streams agent data: through the bridge when a token is known for the agent."""
        self._batcher.agent_data(agent_id, data)

    def agent_event(self, record: JSON) -> None:
        """An Agent Event Stream record: batched into a Firehose delivery."""
        self._batcher.agent_event(record)

    def contact_record(self, ctr: JSON) -> None:
        """A contact record: batched into a Firehose delivery."""
        self._batcher.contact_record(ctr)

    def contact_event(self, event: JSON) -> None:
        """A contact event: posted to the EventBridge endpoint at once."""
        self._batcher.contact_event(event)

    def tick(self, now_ms: int) -> None:
        """Simulated time moved: send due Firehose batches and the queued bridge items."""
        self._batcher.tick(now_ms)
        self._flush_bridge()

    def flush(self) -> None:
        """Send everything still buffered."""
        self._batcher.flush()
        self._flush_bridge()

    # ------------------------------------------------------------------ Firehose
    def deliver_firehose(self, stream: FirehoseStream, envelope: JSON) -> None:
        """POST one Firehose envelope, retrying as Firehose does.

        :raises DeliveryError: still failing after the retry duration.
        """
        paths = self._paths()
        path = paths.agent_events if stream == "agent-events" else paths.contact_records
        request_id = str(envelope["requestId"])
        raw = json.dumps(envelope, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Amazon Kinesis Data Firehose Agent/1.0 (connect-hub simulator)",
            "X-Amz-Firehose-Protocol-Version": "1.0",
            "X-Amz-Firehose-Request-Id": request_id,
            "X-Amz-Firehose-Source-Arn": _SOURCE_ARN.format(stream=stream),
            "X-Amz-Firehose-Access-Key": self._access_key,
        }
        body = raw
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(raw, mtime=0)
        if self._keep:
            self.sent.append((stream, envelope))

        def attempt() -> str | None:
            response = self._client.post(path, content=body, headers=headers)
            if response.status_code == 413:
                return "dropped"
            if response.status_code != 200:
                raise _RetryableError(f"{path} answered {response.status_code}: {response.text[:200]}")
            try:
                answer = response.json()
            except ValueError:
                raise _RetryableError(f"{path} answered 200 with a body that is not JSON") from None
            if answer.get("requestId") != request_id or not isinstance(answer.get("timestamp"), int | float):
                raise _RetryableError(
                    f"{path} answered 200 without the requestId / numeric timestamp Firehose requires"
                )
            return None

        outcome = self._with_retries(f"firehose:{stream}", attempt)
        count = len(envelope["records"])
        if outcome == "dropped":
            _log.warning("firehose %s request %s: 413, %d records dropped", stream, request_id, count)
            self.stats.dropped[f"firehose:{stream}"] += count
        else:
            self.stats.records[stream] += count

    # ------------------------------------------------------------------ EventBridge
    def deliver_contact_event(self, event: JSON) -> None:
        """POST one contact event as an EventBridge API destination does (retry on 429 / 5xx).

        :raises DeliveryError: still failing after the retry duration.
        """
        path = self._paths().contact_events
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **self._eb_headers}
        if self._keep:
            self.sent.append(("contact-events", event))

        def attempt() -> str | None:
            response = self._client.post(
                path, content=body, headers=headers, auth=self._eb_auth or httpx.USE_CLIENT_DEFAULT
            )
            if response.status_code == 429 or response.status_code >= 500:
                raise _RetryableError(f"{path} answered {response.status_code}", _retry_after(response))
            if response.status_code != 200:
                _log.warning(
                    "contact event %s refused: %d %s", event.get("id"), response.status_code, response.text[:200]
                )
                return f"dropped:{response.status_code}"
            try:
                status = response.json().get("status")
            except (ValueError, AttributeError):
                status = None
            return "duplicate" if status == "duplicate" else None

        outcome = self._with_retries("eventbridge", attempt)
        if outcome is not None and outcome.startswith("dropped"):
            self.stats.dropped[f"eventbridge:{outcome.removeprefix('dropped:')}"] += 1
        else:
            self.stats.records["contact-events"] += 1
            if outcome == "duplicate":
                self.stats.duplicates["contact-events"] += 1

    # ------------------------------------------------------------------ bridge
    def _queue_agent_data(self, agent_id: str, data: JSON) -> None:
        if self._bridge_tokens is None:
            return
        configuration = data.get("configuration") or {}
        key = str(configuration.get("agentARN") or configuration.get("username") or agent_id)
        seq = self._bridge_seq.get(key, 0) + 1
        self._bridge_seq[key] = seq
        self._bridge_pending.setdefault(key, []).append({"seq": seq, "key": f"{key}#{seq}", "agentData": data})
        if len(self._bridge_pending[key]) >= _BRIDGE_BATCH:
            self._send_bridge(key)

    def _flush_bridge(self) -> None:
        for key in list(self._bridge_pending):
            self._send_bridge(key)

    def _send_bridge(self, key: str) -> None:
        items = self._bridge_pending.pop(key, [])
        if not items or self._bridge_tokens is None:
            return
        token = self._bridge_tokens(key)
        if token is None:
            return
        path = self._paths().bridge_agent_data
        assert path is not None
        configuration = items[-1]["agentData"].get("configuration") or {}
        agent = {"agentARN": configuration.get("agentARN"), "username": configuration.get("username")}
        body = json.dumps(
            {"agent": agent, "items": items, "bridgeVersion": "connect-hub-simulator"}, separators=(",", ":")
        ).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

        def attempt() -> str | None:
            response = self._client.post(path, content=body, headers=headers)
            if response.status_code == 429 or response.status_code >= 500:
                raise _RetryableError(f"{path} answered {response.status_code}", _retry_after(response))
            if response.status_code != 200:
                _log.warning("bridge data of %s refused: %d %s", key, response.status_code, response.text[:200])
                return f"dropped:{response.status_code}"
            return None

        outcome = self._with_retries("bridge", attempt)
        if outcome is not None:
            self.stats.dropped[f"bridge:{outcome.removeprefix('dropped:')}"] += len(items)
        else:
            self.stats.records["agent-data"] += len(items)

    # ------------------------------------------------------------------ retries
    def _with_retries(self, what: str, attempt: Callable[[], str | None]) -> str | None:
        waited, failures = 0.0, 0
        while True:
            self.stats.requests[what] += 1
            try:
                return attempt()
            except (_RetryableError, httpx.TransportError) as exc:
                failures += 1
                reason = str(exc) or type(exc).__name__
                retry_after = exc.retry_after if isinstance(exc, _RetryableError) else None
            delay = self._retry.delay(failures, self._rng)
            if retry_after is not None:
                delay = max(delay, retry_after)
            if waited + delay > self._retry.duration:
                raise DeliveryError(f"{what}: gave up after {failures} attempts ({waited:.1f}s of retries): {reason}")
            _log.info("%s: attempt %d failed (%s); retrying in %.2fs", what, failures, reason, delay)
            self.stats.retries[what] += 1
            self._sleep(delay)  # the backoff itself, not synchronisation
            waited += delay


class _RetryableError(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
