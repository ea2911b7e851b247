"""The Streams browser bridge endpoints: the bridge script, agent data and Streams log entries.

* ``GET /bridge/connect-hub-bridge.js``: the script an integrator adds to the agent's page next to
  the real Streams library (``docs/bridge.md``).
* ``POST /bridge/agent-data``: ordered items ``{seq, key, agentData}``; ``agentData`` is exactly what
  the page's ``agent::update`` carried (``{snapshot, configuration}``, Dates as ISO strings). Each new
  item is applied through the sink's ``apply_agent_data(agent_key, data)``, so the hub's engine derives
  the same events the library derived in the page.
* ``POST /bridge/logs``: ordered items ``{seq, key, entries}`` of ``connect.getLog()`` entries.
* ``OPTIONS`` on both: the CORS preflight (the hub is another origin than the CRM page).

Every POST carries ``Authorization: Bearer <token>`` (:mod:`hub.ingest._credentials`); the token's
agent must be the data's agent (403 otherwise). Idempotency: the key of an item is
``<agent ARN or username>#<seq>``, ``seq`` increasing per agent. A receipt per applied item is stored in
``ingest_receipts`` (source ``bridge``), so a redelivered item is acknowledged as ``duplicate`` and not
re-applied, and agent data older than the newest applied ``seq`` is acknowledged as ``stale`` and never
moves the agent backwards. The receipt is written after the sink applied the item: if storage fails in
between, the item is applied again on retry (at least once, never lost).

Statuses: **200** per-item results; **400** malformed (reason given); **401** bad credentials (no
reason); **403** another agent's data or an origin not allowed (no reason); **413** too large; **415**
not JSON; **501** the sink cannot apply agent data; **503** storage down (``Retry-After``): the bridge
retries.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from hub import HubError, decode_agent_data
from hub._structs import prepare_structs
from hub.db import IngestReceipt, Receipt, claim_receipts, create_engine_from_url, session_scope
from hub.ingest._credentials import BridgeCredentials, BridgeIdentity, ForbiddenError, bridge_settings
from hub.ingest._http import check_json_content_type, read_body, reject_nul
from hub.sources.errors import MalformedRequestError, SourceError, SourceUnavailableError

__all__ = [
    "AGENT_DATA_PATH",
    "BRIDGE_SCRIPT_PATH",
    "LOGS_PATH",
    "AgentDataSink",
    "BridgeLedger",
    "BridgeLimits",
    "bridge_router",
    "bridge_script",
    "mount_bridge",
]

_log = logging.getLogger("connect_hub.bridge")
_streams_log = logging.getLogger("connect_hub.bridge.streams")

BRIDGE_SCRIPT_PATH = "/bridge/connect-hub-bridge.js"
AGENT_DATA_PATH = "/bridge/agent-data"
LOGS_PATH = "/bridge/logs"
RECEIPT_SOURCE = "bridge"
MAX_SEQ = 2**53 - 1
_LEVELS = {"TEST": 5, "TRACE": 5, "DEBUG": 10, "INFO": 20, "LOG": 20, "WARN": 30, "ERROR": 40, "CRITICAL": 50}


@runtime_checkable
class AgentDataSink(Protocol):
    """What the bridge applies agent data through (the hub's ingest sink).

    ``store_streams_logs(agent_key, entries)`` is optional: without it, log entries go to the
    ``connect_hub.bridge.streams`` Python logger.
    """

    def apply_agent_data(self, agent_key: str, data: Mapping[str, Any]) -> None:
        """Dispatch ``agent::update`` with this agent data for ``agent_key`` and store what follows.

        :raises SourceUnavailableError: storage is down (nothing stored).
        """
        ...

    def is_healthy(self) -> bool:
        """Whether storage is reachable."""
        ...


@dataclass(frozen=True, slots=True)
class BridgeLimits:
    """Size limits of the bridge endpoints (the script sends far smaller batches)."""

    max_body_bytes: int = 1024 * 1024
    max_items: int = 100
    max_log_entries: int = 2000
    max_text_chars: int = 32 * 1024
    max_agent_chars: int = 512


# ---------------------------------------------------------------------------------------------- bodies
class _Agent(msgspec.Struct, forbid_unknown_fields=True):
    agentARN: str | None = None  # noqa: N815 - wire name
    username: str | None = None


class _DataItem(msgspec.Struct, forbid_unknown_fields=True):
    seq: int
    key: str
    agentData: msgspec.Raw  # noqa: N815 - wire name


class _LogEntry(msgspec.Struct):
    """One ``connect.getLog()`` entry; unknown members are kept (passed through to the sink)."""

    level: Literal["TEST", "TRACE", "DEBUG", "INFO", "LOG", "WARN", "ERROR", "CRITICAL"]
    text: str
    time: str | int | float | None = None
    component: str | None = None


class _LogItem(msgspec.Struct, forbid_unknown_fields=True):
    seq: int
    key: str
    entries: list[msgspec.Raw]


class _DataBatch(msgspec.Struct, forbid_unknown_fields=True):
    agent: _Agent
    items: list[_DataItem]
    bridgeVersion: str | None = None  # noqa: N815 - wire name
    streamsVersion: str | None = None  # noqa: N815 - wire name
    sentAt: str | None = None  # noqa: N815 - wire name


class _LogBatch(msgspec.Struct, forbid_unknown_fields=True):
    agent: _Agent
    items: list[_LogItem]
    bridgeVersion: str | None = None  # noqa: N815 - wire name
    streamsVersion: str | None = None  # noqa: N815 - wire name
    sentAt: str | None = None  # noqa: N815 - wire name


def _schema(item: dict[str, Any]) -> dict[str, Any]:
    agent = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"agentARN": {"type": ["string", "null"]}, "username": {"type": ["string", "null"]}},
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["agent", "items"],
        "properties": {
            "agent": agent,
            "items": {"type": "array", "minItems": 1, "items": item},
            "bridgeVersion": {"type": ["string", "null"]},
            "streamsVersion": {"type": ["string", "null"]},
            "sentAt": {"type": ["string", "null"]},
        },
    }


_SEQ = {"type": "integer", "minimum": 1, "maximum": MAX_SEQ}
_KEY = {"type": "string", "description": "<agent ARN or username>#<seq>"}
_DATA_SCHEMA = _schema(
    {
        "type": "object",
        "required": ["seq", "key", "agentData"],
        "additionalProperties": False,
        "properties": {
            "seq": _SEQ,
            "key": _KEY,
            "agentData": {"type": "object", "required": ["snapshot", "configuration"]},
        },
    }
)
_LOG_SCHEMA = _schema(
    {
        "type": "object",
        "required": ["seq", "key", "entries"],
        "additionalProperties": False,
        "properties": {
            "seq": _SEQ,
            "key": _KEY,
            "entries": {
                "type": "array",
                "items": {"type": "object", "required": ["level", "text"], "properties": {"level": {"type": "string"}}},
            },
        },
    }
)


# ---------------------------------------------------------------------------------------------- ledger
class BridgeLedger:
    """Per agent and kind (``data`` / ``logs``), the ``seq`` values already applied, in ``ingest_receipts``.

    Keys are ``<kind>:<sha256(agent) prefix>:<seq, 16 digits>``, so the newest applied ``seq`` of an
    agent is a range query on the receipts' primary key.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _prefix(kind: str, agent_key: str) -> str:
        return f"{kind}:{hashlib.sha256(agent_key.encode()).hexdigest()[:40]}:"

    def key(self, kind: str, agent_key: str, seq: int) -> str:
        """The receipt key of one item."""
        return f"{self._prefix(kind, agent_key)}{seq:016d}"

    def state(self, kind: str, agent_key: str, seqs: Sequence[int]) -> tuple[int, set[int]]:
        """The newest applied ``seq`` (0: none) and which of ``seqs`` were applied.

        :raises SourceUnavailableError: the database cannot be read.
        """
        prefix = self._prefix(kind, agent_key)
        c = IngestReceipt
        in_range = (c.source == RECEIPT_SOURCE) & (c.key >= prefix) & (c.key < prefix[:-1] + ";")
        keys = [self.key(kind, agent_key, s) for s in seqs]
        try:
            with session_scope(self.engine, write=False) as db:
                newest = db.execute(sa.select(sa.func.max(c.key)).where(in_range)).scalar_one_or_none()
                seen = set(db.scalars(sa.select(c.key).where(c.source == RECEIPT_SOURCE, c.key.in_(keys))))
        except SQLAlchemyError as exc:
            raise SourceUnavailableError() from exc
        last = int(newest[len(prefix) :]) if newest else 0
        return last, {s for s, k in zip(seqs, keys, strict=True) if k in seen}

    def record(self, kind: str, agent_key: str, seq: int) -> None:
        """Store the receipt of an applied item (idempotent).

        :raises SourceUnavailableError: the database cannot be written.
        """
        try:
            with session_scope(self.engine) as db:
                claim_receipts(db, [Receipt(RECEIPT_SOURCE, self.key(kind, agent_key, seq))])
        except SQLAlchemyError as exc:
            raise SourceUnavailableError() from exc


class _AgentLocks:
    """One lock per agent key, so two requests of one agent never interleave in this process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


# ---------------------------------------------------------------------------------------------- validation
def _decode_batch(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise MalformedRequestError(f"invalid body: {exc}") from None
    except msgspec.DecodeError:
        raise MalformedRequestError("body is not valid JSON") from None


def _agent_id(agent: _Agent, identity: BridgeIdentity, limits: BridgeLimits) -> str:
    for value in (agent.agentARN, agent.username):
        if value is not None and not 0 < len(value) <= limits.max_agent_chars:
            raise MalformedRequestError(f"agent members must be 1-{limits.max_agent_chars} characters")
    if not (agent.agentARN or agent.username):
        raise MalformedRequestError("agent needs agentARN or username")
    identity.check_agent(agent.agentARN, agent.username)
    return agent.agentARN or agent.username or ""


def _check_items(items: Sequence[_DataItem | _LogItem], agent_id: str, limits: BridgeLimits) -> None:
    if not 1 <= len(items) <= limits.max_items:
        raise MalformedRequestError(f"items must hold 1-{limits.max_items} items")
    previous = 0
    for index, item in enumerate(items):
        if not 1 <= item.seq <= MAX_SEQ:
            raise MalformedRequestError(f"items[{index}].seq must be 1-{MAX_SEQ}")
        if item.seq <= previous:
            raise MalformedRequestError(f"items[{index}].seq must be greater than the previous item's")
        if item.key != f"{agent_id}#{item.seq}":
            raise MalformedRequestError(f"items[{index}].key must be '<agentARN or username>#<seq>'")
        previous = item.seq


def _agent_data(index: int, item: _DataItem, identity: BridgeIdentity, agent_id: str) -> dict[str, Any]:
    where = f"items[{index}].agentData"
    try:
        parsed = decode_agent_data(bytes(item.agentData))
        raw = msgspec.json.decode(item.agentData)
    except msgspec.ValidationError as exc:
        raise MalformedRequestError(f"{where}: {exc}") from None
    except (msgspec.DecodeError, HubError) as exc:
        raise MalformedRequestError(f"{where}: {exc}") from None
    cfg = parsed.configuration
    identity.check_agent(cfg.agent_arn, cfg.username)
    if (cfg.agent_arn or cfg.username) != agent_id:
        raise ForbiddenError()
    if not isinstance(raw, dict):
        raise MalformedRequestError(f"{where} must be an object")
    return raw


def _log_entries(index: int, item: _LogItem, limits: BridgeLimits) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for position, raw in enumerate(item.entries):
        where = f"items[{index}].entries[{position}]"
        try:
            entry = msgspec.json.decode(raw, type=_LogEntry)
            as_dict = msgspec.json.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise MalformedRequestError(f"{where}: {exc}") from None
        if len(entry.text) > limits.max_text_chars:
            raise MalformedRequestError(f"{where}.text exceeds {limits.max_text_chars} characters")
        entries.append(as_dict)
    return entries


# ---------------------------------------------------------------------------------------------- processing
@dataclass(slots=True)
class _Outcome:
    results: list[dict[str, Any]]

    def body(self) -> dict[str, Any]:
        counts = {s: sum(1 for r in self.results if r["status"] == s) for s in ("applied", "duplicate", "stale")}
        return {**counts, "results": self.results}


def _apply_data(
    sink: Any, ledger: BridgeLedger, agent_key: str, items: Sequence[tuple[int, dict[str, Any]]]
) -> _Outcome:
    last, seen = ledger.state("data", agent_key, [seq for seq, _ in items])
    results: list[dict[str, Any]] = []
    for seq, data in items:
        if seq in seen:
            results.append({"seq": seq, "status": "duplicate"})
            continue
        if seq <= last:
            results.append({"seq": seq, "status": "stale"})
            continue
        sink.apply_agent_data(agent_key, data)
        ledger.record("data", agent_key, seq)
        last = seq
        results.append({"seq": seq, "status": "applied"})
    return _Outcome(results)


def _store_logs(
    sink: Any, ledger: BridgeLedger, agent_key: str, items: Sequence[tuple[int, list[dict[str, Any]]]]
) -> _Outcome:
    _, seen = ledger.state("logs", agent_key, [seq for seq, _ in items])
    store: Callable[[str, Sequence[Mapping[str, Any]]], None] | None = getattr(sink, "store_streams_logs", None)
    results: list[dict[str, Any]] = []
    for seq, entries in items:
        if seq in seen:
            results.append({"seq": seq, "status": "duplicate"})
            continue
        if store is not None:
            store(agent_key, entries)
        else:
            for entry in entries:
                level = _LEVELS.get(str(entry.get("level")), logging.INFO)
                _streams_log.log(level, "[%s] %s: %s", agent_key, entry.get("component") or "ccp", entry.get("text"))
        ledger.record("logs", agent_key, seq)
        results.append({"seq": seq, "status": "applied"})
    return _Outcome(results)


# ---------------------------------------------------------------------------------------------- router
def bridge_script() -> bytes:
    """The bridge script's source (package data ``hub/static/connect-hub-bridge.js``)."""
    return importlib.resources.files("hub").joinpath("static/connect-hub-bridge.js").read_bytes()


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Per-item results: applied, duplicate (already applied) or stale (older than applied)."},
    400: {"description": "Malformed body (the reason says what)."},
    401: {"description": "Missing, invalid, expired or revoked token (no reason given; do not retry)."},
    403: {"description": "Not this token's agent, or the page's origin is not allowed (do not retry)."},
    413: {"description": "Body too large."},
    415: {"description": "Body is not JSON."},
    501: {"description": "This hub's sink cannot apply agent data."},
    503: {"description": "Storage unavailable: retry (see Retry-After)."},
}


