"""End to end in headless Chromium: the real Streams library, the bridge script loaded from the hub, the hub.

The page (one loopback origin) runs the real ``amazon-connect-streams`` release bundle, wired as
``initCCP`` wires it but with a MessageChannel as the upstream; ``fake_ccp.js`` drives agent data into
the library as the CCP does, and the library derives its events. The bridge script comes from the hub
(another loopback origin, so the browser sends a CORS preflight). The tests assert what arrives in the
hub: the agent data per snapshot, in order and once; the hub's engine deriving exactly the library's
events from it; the Streams log entries; and the behaviour on 401 / 403 and on network loss (Playwright
routing aborts or answers 503 for a while, then the network comes back).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import Engine

from hub.ingest._bridge import AGENT_DATA_PATH, BRIDGE_SCRIPT_PATH, LOGS_PATH
from hub.ingest._credentials import BridgeCredentials

from ._harness import CHROMIUM, CHROMIUM_FLAGS, LOOPBACK, PAGE_DIR, HubServer, PageServer, require_browser
from .conftest import ARN_B, RecordingSink, bridge_settings_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SCENARIO = json.loads((Path(__file__).parents[2] / "hub" / "scenarios" / "inbound_voice.json").read_text())
CONFIG = SCENARIO["configuration"]
ARN = CONFIG["agentARN"]
SNAPSHOTS = [step["snapshot"] for step in SCENARIO["steps"] if "snapshot" in step]
FAST = {"minBackoffMs": 40, "maxBackoffMs": 250, "logLevel": None}  # no logs: the item counts stay exact


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright's sync API (no downloaded browser)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    """The CRM page's origin."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def credentials(engine: Engine, page_server: PageServer) -> BridgeCredentials:
    """Credentials allowing the page's origin."""
    return BridgeCredentials(bridge_settings_for(page_server.origin), engine)


@pytest.fixture
def hub(sink: RecordingSink, credentials: BridgeCredentials, page_server: PageServer) -> Iterator[HubServer]:
    """The hub's bridge on uvicorn, on another origin than the page."""
    server = HubServer(sink, credentials)
    page_server.hub_origin = server.origin
    yield server
    server.close()


class Page:
    """One browser context with the CRM page loaded and its observations."""

    def __init__(self, browser: Any, page_server: PageServer, *, fake_clock: bool = False) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.urls.append(r.url))
        if fake_clock:
            self.page.clock.install()
        self.page.goto(f"{page_server.origin}/page/index.html")
        self.page.wait_for_function("window.testPage && window.testPage.ready && window.ConnectHubBridge")
        self.page.add_script_tag(path=str(PAGE_DIR / "fake_ccp.js"))

    def start(self, hub: HubServer, token: str, **options: Any) -> None:
        """What the CRM page does after initCCP: start the bridge with its configuration."""
        self.page.evaluate(
            "([url, token, opts]) => { ConnectHubBridge.start(Object.assign({hubUrl: url, token: token}, opts)); }",
            [hub.origin, token, options],
        )

    def push(self, snapshot: dict[str, Any], configuration: dict[str, Any] = CONFIG) -> None:
        """The CCP sends one agent::update."""
        assert self.page.evaluate("([s, c]) => window.fakeCcp.pushAgentData(s, c)", [snapshot, configuration])

    def wait(self, condition: str) -> None:
        """Wait in Playwright (never on a Python primitive: route handlers run only while Playwright waits)."""
        self.page.wait_for_function(f"(() => {{ const s = ConnectHubBridge.status(); return {condition}; }})()")

    def drained(self, updates: int) -> None:
        """Wait until the library saw ``updates`` agent::update and the bridge's queue is empty."""
        self.page.wait_for_function(
            f"window.testPage.libraryEvents.length >= {updates} && ConnectHubBridge.status().queued === 0"
        )

    def status(self) -> dict[str, Any]:
        """The bridge's status."""
        result: dict[str, Any] = self.page.evaluate("ConnectHubBridge.status()")
        return result

    def library_events(self) -> list[list[Any]]:
        """The library's events, one list per agent::update, summarised as the oracle does."""
        result: list[list[Any]] = self.page.evaluate("window.testPage.libraryEvents")
        return result

    def close(self) -> None:
        """Close the context."""
        self.context.close()


@pytest.fixture
def open_page(browser: Any, page_server: PageServer) -> Iterator[Any]:
    """Opens pages; closes them after the test."""
    pages: list[Page] = []

    def make(**kwargs: Any) -> Page:
        page = Page(browser, page_server, **kwargs)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()


def hub_events(sink: RecordingSink) -> list[list[Any]]:
    """The hub's derived events per applied agent data, as JSON (like the page's)."""
    return [[[name, json.loads(json.dumps(payload))] for name, payload in step] for step in sink.events]


