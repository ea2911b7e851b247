"""The HTTP sink keeps the sources' delivery contracts: Firehose (headers, gzip, retry on anything but a
valid 200, 413 drops, backoff within the retry duration), EventBridge API destinations (auth, retry on
429 / 5xx honouring Retry-After, other 4xx drop) and the bridge (bearer token, ordered items).

The hub side is an ``httpx.MockTransport`` that records requests and answers from a script; the sink's
waits go to a recorder instead of sleeping.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hub.simulator import firehose_envelope
from hub.simulator.http_sink import DeliveryError, HubHttpSink, RetryPolicy

Json = dict[str, Any]
OPENAPI = {
    "paths": {
        "/ingest/firehose/agent-events": {"post": {}},
        "/ingest/firehose/contact-records": {"post": {}},
        "/ingest/eventbridge/contact-events": {"post": {}},
        "/bridge/agent-data": {"post": {}},
        "/healthz": {"get": {}},
    }
}
ENVELOPE = firehose_envelope([{"EventId": "e-1"}, {"EventId": "e-2"}], "req-1", 1_772_442_000_000)


class ScriptedHub:
    """Answers ``/openapi.json`` and then, per POST, the next scripted answer."""

    def __init__(self, answers: list[Callable[[httpx.Request], httpx.Response]]) -> None:
        self.answers = answers
        self.posts: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=OPENAPI)
        self.posts.append(request)
        return self.answers[len(self.posts) - 1](request)


def ok(request: httpx.Request) -> httpx.Response:
    """What a hub answers to a stored Firehose request."""
    return httpx.Response(200, json={"requestId": request.headers["x-amz-firehose-request-id"], "timestamp": 1})


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(code, json={"error": "scripted"}, headers=headers)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def make_sink(hub: ScriptedHub, waits: list[float], **kwargs: Any) -> HubHttpSink:
    client = httpx.Client(base_url="http://hub.test", transport=httpx.MockTransport(hub))
    sink = HubHttpSink("http://hub.test", firehose_access_key="fh-key", client=client, sleep=waits.append, **kwargs)
    sink.connect()
    return sink


def test_firehose_retries_the_same_request_until_a_valid_200() -> None:
    wrong_id = lambda _r: httpx.Response(200, json={"requestId": "other", "timestamp": 1})  # noqa: E731
    text_ts = lambda r: httpx.Response(  # noqa: E731
        200, json={"requestId": r.headers["x-amz-firehose-request-id"], "timestamp": "1"}
    )
    hub = ScriptedHub([status(503), refuse_connection, wrong_id, text_ts, status(401), ok])
    waits: list[float] = []
    sink = make_sink(hub, waits)
    sink.deliver_firehose("agent-events", ENVELOPE)

    assert len(hub.posts) == 6
    for request in hub.posts:
        assert request.url.path == "/ingest/firehose/agent-events"
        assert request.headers["x-amz-firehose-request-id"] == "req-1"
        assert request.headers["x-amz-firehose-access-key"] == "fh-key"
        assert request.headers["x-amz-firehose-protocol-version"] == "1.0"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["content-encoding"] == "gzip"
        body = json.loads(gzip.decompress(request.content))
        assert body == ENVELOPE
        assert [json.loads(base64.b64decode(r["data"])) for r in body["records"]] == [
            {"EventId": "e-1"},
            {"EventId": "e-2"},
        ]
    # exponential backoff from 1 s, x2, +-15 %
    assert len(waits) == 5
    for attempt, wait in enumerate(waits):
        assert 0.85 * 2**attempt <= wait <= 1.15 * 2**attempt
    assert sink.stats.records["agent-events"] == 2 and sink.stats.retries["firehose:agent-events"] == 5


def test_firehose_413_drops_the_batch_without_retrying() -> None:
    hub = ScriptedHub([status(413)])
    waits: list[float] = []
    sink = make_sink(hub, waits)
    sink.deliver_firehose("contact-records", ENVELOPE)
    assert len(hub.posts) == 1 and waits == []
    assert sink.stats.dropped["firehose:contact-records"] == 2 and sink.stats.total_dropped == 2


def test_firehose_gives_up_after_the_retry_duration() -> None:
    hub = ScriptedHub([status(500)] * 20)
    waits: list[float] = []
    sink = make_sink(hub, waits, retry=RetryPolicy(duration=10))
    with pytest.raises(DeliveryError, match="gave up after 4 attempts"):
        sink.deliver_firehose("agent-events", ENVELOPE)
    assert sum(waits) <= 10 and len(waits) == 3  # ~1 + 2 + 4; the next wait (~8) would pass 10 s


def test_uncompressed_firehose_body() -> None:
    hub = ScriptedHub([ok])
    sink = make_sink(hub, [], gzip_firehose=False)
    sink.deliver_firehose("agent-events", ENVELOPE)
    assert "content-encoding" not in hub.posts[0].headers
    assert json.loads(hub.posts[0].content) == ENVELOPE


def test_eventbridge_retries_429_and_5xx_honouring_retry_after_and_drops_other_4xx() -> None:
    accepted = lambda _r: httpx.Response(200, json={"id": "ev-1", "status": "accepted"})  # noqa: E731
    duplicate = lambda _r: httpx.Response(200, json={"id": "ev-1", "status": "duplicate"})  # noqa: E731
    hub = ScriptedHub([status(429, **{"Retry-After": "7"}), status(503), accepted, status(400), duplicate])
    waits: list[float] = []
    sink = make_sink(hub, waits, eventbridge_api_key="eb-key", eventbridge_api_key_header="X-Hub-Key")
    event = {"id": "ev-1", "detail-type": "Amazon Connect Contact Event", "detail": {"contactId": "c-1"}}
    sink.deliver_contact_event(event)
    assert len(hub.posts) == 3 and waits[0] >= 7 and len(waits) == 2
    sink.deliver_contact_event(event)  # 400: EventBridge drops it
    sink.deliver_contact_event(event)  # a redelivery the hub recognises
    assert len(hub.posts) == 5 and len(waits) == 2
    for request in hub.posts:
        assert request.url.path == "/ingest/eventbridge/contact-events"
        assert request.headers["x-hub-key"] == "eb-key"
        assert json.loads(request.content) == event
    assert sink.stats.dropped == {"eventbridge:400": 1}
    assert sink.stats.records["contact-events"] == 2 and sink.stats.duplicates["contact-events"] == 1


def test_eventbridge_basic_auth() -> None:
    hub = ScriptedHub([lambda _r: httpx.Response(200, json={"status": "accepted"})])
    sink = make_sink(hub, [], eventbridge_basic=("user", "pass"))
    sink.deliver_contact_event({"id": "ev-2"})
    assert hub.posts[0].headers["authorization"] == "Basic " + base64.b64encode(b"user:pass").decode()


def test_bridge_items_are_ordered_per_agent_with_the_agents_token() -> None:
    hub = ScriptedHub([lambda _r: httpx.Response(200, json={"results": []})] * 2)
    sink = make_sink(hub, [], bridge_tokens=lambda agent: f"token-of-{agent}")
    for n in range(3):
        sink.agent_data("a1", {"snapshot": {"n": n}, "configuration": {"agentARN": "arn:a1", "username": "u1"}})
    sink.agent_data("a2", {"snapshot": {"n": 0}, "configuration": {"agentARN": "arn:a2", "username": "u2"}})
    sink.flush()
    first, second = (json.loads(r.content) for r in hub.posts)
    assert hub.posts[0].headers["authorization"] == "Bearer token-of-arn:a1"
    assert first["agent"] == {"agentARN": "arn:a1", "username": "u1"}
    assert [(i["seq"], i["key"], i["agentData"]["snapshot"]["n"]) for i in first["items"]] == [
        (1, "arn:a1#1", 0),
        (2, "arn:a1#2", 1),
        (3, "arn:a1#3", 2),
    ]
    assert hub.posts[1].headers["authorization"] == "Bearer token-of-arn:a2"
    assert [i["key"] for i in second["items"]] == ["arn:a2#1"]
    assert sink.stats.records["agent-data"] == 4


def test_a_server_without_ingest_paths_is_refused() -> None:
    from hub.simulator.http_sink import HubUnreachableError

    client = httpx.Client(
        base_url="http://other.test", transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={"paths": {}}))
    )
    sink = HubHttpSink("http://other.test", firehose_access_key="k", client=client)
    with pytest.raises(HubUnreachableError, match="no Firehose / EventBridge ingest paths"):
        sink.connect()
