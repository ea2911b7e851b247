"""Private broker servers for tests that restart their broker: Redis and RabbitMQ on free ports.

The machine's shared brokers (5672, 6379) serve other test runs at the same time, so a test that
kills its broker starts its own: ``redis-server`` without persistence, or a second RabbitMQ node with
its own name, ports, data folder, logs, configuration and Erlang cookie (all in a temporary folder).
:meth:`PrivateBroker.stop` stops it (gracefully or with SIGKILL), :meth:`PrivateBroker.start` starts
it again on the same port with the same data folder; :meth:`PrivateBroker.freeze` hangs it (SIGSTOP:
its connections stay open, its clients' calls block) until :meth:`PrivateBroker.thaw`. A missing binary
is a skip locally and a failure under ``CI=true`` (like the shared service fixtures in
``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

__all__ = ["PrivateBroker", "PrivateRabbitMQ", "PrivateRedis", "free_port", "unavailable"]

#: Where Debian keeps the real RabbitMQ scripts (``/usr/sbin/rabbitmq-server`` re-runs them through
#: ``su rabbitmq``, which could not write our root-owned temporary folder).
RABBITMQ_SCRIPTS = os.environ.get("HUB_TEST_RABBITMQ_SCRIPTS", "/usr/lib/rabbitmq/bin")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true`` where every service must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateBroker:
    """One private broker server process (subclasses say which)."""

    kind = ""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self.starts = 0
        self.frozen = False

    @property
    def url(self) -> str:
        """The broker URL for the hub (``HUB_BROKER__URL``)."""
        raise NotImplementedError

    def command(self) -> list[str]:
        """The server command line."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The server's environment."""
        return dict(os.environ)

    def ready(self) -> bool:
        """Whether the server accepts clients."""
        return _listening(self.port)

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (again, on the same port and data folder) and wait until it accepts clients."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self._out = (self.folder / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            self.command(),
            env=self.environment(),
            cwd=self.folder,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} not ready after {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _group(self) -> list[int]:
        """The pids of the server's process group (the server and what it started there, not ``epmd``)."""
        assert self.proc is not None
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, split after the last ")".
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # exited meanwhile
            if int(fields[2]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def _states(self) -> list[str]:
        states = []
        for pid in self._group():
            with contextlib.suppress(OSError, IndexError):
                states.append(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
        return states

    def _signal_group(self, sig: signal.Signals, done: Callable[[list[str]], bool], timeout: float) -> None:
        assert self.proc is not None and self.proc.poll() is None, "not running"
        os.killpg(self.proc.pid, sig)
        deadline = time.monotonic() + timeout
        while not done(self._states()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind}: {sig.name} not in effect after {timeout}s: {self._states()}")
            time.sleep(0.01)

    def freeze(self, timeout: float = 10.0) -> None:
        """Hang the server: SIGSTOP its process group and wait until every process in it is stopped.

        Its sockets stay open and the kernel still accepts connections and buffers what clients send, but
        nothing is answered: a publish waiting for a reply or a confirm blocks until :meth:`thaw`.
        """
        # "Z": a helper that exited and waits to be reaped (by its stopped parent) stops nothing more.
        self._signal_group(signal.SIGSTOP, lambda states: "T" in states and set(states) <= {"T", "Z"}, timeout)
        self.frozen = True

    def thaw(self, timeout: float = 10.0) -> None:
        """Resume a frozen server (SIGCONT to its process group; waits until none is stopped)."""
        if not self.frozen:
            return
        self._signal_group(signal.SIGCONT, lambda states: "T" not in states, timeout)
        self.frozen = False

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Stop the server: ``SIGKILL`` kills its whole process group at once, else a graceful stop."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if self.frozen:  # a stopped process would not act on a graceful stop
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
            self.frozen = False
        if sig == signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        else:
            self._graceful_stop(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        # Whatever the server started in its process group (beam's helpers) goes with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._out is not None:
            self._out.close()
            self._out = None

    def _graceful_stop(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (all starts)."""
        text = "".join(
            p.read_text(errors="replace") for p in sorted(self.folder.glob("server-*.log"), key=os.path.getmtime)
        )
        return text[-chars:]

    def close(self) -> None:
        """Kill the server for good (fixture teardown)."""
        self.stop(signal.SIGKILL, timeout=20)


class PrivateRedis(PrivateBroker):
    """``redis-server`` on a free port, no persistence: a stop loses everything it held."""

    kind = "redis"

    def __init__(self, folder: Path, binary: str) -> None:
        super().__init__(folder)
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.folder),
        ]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @classmethod
    def create(cls, folder: Path) -> PrivateRedis:
        """A started server, or a skip (failure under ``CI=true``) without ``redis-server``."""
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server not found on PATH: cannot start a private Redis to restart")
        assert binary is not None
        server = cls(folder, binary)
        server.start()
        return server


class PrivateRabbitMQ(PrivateBroker):
    """A second RabbitMQ node: own node name, AMQP and distribution ports, data, logs, cookie, config.

    ``RABBITMQ_CONF_ENV_FILE`` points at an empty file so the machine's ``rabbitmq-env.conf`` (which
    names the shared node) is not read; ``RABBITMQ_CONFIG_FILE`` at our own ``rabbitmq.conf`` (the
    machine's one binds 5672). ``HOME`` is our folder: Erlang creates the node's cookie there and
    ``rabbitmqctl`` reads it from there. The node registers its name with the machine's ``epmd``
    (harmless: a distinct name), or starts one if none runs.
    """

    kind = "rabbitmq"

    def __init__(self, folder: Path, scripts: Path) -> None:
        super().__init__(folder)
        self.scripts = scripts
        self.dist_port = free_port()
        self.node = f"hubtest-{uuid.uuid4().hex[:8]}@localhost"
        (folder / "home").mkdir(exist_ok=True)
        (folder / "rabbitmq-env.conf").write_text("")
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            # A nearly full shared disk must not block our publishers (the alarm would, for minutes).
            "disk_free_limit.absolute = 1MB\n"
        )

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        f = self.folder
        env.update(
            HOME=str(f / "home"),
            RABBITMQ_CONF_ENV_FILE=str(f / "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=str(f / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(f / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(f / "enabled_plugins"),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(f / "mnesia"),
            RABBITMQ_LOG_BASE=str(f / "log"),
            RABBITMQ_PID_FILE=str(f / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def command(self) -> list[str]:
        return [str(self.scripts / "rabbitmq-server")]

    def rabbitmqctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n <our node> ARGS``; returns its output (raises on failure)."""
        result = subprocess.run(
            [str(self.scripts / "rabbitmqctl"), "-n", self.node, *args],
            env=self.environment(),
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def _graceful_stop(self, sig: signal.Signals) -> None:
        try:
            self.rabbitmqctl("stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            super()._graceful_stop(sig)

    @classmethod
    def create(cls, folder: Path) -> PrivateRabbitMQ:
        """A started node, or a skip (failure under ``CI=true``) without RabbitMQ and Erlang."""
        scripts = Path(RABBITMQ_SCRIPTS)
        if not (scripts / "rabbitmq-server").exists():
            found = shutil.which("rabbitmq-server")
            scripts = Path(found).parent if found else scripts
        missing = [n for n in ("rabbitmq-server", "rabbitmqctl") if not (scripts / n).exists()]
        if missing or shutil.which("erl") is None:
            unavailable(
                f"RabbitMQ scripts {missing} not in {scripts} (HUB_TEST_RABBITMQ_SCRIPTS) or erl not on PATH: "
                "cannot start a private RabbitMQ node to restart"
            )
        if os.geteuid() == 0 and scripts == Path("/usr/sbin"):
            unavailable("only Debian's su wrapper /usr/sbin/rabbitmq-server found: set HUB_TEST_RABBITMQ_SCRIPTS")
        server = cls(folder, scripts)
        server.start(timeout=90)
        return server
