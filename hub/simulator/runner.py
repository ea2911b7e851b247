"""Running a simulation: as fast as possible, or paced against the wall clock at a chosen rate.

:class:`Simulation` bundles the engine, the behaviour model and the action backend behind one lock,
so a hub can call the backend from other threads while :meth:`Simulation.advance` runs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.simulator.backend import SimulatedBackend
from hub.simulator.behaviour import Behaviour
from hub.simulator.clock import epoch_ms
from hub.simulator.config import SimulationConfig
from hub.simulator.engine import ContactCenter
from hub.simulator.model import Contact
from hub.simulator.sinks import CollectingSink, Sink, flush_sink, tick_sink
from hub.simulator.voice_biometrics import SimulatedVoiceId
from hub.voice_biometrics import VoiceIdError

__all__ = ["Progress", "RunResult", "Simulation", "run"]


@dataclass(frozen=True)
class Progress:
    """A progress report: simulated seconds done out of the total, and counters so far."""

    sim_seconds: float
    total_seconds: float
    contacts: int
    completed: int
    queued: int
    agents_logged_in: int


@dataclass(frozen=True)
class RunResult:
    """What a run did."""

    sim_seconds: float
    contacts: int
    completed: int
    wall_seconds: float


class Simulation:
    """A seeded contact center plus its behaviour model, advanced explicitly."""

    def __init__(self, config: SimulationConfig, seed: int, sink: Sink | None = None) -> None:
        """Build the center; nothing happens until :meth:`advance` runs."""
        self.config = config
        self.seed = seed
        self.sink: Sink = sink if sink is not None else CollectingSink()
        self.lock = threading.RLock()
        self.behaviour = Behaviour(seed)
        self.center = ContactCenter(config, seed, self.sink)
        self.voice_id = SimulatedVoiceId(seed, clock_ms=lambda: self.center.now)
        self.voice_id_domain = self._set_up_voice_id()
        self.start_ms = epoch_ms(config.start)
        self.behaviour.start(self.center)

    def _set_up_voice_id(self) -> str:
        """A domain where customers C-00001..C-00300 are enrolled and three fraudster voices are watched."""
        vid = self.voice_id
        domain_id: str = vid.create_domain("simulated")["Domain"]["DomainId"]
        for n in range(1, 301):
            vid.enroll_speaker(domain_id, f"C-{n:05d}", f"C-{n:05d}")
        for n in range(1, 4):
            vid.register_voice(domain_id, f"fraudster:{n}", [])
        rng = random.Random(f"voiceid-callers:{self.seed}")

        def start(contact: Contact) -> None:
            claimed = contact.attributes.get("customerId")
            draw = rng.random()
            voice = f"fraudster:{rng.randint(1, 3)}" if draw < 0.03 else "synthetic:tts" if draw < 0.05 else claimed
            try:
                vid.start_session(domain_id, contact.initial_contact_id, claimed, voice)
            except VoiceIdError:
                return

        def ctr_result(contact: Contact) -> dict[str, Any] | None:
            if contact.channel != "VOICE" or contact.connected_to_agent_ms is None:
                return None
            try:
                vid.end_session(domain_id, contact.initial_contact_id)
            except VoiceIdError:
                return None
            return vid.ctr_result(domain_id, contact.initial_contact_id)

        self.behaviour.on_voice_connected = start
        self.center.emitter.voice_id_result = ctr_result
        return domain_id

    @property
    def now_ms(self) -> int:
        """Simulated time, epoch milliseconds."""
        return self.center.now

    @property
    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return (self.center.now - self.start_ms) / 1000

    def backend(self, agent: str) -> SimulatedBackend:
        """The CTI action backend acting as ``agent`` (resource id, username, ARN or index).

        It is also a ``hub.ActionBackend``: use ``Hub(backend_factory=simulation.backend)``.
        """
        return SimulatedBackend(self, self.center.agent(agent).agent_id)

    def run(
        self,
        until: float,
        rate: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        *,
        tick: float = 1.0,
    ) -> None:
        """Advance ``until`` more simulated seconds, paced at ``rate`` x real time (``None``: at once).

        The lock is released between ticks, so backend calls from other threads get in.
        """
        if until < 0 or (rate is not None and rate <= 0) or tick <= 0:
            raise ValueError("until must be >= 0, rate > 0 and tick > 0")
        wall_start = time.monotonic()
        done = 0.0
        while done < until:
            step = min(tick, until - done)
            self.advance(step)
            done += step
            if rate is not None:
                delay = wall_start + done / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing against the wall clock, not synchronisation
            if progress is not None:
                progress(self.progress(until))

    def advance(self, seconds: float) -> None:
        """Run ``seconds`` of simulated time (every event due in that window)."""
        with self.lock:
            until = self.center.now + int(seconds * 1000)
            while self.center.scheduler.run_next(until):
                self.center.flush()
            self.center.flush()
            tick_sink(self.sink, self.center.now)

    def drain(self, max_seconds: float = 3600.0, step: float = 10.0) -> None:
        """Stop arrivals and run until every contact is complete (or ``max_seconds`` passed)."""
        self.behaviour.stop_arrivals()
        waited = 0.0
        while self.center.busy() and waited < max_seconds:
            self.advance(step)
            waited += step

    def progress(self, total_seconds: float) -> Progress:
        """Counters for a progress display."""
        contacts = self.center.contacts.values()
        return Progress(
            sim_seconds=self.elapsed,
            total_seconds=total_seconds,
            contacts=len(self.center.contacts),
            completed=sum(1 for c in contacts if c.done),
            queued=len(self.center.queued_contacts()),
            agents_logged_in=sum(1 for a in self.center.agents.values() if a.logged_in),
        )


def run(
    config: SimulationConfig,
    seed: int,
    until: float,
    rate: float | None = None,
    progress: Callable[[Progress], None] | None = None,
    *,
    sink: Sink | None = None,
    drain: bool = False,
    tick: float = 1.0,
) -> RunResult:
    """Simulate ``until`` seconds from ``config.start`` into ``sink``.

    ``rate=None`` runs as fast as possible; ``rate=r`` paces simulated time at ``r`` simulated
    seconds per wall second (1.0 = real time). ``progress`` is called after every ``tick``
    simulated seconds. ``drain=True`` then stops arrivals and lets open contacts finish.
    """
    sim = Simulation(config, seed, sink)
    wall_start = time.monotonic()
    sim.run(until, rate, progress, tick=tick)
    if drain:
        sim.drain()
    flush_sink(sim.sink)
    return RunResult(
        sim_seconds=sim.elapsed,
        contacts=len(sim.center.contacts),
        completed=sum(1 for c in sim.center.contacts.values() if c.done),
        wall_seconds=time.monotonic() - wall_start,
    )
