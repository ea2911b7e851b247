"""Replay a scenario in the oracle's format and print what the hub emits, line for line like the oracle.

A scenario is ``{"configuration": {...}, "steps": [...]}`` (or a bare list of steps, or one
``{"snapshot": ...}``) with ``snapshot``, ``configuration``, ``action``, ``inject`` and ``comment``
steps. The output lines have the oracle's shape (``kind``, ``step``, ``seq``; events add ``depth``,
``event`` and ``payload``), so ``connect-hub replay X.json`` and ``node oracle.js X.json`` compare
line by line on ``(step, depth, event, payload)`` for ``kind == "event"``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub._actions import BackendRequest, Callbacks, ScriptedBackend, ScriptedResponse, with_authentication
from hub._agent import Agent, AgentSnapshot, AgentStateChange
from hub._connection import Connection
from hub._constants import AgentEvents
from hub._contact import Contact, ContactSnapshot
from hub._data import AgentData
from hub._endpoint import Endpoint
from hub._errors import ActionError, HubError, MalformedAgentDataError, UnsupportedActionError
from hub._session import AgentSession

__all__ = ["HIDDEN_EVENTS", "ORACLE_AUTH_TOKEN", "load_scenario", "replay_scenario", "summarize_payload"]

ORACLE_AUTH_TOKEN = "ORACLE-AUTH-TOKEN"
"""The placeholder auth token the oracle's backend calls carry."""

HIDDEN_EVENTS = frozenset(
    {
        "log",
        "server_bound_internal_log",
        "api_metric",
        "client_metric",
        "click_stream_data",
        "softphone_stats",
        "softphone_report",
        "client_side_logs",
        "api_response",
        "master_response",
    }
)
"""Transport and telemetry events the oracle leaves out of its output."""

_POLLING = frozenset(
    {
        "getAgentSnapshot",
        "getAgentConfiguration",
        "getAgentPermissions",
        "getAgentStates",
        "getDialableCountryCodes",
        "getRoutingProfileQueues",
    }
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def load_scenario(doc: Any) -> dict[str, Any]:
    """Normalise a scenario document: a ``{"steps": [...]}`` object, a list of steps or one snapshot step."""
    if isinstance(doc, list):
        return {"steps": doc}
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list):
        return doc
    if isinstance(doc, dict) and "snapshot" in doc:
        return {"steps": [doc]}
    raise ValueError('a scenario is a list of steps, {"steps": [...]} or a single {"snapshot": ...}')


def _state_type(getter: Callable[[], Any]) -> str | None:
    try:
        state = getter()
    except HubError:
        return None
    return state.type if state is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Endpoint):
        return value.to_dict()
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, HubError | Exception):
        return {}
    return value


def summarize_payload(data: Any, event_name: str) -> Any:
    """The oracle's summary of an event payload (``{"type": "Agent", ...}`` and so on)."""
    if data is None:
        return None
    if isinstance(data, ContactSnapshot):
        return {"type": "ContactSnapshot", "contactId": data.contact_id, "state": _state_type(data.get_state)}
    if isinstance(data, Contact):
        summary: dict[str, Any] = {
            "type": "Contact",
            "contactId": data.contact_id,
            "state": _state_type(data.get_state),
        }
        if summary["state"] is None:
            summary["gone"] = True
        return summary
    if isinstance(data, Agent):
        state = data.get_state()
        result: dict[str, Any] = {
            "type": "AgentSnapshot" if isinstance(data, AgentSnapshot) else "Agent",
            "state": state.name,
            "stateType": state.type,
        }
        nxt = data.get_next_state()
        if nxt is not None:
            result["nextState"] = nxt.name
        return result
    if isinstance(data, AgentStateChange):
        return {
            "type": "AgentStateChange",
            "oldState": data.old_state,
            "newState": data.new_state,
            "agentIsAgent": isinstance(data.agent, Agent),
        }
    if event_name == AgentEvents.UPDATE and isinstance(data, AgentData):
        snap = data.snapshot
        return {
            "type": "AgentData",
            "state": snap.state.name,
            "stateType": snap.state.type,
            "nextState": snap.next_state.name if snap.next_state else None,
            "contacts": [[c.contact_id, c.state.type] for c in snap.contacts],
        }
    return {"type": "object", "value": _jsonable(data)}


