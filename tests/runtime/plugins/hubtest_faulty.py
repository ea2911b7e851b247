"""Test plugins that misbehave: ``killer`` (waits to be SIGKILLed on attempt 1), ``hang`` (never returns
on attempt 1), ``flaky`` (raises until its ``ok_path`` file exists)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from hubtest_common import record

from hub.hookspecs import hookimpl


class Killer:
    """On the first attempt of ``on_contact_connected`` writes its pid to ``pid_path`` and blocks."""

    CONNECT_HUB_API = "1.0"

    @hookimpl
    def on_contact_connected(self, contact: Any, agent: Any, ctx: Any) -> None:
        """Record, then block on attempt 1 (the test kills this process)."""
        record(ctx, "on_contact_connected", contact=contact.contact_id, phase="start")
        if ctx.attempt == 1:
            Path(str(ctx.settings["pid_path"])).write_text(str(os.getpid()))
            threading.Event().wait(120)
        record(ctx, "on_contact_connected", contact=contact.contact_id, phase="done")


class Hang:
    """``on_contact_connected`` never returns on attempt 1 (past the plugin's hook timeout)."""

    CONNECT_HUB_API = "1.0"

    @hookimpl
    def on_contact_connected(self, contact: Any, agent: Any, ctx: Any) -> None:
        """Hang on attempt 1, record on later attempts."""
        if ctx.attempt == 1:
            threading.Event().wait(120)
        record(ctx, "on_contact_connected", contact=contact.contact_id)


class Flaky:
    """``on_agent_state_change`` raises until the file ``ok_path`` exists."""

    CONNECT_HUB_API = "1.0"

    @hookimpl
    def on_agent_state_change(self, agent: Any, change: Any, ctx: Any) -> None:
        """Fail unless allowed; record successes."""
        if not Path(str(ctx.settings["ok_path"])).exists():
            raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
        record(ctx, "on_agent_state_change", new=change.new_state)


killer = Killer()
hang = Hang()
flaky = Flaky()
