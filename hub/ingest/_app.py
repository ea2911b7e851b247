"""``create_app``: the hub's ASGI application (FastAPI) with every ingest endpoint and ``/healthz``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from dynaconf import Dynaconf
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub._interpreter import tuned_for_ingest
from hub.config import HubSettings, hub_settings
from hub.ingest._bridge import mount_bridge
from hub.ingest._http import IngestLimits
from hub.ingest._sink import IngestSink
from hub.ingest.eventbridge import DEFAULT_API_KEY_HEADER, EventBridgeAuth, eventbridge_router
from hub.ingest.firehose import firehose_router

__all__ = ["HEALTH_PATH", "create_app"]

HEALTH_PATH = "/healthz"


class Health(BaseModel):
    """``GET /healthz``: whether the hub can store input right now."""

    status: str
    database: str


def _api_key_header(settings: Any) -> str:
    if isinstance(settings, Dynaconf):
        value = settings.get("ingest.eventbridge.api_key_header")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return DEFAULT_API_KEY_HEADER


@asynccontextmanager
async def _serving(_app: FastAPI) -> AsyncIterator[None]:
    """Interpreter settings while the app serves (:func:`hub._interpreter.tuned_for_ingest`), restored at shutdown."""
    with tuned_for_ingest():
        yield


def create_app(
    settings: HubSettings | Dynaconf,
    sink: IngestSink,
    *,
    limits: IngestLimits | None = None,
    api_key_header: str | None = None,
) -> FastAPI:
    """The ASGI app: Firehose and EventBridge ingest storing into ``sink``, and ``GET /healthz``.

    :param settings: the hub settings (``ingest.*`` credentials); a Dynaconf object or its typed view.
    :param sink: where validated input goes (:class:`hub.ingest.DatabaseSink` or the runtime's pipeline).
    :param limits: size limits (default: Firehose's documented maxima, 1 MiB per contact event).
    :param api_key_header: the EventBridge connection's API-key header name (default: the
        ``ingest.eventbridge.api_key_header`` setting, else ``X-Api-Key``).
    """
    typed = settings if isinstance(settings, HubSettings) else hub_settings(settings)
    limits = limits or IngestLimits()
    ingest = typed.ingest
    auth = EventBridgeAuth(
        api_key=ingest.eventbridge_api_key,
        api_key_header=api_key_header or _api_key_header(settings),
        basic_username=ingest.eventbridge_basic_username,
        basic_password=ingest.eventbridge_basic_password,
    )
    app = FastAPI(
        lifespan=_serving,
        title="Connect Hub ingest",
        version="0.1.0",
        description=(
            "Amazon Connect feeds into the hub: Agent Event Stream records and contact records delivered by "
            "Amazon Data Firehose (HTTP endpoint destination) and contact events delivered by an EventBridge "
            "API destination. See docs/sources.md for the wiring."
        ),
    )
    keys = (ingest.firehose_access_key,) if ingest.firehose_access_key else ()
    app.include_router(firehose_router(sink, keys, limits))
    app.include_router(eventbridge_router(sink, auth, limits))
    mount_bridge(app, settings, sink)  # the Streams browser bridge, when ingest.bridge.secret is set

    @app.get(
        HEALTH_PATH,
        summary="Liveness and storage health",
        response_model=Health,
        responses={503: {"model": Health, "description": "Storage unavailable."}},
        tags=["health"],
    )
    async def healthz() -> JSONResponse:
        """200 when the database answers, else 503 (sources then retry)."""
        healthy = await run_in_threadpool(sink.is_healthy)
        body = {"status": "ok" if healthy else "unavailable", "database": "ok" if healthy else "unavailable"}
        return JSONResponse(body, status_code=200 if healthy else 503)

    app.state.sink = sink
    app.state.settings = typed
    return app
