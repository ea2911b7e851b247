"""The end-to-end harness: a page server, the hub on uvicorn (another origin), Debian's Chromium.

* The page server (stdlib ``ThreadingHTTPServer`` on ``127.0.0.1:<random>``) serves ``page/`` and the
  real ``amazon-connect-streams`` release bundle from the oracle's ``node_modules``.
* The hub (uvicorn on another loopback port, so another origin) runs the bridge router on a
  :class:`RecordingSink`, with a recorder of every request it receives (preflights included).
* Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright's sync API with ``executable_path``
  (``playwright install`` is never run). Without it, the library or Node, the tests skip with the
  reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI

from hub.ingest._bridge import bridge_router
from hub.ingest._credentials import BridgeCredentials
from hub.testing.oracle_setup import default_oracle_dir

PAGE_DIR = Path(__file__).with_name("page")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def streams_bundle() -> Path:
    """The real library's release bundle, where ``make oracle`` installs it."""
    override = os.environ.get("STREAMS_BUNDLE")
    if override:
        return Path(override)
    return default_oracle_dir() / "node_modules" / "amazon-connect-streams" / "release" / "connect-streams.js"


def require_browser() -> None:
    """Skip (or fail under ``CI=true``) when Chromium, Playwright or the Streams bundle is missing."""
    reasons = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reasons.append(f"{CHROMIUM} not found (apt-get install chromium)")
    if not streams_bundle().is_file():
        reasons.append(f"amazon-connect-streams bundle not found at {streams_bundle()} (run `make oracle`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reasons.append("the playwright Python package is not installed")
    if reasons:
        message = "; ".join(reasons)
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test prerequisites missing under CI=true: {message}")
        pytest.skip(message)


# ------------------------------------------------------------------------------------------- page server
class PageServer:
    """Serves ``/page/*`` (``index.html`` with :attr:`hub_origin` filled in) and ``/streams/connect-streams.js``."""

    def __init__(self) -> None:
        bundle = streams_bundle()
        page_dir = PAGE_DIR
        self.hub_origin = ""
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/streams/connect-streams.js":
                    self._send(bundle.read_bytes(), "text/javascript")
                elif path == "/page/index.html":
                    html = (page_dir / "index.html").read_text().replace("{{HUB_ORIGIN}}", outer.hub_origin)
                    self._send(html.encode(), "text/html; charset=utf-8")
                elif path in ("/page/wiring.js", "/page/fake_ccp.js"):
                    self._send((page_dir / path.rsplit("/", 1)[1]).read_bytes(), "text/javascript")
                else:
                    self.send_error(404)

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="page-server", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


# ------------------------------------------------------------------------------------------- hub server
@dataclass
class Seen:
    """One request the hub received."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    body: bytes = b""


@dataclass
class HubServer:
    """The bridge router on uvicorn on its own loopback port (another origin than the page)."""

    sink: Any
    credentials: BridgeCredentials
    seen: list[Seen] = field(default_factory=list)
    answered: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        app = FastAPI()
        app.include_router(bridge_router(self.sink, self.credentials))
        seen = self.seen

        async def record(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            item = Seen(scope["method"], scope["path"], {k.decode(): v.decode() for k, v in scope["headers"]})
            item.headers["?query"] = scope.get("query_string", b"").decode()
            seen.append(item)

            async def read() -> MutableMapping[str, Any]:
                message: MutableMapping[str, Any] = await receive()
                if message["type"] == "http.request":
                    item.body += message.get("body", b"")
                return message

            async def capture(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    item.status = int(message["status"])
                await send(message)

            await app(scope, read, capture)
            with self.answered:
                self.answered.notify_all()

        # Bind and listen before uvicorn starts: connections wait in the backlog, no start-up race.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.origin = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        asgi: Callable[..., Awaitable[None]] = record
        config = uvicorn.Config(asgi, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()

    def posts(self, path: str) -> list[Seen]:
        """The POSTs received on ``path``."""
        return [s for s in list(self.seen) if s.method == "POST" and s.path == path]

    def wait_for(self, path: str, status: int, count: int, timeout: float = 20.0) -> None:
        """Block until ``count`` POSTs on ``path`` were answered with ``status`` (only when no route is active)."""
        with self.answered:
            done = self.answered.wait_for(
                lambda: sum(1 for s in self.posts(path) if s.status == status) >= count, timeout
            )
        assert done, f"hub answered {[s.status for s in self.posts(path)]} on {path}, wanted {count} x {status}"

    def close(self) -> None:
        """Stop uvicorn."""
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()