def bridge_router(
    sink: Any,
    credentials: BridgeCredentials,
    *,
    limits: BridgeLimits | None = None,
    ledger: BridgeLedger | None = None,
) -> APIRouter:
    """The bridge endpoints, applying agent data through ``sink`` (an :class:`AgentDataSink`).

    :param credentials: verifies tokens; its settings give the allowed page origins (CORS).
    :param ledger: where applied items are recorded (default: on the credentials' database).
    """
    limits = limits or BridgeLimits()
    ledger = ledger or BridgeLedger(credentials.engine)
    allowed = frozenset(credentials.settings.allowed_origins)
    locks = _AgentLocks()
    router = APIRouter(tags=["Streams browser bridge"])

    def cors(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None or origin.rstrip("/").lower() not in allowed:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Expose-Headers": "Retry-After"}

    def preflight(request: Request) -> Response:
        headers = cors(request)
        method = request.headers.get("access-control-request-method", "")
        if not headers or method.upper() != "POST":
            return Response(status_code=403, headers={"Vary": "Origin"})
        headers.update(
            {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "authorization, content-type",
                "Access-Control-Max-Age": "600",
            }
        )
        return Response(status_code=204, headers=headers)

    def error(exc: SourceError, headers: dict[str, str]) -> JSONResponse:
        extra = {"Retry-After": "5"} if exc.status_code == 503 else {}
        return JSONResponse({"error": exc.reason}, status_code=exc.status_code, headers={**headers, **extra})

    async def authenticate(request: Request, headers: dict[str, str]) -> tuple[BridgeIdentity, bytes]:
        if request.headers.get("origin") is not None and not headers:
            raise ForbiddenError()
        identity = await run_in_threadpool(credentials.verify, request.headers.get("authorization"))
        check_json_content_type(request.headers)
        body = await read_body(request, limits.max_body_bytes)
        reject_nul(body, "bridge request")
        return identity, body

    async def handle(request: Request, work: Callable[[BridgeIdentity, bytes], Callable[[], _Outcome]]) -> Response:
        headers = cors(request)
        try:
            identity, body = await authenticate(request, headers)
            job = work(identity, body)
            outcome = await run_in_threadpool(job)
        except SourceError as exc:
            return error(exc, headers)
        except HubError as exc:
            return error(MalformedRequestError(f"agent data rejected: {exc}"), headers)
        except Exception:
            _log.exception("bridge request failed")
            return JSONResponse({"error": "internal error"}, status_code=500, headers=headers)
        return JSONResponse(outcome.body(), headers=headers)

    def data_job(identity: BridgeIdentity, body: bytes) -> Callable[[], _Outcome]:
        batch: _DataBatch = _decode_batch(body, _DataBatch)
        agent_id = _agent_id(batch.agent, identity, limits)
        _check_items(batch.items, agent_id, limits)
        items = [(item.seq, _agent_data(i, item, identity, agent_id)) for i, item in enumerate(batch.items)]
        if not callable(getattr(sink, "apply_agent_data", None)):
            raise _AgentDataUnsupportedError()

        def run() -> _Outcome:
            with locks.hold(agent_id):
                return _apply_data(sink, ledger, agent_id, items)

        return run

    def logs_job(identity: BridgeIdentity, body: bytes) -> Callable[[], _Outcome]:
        batch: _LogBatch = _decode_batch(body, _LogBatch)
        agent_id = _agent_id(batch.agent, identity, limits)
        _check_items(batch.items, agent_id, limits)
        if sum(len(item.entries) for item in batch.items) > limits.max_log_entries:
            raise MalformedRequestError(f"at most {limits.max_log_entries} log entries per request")
        items = [(item.seq, _log_entries(i, item, limits)) for i, item in enumerate(batch.items)]

        def run() -> _Outcome:
            with locks.hold(agent_id):
                return _store_logs(sink, ledger, agent_id, items)

        return run

    @router.get(BRIDGE_SCRIPT_PATH, summary="The bridge script for the agent's page", response_class=Response)
    def get_script() -> Response:
        """The JavaScript to load in the CRM page after the Streams library (see docs/bridge.md)."""
        return Response(
            bridge_script(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    for path in (AGENT_DATA_PATH, LOGS_PATH):
        router.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)

    @router.post(
        AGENT_DATA_PATH,
        summary="Agent data from the Streams library in the agent's page (agent::update)",
        responses=_RESPONSES,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _DATA_SCHEMA}}}},
        response_class=Response,
    )
    async def post_agent_data(request: Request) -> Response:
        """Ordered agent-data items of one agent; new ones are applied, redeliveries acknowledged."""
        return await handle(request, data_job)

    @router.post(
        LOGS_PATH,
        summary="Streams log entries (connect.getLog()) from the agent's page",
        responses=_RESPONSES,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _LOG_SCHEMA}}}},
        response_class=Response,
    )
    async def post_logs(request: Request) -> Response:
        """Ordered batches of Streams log entries of one agent; redeliveries acknowledged."""
        return await handle(request, logs_job)

    return router


class _AgentDataUnsupportedError(SourceError):
    """501: the configured sink has no ``apply_agent_data`` (a sink for the Firehose feeds only)."""

    status_code = 501

    def __init__(self) -> None:
        super().__init__("this hub cannot apply agent data")


def mount_bridge(app: FastAPI, settings: Any, sink: Any, *, engine: Engine | None = None) -> None:
    """Mount the bridge on ``app`` when ``ingest.bridge.secret`` is set (``create_app`` calls this).

    :param settings: the Dynaconf settings (``ingest.bridge.*``, ``database.url``); a typed
        :class:`~hub.config.HubSettings` has no bridge settings, so nothing is mounted.
    :param engine: the database for receipts and revocations (default: the sink's public ``engine``
        attribute, else a new engine on ``database.url``).
    """
    bridge = bridge_settings(settings)
    if not bridge.enabled:
        return
    if engine is None:
        engine = getattr(sink, "engine", None)
    if not isinstance(engine, Engine):
        engine = create_engine_from_url(settings.get("database.url"))
    app.include_router(bridge_router(sink, BridgeCredentials(bridge, engine)))


prepare_structs(globals())