def assert_same_as_driven(sink: RecordingSink, page: Page, snapshots: list[dict[str, Any]]) -> None:
    """The hub applied exactly these snapshots, in order, once, and derived the library's events."""
    assert [key for key, _ in sink.applied] == [ARN] * len(snapshots)
    assert [data["snapshot"] for _, data in sink.applied] == snapshots
    assert all(data["configuration"] == CONFIG for _, data in sink.applied)
    library = page.library_events()
    assert len(library) == len(snapshots)
    for index, (ours, theirs) in enumerate(zip(hub_events(sink), library, strict=True)):
        assert ours == theirs, f"snapshot {index}:\n hub:     {ours}\n library: {theirs}"
    assert page.errors == []
    assert all(urlsplit(u).hostname in LOOPBACK for u in page.urls), page.urls


def posted_items(hub: HubServer, path: str) -> list[dict[str, Any]]:
    """The items of every acknowledged POST on ``path``, in arrival order."""
    return [item for seen in hub.posts(path) if seen.status == 200 for item in json.loads(seen.body)["items"]]


# ------------------------------------------------------------------------------------------------ tests
def test_agent_data_and_logs_arrive_in_order_and_the_hub_derives_the_library_events(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials, page_server: PageServer
) -> None:
    page = open_page()
    page.start(hub, credentials.mint(ARN).token, **(FAST | {"logLevel": "WARN"}))
    for index, snapshot in enumerate(SNAPSHOTS):
        page.push(snapshot)
        page.drained(index + 1)
    page.page.evaluate("connect.getLog().warn('bridge e2e %s', 'marker')")
    page.wait("s.queued === 0 && s.acked > 0")
    page.page.wait_for_function(f"ConnectHubBridge.status().applied >= {len(SNAPSHOTS) + 1}")

    assert_same_as_driven(sink, page, SNAPSHOTS)
    names = [name for step in hub_events(sink) for name, _ in step]
    for must in ("agent::init", "agent::state_change", "contact::init", "contact::connected::c-in-1", "agent::acw"):
        assert must in names

    # The script came from the hub; the browser preflighted the cross-origin POST with our headers.
    assert any(s.method == "GET" and s.path == BRIDGE_SCRIPT_PATH and s.status == 200 for s in hub.seen)
    preflights = [s for s in hub.seen if s.method == "OPTIONS" and s.path == AGENT_DATA_PATH]
    assert preflights, "the browser sent no CORS preflight"
    assert preflights[0].status == 204
    assert preflights[0].headers["origin"] == page_server.origin
    assert "authorization" in preflights[0].headers["access-control-request-headers"]
    posts = hub.posts(AGENT_DATA_PATH)
    assert all(p.headers["authorization"].startswith("Bearer ") and p.headers["?query"] == "" for p in posts)

    # One increasing seq per agent over both kinds, each item keyed agent ARN + seq.
    items = posted_items(hub, AGENT_DATA_PATH)
    logs = posted_items(hub, LOGS_PATH)
    seqs = sorted(i["seq"] for i in items + logs)
    assert len(set(seqs)) == len(seqs)
    assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
    assert all(i["key"] == f"{ARN}#{i['seq']}" for i in items + logs)

    entries = [entry for _, batch in sink.logs for entry in batch]
    marker = [e for e in entries if e["text"] == "bridge e2e marker"]
    assert len(marker) == 1
    assert marker[0]["level"] == "WARN"
    assert page.status()["state"] == "running"


def test_network_loss_nothing_lost_no_duplicates_order_kept(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials
) -> None:
    page = open_page()
    page.start(hub, credentials.mint(ARN).token, **FAST)
    page.push(SNAPSHOTS[0])
    page.drained(1)

    # Connection refused twice, 503 twice, then a request that reaches the hub but whose response is
    # lost (so the bridge sends it again), then the network is back.
    plan = ["abort", "abort", "503", "503", "lost"]
    done: list[str] = []

    def outage(route: Any) -> None:
        action = plan[len(done)] if len(done) < len(plan) else "pass"
        done.append(action)
        if action == "abort":
            route.abort("connectionrefused")
        elif action == "503":
            route.fulfill(status=503, body='{"error":"down"}', content_type="application/json")
        elif action == "lost":
            route.fetch()  # the hub gets and applies it ...
            route.abort("connectionreset")  # ... the page never sees the answer
        else:
            route.continue_()

    url = f"{hub.origin}{AGENT_DATA_PATH}"
    page.context.route(url, outage)
    page.push(SNAPSHOTS[1])
    page.wait("s.retries >= 2")
    page.push(SNAPSHOTS[2])
    page.push(SNAPSHOTS[3])
    page.wait("s.retries >= 4")
    for snapshot in SNAPSHOTS[4:]:
        page.push(snapshot)
    page.drained(len(SNAPSHOTS))
    page.context.unroute(url)

    assert done[: len(plan)] == plan
    status = page.status()
    assert status["retries"] >= len(plan)
    assert status["duplicate"] >= 1  # the lost response's items were acknowledged as duplicates
    assert status["dropped"] == 0 and status["rejected"] == 0
    assert_same_as_driven(sink, page, SNAPSHOTS)


