"""Runtime settings: the broker URL the hub's ``broker.url`` means, and the runtime knobs.

``broker.url = "embedded://"`` (the default) is kombu's ``filesystem://`` transport in a folder next
to the SQLite database (``<db dir>/broker``, or ``broker.folder`` when set): it needs no server, works
across processes on one host, and together with the database outbox (the source of truth) and the
relay's stale requeue it loses no delivery. See ``docs/architecture.md`` for why it was chosen over
the ``sqlalchemy`` transport.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from hub.config import EMBEDDED_BROKER_URL, HubSettings
from hub.runtime._transport import SCHEME

__all__ = ["BrokerTarget", "RuntimeOptions", "resolve_broker"]


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    """A concrete broker: the kombu URL and transport options Celery is given."""

    url: str
    transport_options: dict[str, Any]
    kind: str
    """``filesystem``, ``amqp``, ``redis`` or the URL scheme."""
    folder: Path | None = None
    """The embedded broker's folder (``filesystem`` only)."""

    @property
    def embedded(self) -> bool:
        """True for the embedded (no server) broker."""
        return self.kind == "filesystem"


def _embedded_folder(database_url: str, folder: str | None) -> Path:
    if folder:
        return Path(folder).expanduser().resolve()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent / "broker"
    return Path("var/broker").resolve()


def resolve_broker(
    broker_url: str, database_url: str, *, folder: str | None = None, visibility_timeout: float = 3600.0
) -> BrokerTarget:
    """Turn ``broker.url`` into what Celery needs.

    * ``embedded://`` → ``hubfs://`` (kombu's filesystem transport, atomic writes) in ``folder``
      (default: ``<sqlite db dir>/broker``), created here, polled every 50 ms;
    * ``amqp://`` / ``pyamqp://`` → publisher confirms on (``confirm_publish``);
    * ``redis://`` / ``rediss://`` → ``visibility_timeout`` (above the longest hook run).
    """
    scheme = broker_url.split("://", 1)[0].lower()
    if broker_url == EMBEDDED_BROKER_URL or scheme in ("filesystem", SCHEME):
        path = _embedded_folder(database_url, folder)
        queue = path / "queue"
        processed = path / "processed"
        for p in (queue, processed):
            p.mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(processed),
            "store_processed": False,
            "polling_interval": 0.05,
        }
        return BrokerTarget(f"{SCHEME}://", options, "filesystem", path)
    if scheme in ("amqp", "pyamqp", "amqps"):
        return BrokerTarget(broker_url, {"confirm_publish": True}, "amqp")
    if scheme in ("redis", "rediss"):
        return BrokerTarget(broker_url, {"visibility_timeout": visibility_timeout}, "redis")
    return BrokerTarget(broker_url, {}, scheme)


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """The runtime's knobs, from the hub settings (see ``config/settings.toml``)."""

    database_url: str
    broker: BrokerTarget
    queue: str
    relay_batch_size: int
    relay_poll_interval: float
    stale_after: float
    """Seconds after which a ``queued``/``running`` delivery is assumed lost and made due again."""
    max_deliveries_per_message: int
    """How many deliveries (whole ordering groups) the relay packs into one broker message."""

    @classmethod
    def from_settings(cls, hub: HubSettings, raw: Any = None) -> RuntimeOptions:
        """Build from the typed settings; ``raw`` (the dynaconf object) supplies optional extras.

        Extras (all optional): ``broker.folder``, ``broker.queue`` (default ``connect_hub``),
        ``relay.stale_after`` (default: 2 x the longest hook timeout + 30 s),
        ``relay.max_deliveries_per_message`` (default 50).
        """

        def extra(name: str, default: Any) -> Any:
            value = raw.get(name) if raw is not None else None
            return default if value is None else value

        longest = max([hub.workers.hook_timeout, *hub.workers.per_plugin_hook_timeout.values()])
        stale = float(extra("relay.stale_after", 2 * longest + 30.0))
        broker = resolve_broker(
            hub.broker.url,
            hub.database.url,
            folder=extra("broker.folder", os.environ.get("HUB_BROKER__FOLDER")),
            visibility_timeout=max(3600.0, 4 * stale),
        )
        return cls(
            database_url=hub.database.url,
            broker=broker,
            queue=str(extra("broker.queue", "connect_hub")),
            relay_batch_size=hub.relay.batch_size,
            relay_poll_interval=hub.relay.poll_interval,
            stale_after=stale,
            max_deliveries_per_message=int(extra("relay.max_deliveries_per_message", 50)),
        )