class _Replay:
    """One replay run: a session with a scripted backend, recording what happens."""

    def __init__(self, scenario: Mapping[str, Any], clock: Callable[[], float] | None) -> None:
        self.scenario = scenario
        self.lines: list[dict[str, Any]] = []
        self.step = -1
        # The bundle's AWS client has no model for these, so the library always fails them.
        self.backend = ScriptedBackend(
            unsupported=frozenset({"addNewConnection", "transferContact", "destroyContact", "updateContactAttributes"}),
            unsupported_message="No such method exists on AWS client: {operation}",
        )
        self.backend.listeners.append(self._on_backend_call)
        self.session = AgentSession("replay", backend=self.backend, clock=clock or time.time)
        self.session.bus.subscribe_all(self._on_event)
        self.session.request_listeners.append(self._on_rejected_request)
        self.configuration: dict[str, Any] | None = None
        self.configuration_loaded = False

    def emit(self, kind: str, **fields: Any) -> None:
        self.lines.append({"kind": kind, "step": self.step, "seq": len(self.lines), **fields})

    def _on_event(self, data: Any, name: str) -> None:
        if name in HIDDEN_EVENTS:
            return
        depth = self.session.bus.depth - 1
        self.emit("event", depth=depth, event=name, payload=summarize_payload(data, name))

    def _on_backend_call(self, request: BackendRequest, response: ScriptedResponse) -> None:
        if request.operation in _POLLING or isinstance(response.error, UnsupportedActionError):
            return
        line: dict[str, Any] = {
            "method": request.operation,
            "target": request.target,
            "body": _jsonable(with_authentication(request.operation, request.params, ORACLE_AUTH_TOKEN)),
            "bearerHeader": True,
        }
        if response.error is not None:
            line["respondedError"] = {"code": response.error.code, "message": response.error.message}
        self.emit("backend_call", **line)

    def _on_rejected_request(self, request: BackendRequest, error: ActionError) -> None:
        self.emit("backend_call", method=request.operation, sdkError={"code": error.code, "message": error.message})

    def set_configuration(self, cfg: dict[str, Any]) -> None:
        self.configuration = cfg
        self.backend.respond_to("getAgentConfiguration", ScriptedResponse(data={"configuration": cfg}))

    def run(self) -> list[dict[str, Any]]:
        if self.scenario.get("configuration") is not None:
            self.set_configuration(self.scenario["configuration"])
        for index, step in enumerate(self.scenario["steps"]):
            self.step = index
            if step.get("label"):
                self.emit("step", label=step["label"])
            if step.get("snapshot"):
                self.snapshot_step(step)
            elif step.get("configuration"):
                self.configuration_step(step["configuration"])
                self.configuration_loaded = True
            elif step.get("action"):
                self.action_step(step)
            elif step.get("inject"):
                self.session.inject(step["inject"], step.get("data"))
            elif "comment" not in step:
                raise ValueError(f"step {index} has none of snapshot/configuration/action/inject/comment")
        return self.lines

    def apply(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except MalformedAgentDataError as err:
            self.emit("error", where="hub", text=str(err))

    def configuration_step(self, cfg: dict[str, Any]) -> None:
        self.set_configuration(cfg)
        self.apply(lambda: self.session.apply_configuration(cfg))

    def snapshot_step(self, step: Mapping[str, Any]) -> None:
        if step.get("configuration"):
            self.set_configuration(step["configuration"])
        if not self.configuration_loaded and self.configuration is not None:
            self.apply(lambda: self.session.apply_configuration(self.configuration or {}))
            self.configuration_loaded = True
        self.apply(lambda: self.session.apply_snapshot(step["snapshot"]))

    # ------------------------------------------------------------------ actions
    def action_step(self, step: Mapping[str, Any]) -> None:
        target, _, method = str(step["action"]).partition(".")
        line: dict[str, Any] = {"action": step["action"]}
        if step.get("contactId"):
            line["contactId"] = step["contactId"]
        try:
            obj = self.resolve_target(target, step)
            if isinstance(obj, Connection):
                line["connectionId"] = obj.connection_id
            if step.get("args") is not None:
                line["args"] = step["args"]
            self.emit("action", **line)
            self.backend.respond_next(ScriptedResponse.from_spec(step.get("respond")))
            args = [self.resolve_arg(a, step["action"]) for a in step.get("args") or []]
            result = _invoke(obj, method, args)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
        except (HubError, ValueError, TypeError, AttributeError) as err:
            if not any(x["kind"] == "action" and x["step"] == self.step for x in self.lines):
                self.emit("action", **line)
            self.emit("action_threw", action=step["action"], error=str(err))
        finally:
            self.backend._queue.clear()

    def resolve_target(self, target: str, step: Mapping[str, Any]) -> Any:
        session = self.session
        if target == "agent":
            return session.agent
        contact = session.contact(str(step.get("contactId")))
        if target == "contact":
            return contact
        if target != "connection":
            raise ValueError(f"unknown action target {target}")
        which = step.get("connection") or "agent"
        conn: Connection | None
        if which == "agent":
            conn = contact.get_agent_connection()
        elif which == "initial":
            conn = contact.get_initial_connection()
        elif which == "thirdParty":
            conn = contact.get_single_active_third_party_connection()
        else:
            conn = next((c for c in contact.get_connections() if c.connection_id == which), None)
        if conn is None:
            raise ValueError(f"no connection {which}")
        return conn

    def resolve_arg(self, value: Any, action: str) -> Any:
        if value == "$callbacks":
            return Callbacks(success=self._recorder(action, "success"), failure=self._recorder(action, "failure"))
        if value == "$callback":
            return self._recorder(action, "called")
        if isinstance(value, str) and value.startswith("$agentState:"):
            name = value.split(":", 1)[1]
            for state in self.session.agent.get_agent_states():
                if state.name == name:
                    return state
            raise ValueError(f"no agent state named {name}")
        if isinstance(value, list):
            return [self.resolve_arg(v, action) for v in value]
        if isinstance(value, dict):
            return {
                k: self._recorder(f"{action}#{k}", "called") if v == "$callback" else self.resolve_arg(v, action)
                for k, v in value.items()
            }
        return value

    def _recorder(self, action: str, result: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            line: dict[str, Any] = {"action": action, "result": result}
            if result == "failure":
                line["error"] = _jsonable(args[0]) if args else None
                if len(args) > 1:
                    line["data"] = _jsonable(args[1])
            else:
                line["data"] = _jsonable(args[0]) if args else None
            self.emit("callback", **line)

        return record


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _invoke(obj: Any, method: str, args: list[Any]) -> Any:
    """Call a Streams-named method on the hub's object with the library's argument conventions."""
    if method in {"setState", "setStatus"}:
        state, callbacks, options = [*args, None, None, None][:3]
        enqueue = bool(options.get("enqueueNextState")) if isinstance(options, dict) else None
        return obj.set_state(state, callbacks, enqueue_next_state=enqueue)
    if method == "connect" and isinstance(obj, Agent):
        endpoint, params = [*args, None, None][:2]
        params = params or {}
        timeout = params.get("timeout")
        return obj.connect(
            endpoint,
            queue_arn=params.get("queueARN") or params.get("queueId"),
            related_contact_id=params.get("relatedContactId"),
            success=params.get("success"),
            failure=params.get("failure"),
            timeout=timeout / 1000.0 if isinstance(timeout, int | float) else None,
        )
    name = {
        "onACW": "on_acw",
        "getAWSAccountId": "get_aws_account_id",
        "getAllQueueARNs": "get_all_queue_arns",
    }.get(method, _snake(method))
    fn = getattr(obj, name, None)
    if fn is None or name.startswith("_"):
        raise AttributeError(f"no such API method {method}")
    return fn(*args)


def replay_scenario(scenario: Any, *, clock: Callable[[], float] | None = None) -> list[dict[str, Any]]:
    """Run a scenario through a fresh agent session and return the output lines (oracle format)."""
    return _Replay(load_scenario(scenario), clock).run()
