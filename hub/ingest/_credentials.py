"""Per-agent credentials of the Streams browser bridge: expiring, revocable tokens bound to one agent.

A token is a JWT (PyJWT, HS256) signed with ``ingest.bridge.secret``:

* ``sub``: the agent it is bound to, its agent ARN (``arn:aws:connect:...:agent/...``) or its username;
* ``jti``: the token id, what ``connect-hub bridge revoke TOKEN_ID`` revokes;
* ``iat`` / ``exp``: issued at / expires at (``ingest.bridge.token_ttl`` seconds later, default 12 h);
* ``iss`` / ``aud``: fixed (``connect-hub`` / ``connect-hub-bridge``), so no other JWT signed with the
  same secret is accepted here.

Revocations are stored in the hub database's ``ingest_receipts`` table (source ``bridge-revoked``, key
the token id): no extra table, and the same transactionality and backends as every other dedupe key. A
revocation only has to outlive the token's expiry, so keep ``token_ttl`` shorter than the receipt
retention used with :func:`hub.db.prune_receipts`.

A request's agent data must belong to the token's agent (:meth:`BridgeIdentity.check_agent`), otherwise
the endpoint answers 403. Authentication failures all look the same to the caller (401, no reason).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.db import IngestReceipt, Receipt, claim_receipts, session_scope, utcnow
from hub.sources.errors import SourceError, SourceUnavailableError, UnauthorizedError

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "MIN_SECRET_LENGTH",
    "REVOKED_SOURCE",
    "BridgeCredentials",
    "BridgeIdentity",
    "BridgeSettings",
    "ForbiddenError",
    "IssuedToken",
    "bridge_settings",
]

#: Default token lifetime: one agent shift (12 h).
DEFAULT_TOKEN_TTL = 12 * 3600
#: Shortest accepted ``ingest.bridge.secret`` (HS256 wants at least 256 bits of key).
MIN_SECRET_LENGTH = 32
#: ``ingest_receipts.source`` of a revoked token id.
REVOKED_SOURCE = "bridge-revoked"
_ISSUER = "connect-hub"
_AUDIENCE = "connect-hub-bridge"
_ALGORITHM = "HS256"
_MAX_SUBJECT = 512
_MAX_TOKEN = 4096


class ForbiddenError(SourceError):
    """Authenticated, but not allowed (another agent's data, an origin not allowed). Reason is generic."""

    status_code = 403

    def __init__(self, reason: str = "forbidden") -> None:
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """``ingest.bridge.*``: the bridge's token secret, token lifetime and allowed page origins.

    An empty ``secret`` disables the bridge endpoints (nothing can authenticate).
    """

    secret: str = ""
    token_ttl: int = DEFAULT_TOKEN_TTL
    allowed_origins: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured."""
        return bool(self.secret)


def _origin(value: str) -> str:
    return value.strip().rstrip("/").lower()


def bridge_settings(settings: Any) -> BridgeSettings:
    """Read and check ``ingest.bridge.*`` from a Dynaconf object (or any object with ``get(name)``).

    :raises ValueError: a value of the wrong type, a secret shorter than :data:`MIN_SECRET_LENGTH`, a
        non-positive TTL, or an origin that is not ``scheme://host[:port]``.
    """
    get = getattr(settings, "get", None)
    if get is None:
        return BridgeSettings()
    secret = get("ingest.bridge.secret") or ""
    ttl = get("ingest.bridge.token_ttl")
    origins = get("ingest.bridge.allowed_origins") or []
    if not isinstance(secret, str):
        raise ValueError("ingest.bridge.secret must be a string")
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"ingest.bridge.secret must be at least {MIN_SECRET_LENGTH} characters")
    if ttl is None:
        ttl = DEFAULT_TOKEN_TTL
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError("ingest.bridge.token_ttl must be a positive integer (seconds)")
    if isinstance(origins, str):
        origins = [o for o in origins.split(",") if o.strip()]
    if not isinstance(origins, Sequence) or not all(isinstance(o, str) for o in origins):
        raise ValueError("ingest.bridge.allowed_origins must be a list of origins")
    cleaned = tuple(_origin(o) for o in origins)
    for origin in cleaned:
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise ValueError(f"ingest.bridge.allowed_origins: {origin!r} is not an origin (scheme://host[:port])")
    return BridgeSettings(secret=secret, token_ttl=ttl, allowed_origins=cleaned)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted token and what it is bound to."""

    token: str
    token_id: str
    agent: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class BridgeIdentity:
    """Who a valid token speaks for."""

    agent: str
    token_id: str
    expires_at: dt.datetime

    @property
    def is_arn(self) -> bool:
        """Whether the token is bound to an agent ARN (else to a username)."""
        return self.agent.startswith("arn:")

    def check_agent(self, agent_arn: str | None, username: str | None) -> None:
        """Refuse data of another agent: the bound ARN (or username) must equal the data's.

        :raises ForbiddenError: the data's agent is not the token's (or the bound member is missing).
        """
        presented = agent_arn if self.is_arn else username
        if not presented or not secrets.compare_digest(presented.encode(), self.agent.encode()):
            raise ForbiddenError()


class BridgeCredentials:
    """Mints, verifies and revokes bridge tokens.

    :param settings: the bridge settings (the secret signs and verifies).
    :param engine: the hub database, where revocations are stored (``ingest_receipts``).
    :param clock: the current time (tests pass a fixed one).
    """

    def __init__(
        self,
        settings: BridgeSettings,
        engine: Engine,
        *,
        clock: Any = utcnow,
    ) -> None:
        if not settings.enabled:
            raise ValueError("ingest.bridge.secret is not set: bridge tokens cannot be minted or verified")
        self.settings = settings
        self.engine = engine
        self._clock = clock

    def mint(self, agent: str, *, ttl: int | None = None) -> IssuedToken:
        """A new token for ``agent`` (agent ARN or username), valid ``ttl`` seconds (default: settings).

        :raises ValueError: an empty or overlong agent, or a non-positive ttl.
        """
        agent = agent.strip()
        if not agent or len(agent) > _MAX_SUBJECT:
            raise ValueError(f"agent must be 1-{_MAX_SUBJECT} characters (agent ARN or username)")
        lifetime = self.settings.token_ttl if ttl is None else ttl
        if lifetime <= 0:
            raise ValueError("ttl must be positive")
        now: dt.datetime = self._clock()
        expires = now + dt.timedelta(seconds=lifetime)
        token_id = secrets.token_hex(16)  # hex: never starts with "-", so `bridge revoke ID` always parses
        claims = {
            "sub": agent,
            "jti": token_id,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": _ISSUER,
            "aud": _AUDIENCE,
        }
        token = jwt.encode(claims, self.settings.secret, algorithm=_ALGORITHM)
        return IssuedToken(token=token, token_id=token_id, agent=agent, expires_at=expires.replace(microsecond=0))

    def verify(self, authorization: str | None) -> BridgeIdentity:
        """The identity of a ``Bearer`` token from an ``Authorization`` header.

        :raises UnauthorizedError: missing, malformed, badly signed, expired or revoked (one generic reason).
        :raises SourceUnavailableError: the revocation list cannot be read (the caller retries).
        """
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
            raise UnauthorizedError()
        try:
            claims: Mapping[str, Any] = jwt.decode(
                token,
                self.settings.secret,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                issuer=_ISSUER,
                options={"require": ["sub", "jti", "exp", "iat", "iss", "aud"]},
                leeway=0,
            )
        except jwt.PyJWTError:
            raise UnauthorizedError() from None
        agent, token_id, exp = claims["sub"], claims["jti"], claims["exp"]
        if not isinstance(agent, str) or not isinstance(token_id, str) or not agent or not token_id:
            raise UnauthorizedError()
        expires_at = dt.datetime.fromtimestamp(int(exp), dt.UTC)
        if expires_at <= self._clock():  # PyJWT checks against the wall clock; honour ours too
            raise UnauthorizedError()
        if self.is_revoked(token_id):
            raise UnauthorizedError()
        return BridgeIdentity(agent=agent, token_id=token_id, expires_at=expires_at)

    def is_revoked(self, token_id: str) -> bool:
        """Whether ``token_id`` was revoked.

        :raises SourceUnavailableError: the database cannot be read.
        """
        query = sa.select(sa.literal(1)).where(
            IngestReceipt.source == REVOKED_SOURCE, IngestReceipt.key == token_id[:_MAX_SUBJECT]
        )
        try:
            with session_scope(self.engine, write=False) as db:
                return db.execute(query).first() is not None
        except SQLAlchemyError as exc:
            raise SourceUnavailableError() from exc

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; returns ``False`` when it was already revoked.

        :raises ValueError: an empty or overlong id.
        """
        token_id = token_id.strip()
        if not token_id or len(token_id) > _MAX_SUBJECT:
            raise ValueError(f"token id must be 1-{_MAX_SUBJECT} characters")
        with session_scope(self.engine) as db:
            return bool(claim_receipts(db, [Receipt(REVOKED_SOURCE, token_id)], now=self._clock()))