def test_bounded_queue_while_down_and_resume_when_back_online(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials
) -> None:
    page = open_page()
    url = f"{hub.origin}{AGENT_DATA_PATH}"
    page.context.route(url, lambda route: route.abort("internetdisconnected"))
    # Backoff of a minute: only the browser's `online` event can bring the data over in this test.
    page.start(hub, credentials.mint(ARN).token, maxQueue=3, minBackoffMs=60000, maxBackoffMs=60000, logLevel=None)
    for snapshot in SNAPSHOTS[:6]:
        page.push(snapshot)
    page.page.wait_for_function("window.testPage.libraryEvents.length >= 6")
    page.wait("s.retries >= 1 && s.dropped === 3 && s.queued === 3")
    assert sink.applied == []

    page.context.unroute(url)
    page.page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait("s.queued === 0")
    got = [data["snapshot"] for _, data in sink.applied]
    assert len(got) == 3
    assert got[-1] == SNAPSHOTS[5]
    assert got == [s for s in SNAPSHOTS[:6] if s in got]  # order kept


def test_pagehide_sends_what_is_queued_with_keepalive(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials
) -> None:
    page = open_page()
    url = f"{hub.origin}{AGENT_DATA_PATH}"
    page.context.route(url, lambda route: route.abort("internetdisconnected"))
    page.start(hub, credentials.mint(ARN).token, minBackoffMs=60000, maxBackoffMs=60000, logLevel=None)
    page.push(SNAPSHOTS[0])
    page.push(SNAPSHOTS[1])
    page.wait("s.retries >= 1 && s.queued === 2")
    page.context.unroute(url)
    page.page.goto("about:blank")  # pagehide: the queue goes out with fetch(..., {keepalive: true})
    hub.wait_for(AGENT_DATA_PATH, 200, 1)  # no route is active any more, so blocking here cannot deadlock
    assert [data["snapshot"] for _, data in sink.applied] == SNAPSHOTS[:2]


@pytest.mark.parametrize("problem", ["revoked", "expired", "garbage"])
def test_401_stops_retrying_reports_and_resumes_with_a_new_token(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials, engine: Engine, *, problem: str
) -> None:
    issued = credentials.mint(ARN)
    token = issued.token
    if problem == "revoked":
        credentials.revoke(issued.token_id)
    elif problem == "expired":
        token = (
            BridgeCredentials(credentials.settings, engine, clock=lambda: issued.expires_at.replace(year=2020))
            .mint(ARN, ttl=60)
            .token
        )
    else:
        token = "not-a-token"
    page = open_page(fake_clock=True)
    page.start(hub, token, **FAST)
    page.push(SNAPSHOTS[0])
    page.wait("s.state === 'unauthorized'")
    page.push(SNAPSHOTS[1])
    page.page.wait_for_function("window.testPage.libraryEvents.length >= 2")
    page.page.clock.run_for(10 * 60 * 1000)  # any retry timer would fire now: there must be none
    status = page.status()
    assert status["state"] == "unauthorized"
    assert status["httpStatus"] == 401
    assert status["queued"] == 2
    assert [p.status for p in hub.posts(AGENT_DATA_PATH)] == [401]
    assert '"state": "unauthorized"' in page.page.inner_text("#status")  # reported to the page
    assert sink.applied == []

    page.page.evaluate("(t) => ConnectHubBridge.resume({token: t})", credentials.mint(ARN).token)
    page.wait("s.queued === 0")
    assert [data["snapshot"] for _, data in sink.applied] == SNAPSHOTS[:2]


def test_token_of_another_agent_is_refused_with_403(
    open_page: Any, hub: HubServer, sink: RecordingSink, credentials: BridgeCredentials
) -> None:
    page = open_page()
    page.start(hub, credentials.mint(ARN_B).token, **FAST)
    other = copy.deepcopy(SNAPSHOTS[0])
    page.push(other)
    page.wait("s.state === 'forbidden'")
    assert page.status()["httpStatus"] == 403
    assert [p.status for p in hub.posts(AGENT_DATA_PATH)] == [403]
    assert sink.applied == []
