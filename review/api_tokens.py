"""Scoped API tokens for the systems that send (ESPs, SMS gateways): created and revoked by an
admin, audited, checked on every API request.

A token reads `cs_<key_id>_<secret>`: `key_id` (12 hex characters) is public and finds the row;
`secret` is 32 random bytes (URL-safe base64) shown once, at creation, and never stored. The row
keeps sha256(secret).

Why a plain SHA-256 and not argon2 like passwords: a slow, salted hash exists to make guessing a
*low-entropy* secret (something a person chose) expensive. A 256-bit random secret cannot be
guessed from its hash however fast the hash is, so SHA-256 protects it as well as argon2 would,
while costing microseconds instead of ~50 ms of CPU and memory on every API request. A leaked
database therefore yields no usable token.

The row is found by its public `key_id`; the secret's hash is then compared with
`hmac.compare_digest` (constant time), and an unknown `key_id` is compared against a dummy hash
the same way, so the answer's timing says nothing about which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .brands import brand_by_slug
from .errors import AuthenticationError, Conflict, InvalidInput, NotFound, PermissionDenied, checked_choices
from .locks import lock_one
from .models import ApiScope, ApiToken, Brand, Role, User, pk, utcnow

PREFIX = "cs_"
_TOKEN = re.compile(r"^cs_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DUMMY = hashlib.sha256(b"no such token").hexdigest()
MAX_NAME = 80
MAX_DAYS = 3650
# last_used_at is written at most this often per token: a busy client must not turn every read
# into a write (and a SQLite write lock).
LAST_USED_EVERY = timedelta(minutes=1)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _aware(ts: datetime | None) -> datetime | None:
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it (never its secret)."""

    id: int
    name: str
    key_id: str
    scopes: tuple[str, ...]
    brand: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_by: str
    created_at: datetime

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        expires = _aware(self.expires_at)
        if expires is not None and expires <= utcnow():
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # the only time the full token exists outside the client


@dataclass(frozen=True)
class Principal:
    """Who an API request acts as: a live token, its scopes and its brand restriction."""

    token_id: int
    name: str
    key_id: str
    scopes: frozenset[str]
    brand_id: int | None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            granted = ", ".join(sorted(self.scopes)) or "none"
            raise PermissionDenied(f"token '{self.name}' ({self.key_id}) lacks the scope '{scope}' (it has: {granted})")

    def sees_brand(self, brand_id: int) -> bool:
        return self.brand_id is None or self.brand_id == brand_id


def _clean_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    return checked_choices(scopes, ApiScope.ALL, noun="scope", none_chosen="a token needs at least one scope")


def _info(session: Session, t: ApiToken) -> TokenInfo:
    brand = session.get(Brand, t.brand_id) if t.brand_id is not None else None
    creator = session.get(User, t.created_by)
    return TokenInfo(
        id=pk(t),
        name=t.name,
        key_id=t.key_id,
        scopes=tuple(t.scopes),
        brand=brand.slug if brand else None,
        expires_at=_aware(t.expires_at),
        revoked_at=_aware(t.revoked_at),
        last_used_at=_aware(t.last_used_at),
        created_by=creator.username if creator else "?",
        created_at=_aware(t.created_at) or t.created_at,
    )


def create_token(
    session: Session, actor: User, *, name: str, scopes: list[str] | tuple[str, ...], brand_slug: str | None = None, expires_in_days: int | None = 90
) -> NewToken:
    """An admin creates a token. The full token is in the result only: show it once."""
    require_role(actor, Role.ADMIN)
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidInput(f"a token needs a name of 1 to {MAX_NAME} printable characters (who uses it, e.g. 'ESP production')")
    clean = _clean_scopes(scopes)
    brand = brand_by_slug(session, brand_slug.strip()) if brand_slug and brand_slug.strip() else None
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"a token expires after 1 to {MAX_DAYS} days (or never, when no expiry is given)")
    key_id = secrets.token_hex(6)
    while session.exec(select(ApiToken.id).where(ApiToken.key_id == key_id)).first() is not None:  # 48 bits: a clash is rare, never fatal
        key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(
        name=name,
        key_id=key_id,
        secret_sha256=_sha256(secret),
        scopes=clean,
        brand_id=brand.id if brand else None,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days is not None else None,
        created_by=pk(actor),
        created_at=now,
    )
    session.add(row)
    session.flush()
    after = {
        "name": name,
        "key_id": key_id,
        "scopes": clean,
        "brand": brand.slug if brand else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }
    audit.append(session, actor=actor.username, action="api_token_created", entity="api_token", entity_id=row.id, after=after)
    return NewToken(_info(session, row), f"{PREFIX}{key_id}_{secret}")


def revoke_token(session: Session, actor: User, token_id: int) -> TokenInfo:
    """An admin revokes a token: every request with it is refused from the next one on."""
    require_role(actor, Role.ADMIN)
    row = lock_one(session, ApiToken, token_id, "API token")  # two admins revoking at once: one wins, one is told
    if row.revoked_at is not None:
        raise Conflict(f"API token '{row.name}' ({row.key_id}) was already revoked at {_aware(row.revoked_at):%Y-%m-%d %H:%M} UTC")
    row.revoked_at, row.revoked_by = utcnow(), pk(actor)
    session.add(row)
    audit.append(
        session, actor=actor.username, action="api_token_revoked", entity="api_token", entity_id=row.id, after={"name": row.name, "key_id": row.key_id}
    )
    return _info(session, row)


def token_by_key(session: Session, actor: User, key_id: str) -> TokenInfo:
    """A token by its public key id (what `token list` shows), for the CLI's `token revoke`."""
    require_role(actor, Role.ADMIN)
    row = session.exec(select(ApiToken).where(ApiToken.key_id == key_id.strip())).first()
    if row is None:
        raise NotFound(f"no API token with key id '{key_id.strip()[:20]}'")
    return _info(session, row)


def list_tokens(session: Session, actor: User) -> list[TokenInfo]:
    require_role(actor, Role.ADMIN)
    return [_info(session, t) for t in session.exec(select(ApiToken).order_by(col(ApiToken.id))).all()]


def authenticate_token(session: Session, presented: str | None) -> Principal:
    """The live token behind an `Authorization: Bearer …` value, or AuthenticationError (401).

    Unknown, malformed, revoked and expired tokens all get the same message, so a caller learns
    nothing about which tokens exist. No audit event is written for a refusal: an anonymous
    caller must not be able to grow the audit trail at will (refusals are logged by the API)."""
    if not presented:
        raise AuthenticationError("an API token is required: send the header 'Authorization: Bearer <token>'")
    refused = AuthenticationError("invalid, expired or revoked API token")
    m = _TOKEN.match(presented or "")
    row = session.exec(select(ApiToken).where(ApiToken.key_id == m.group(1))).first() if m else None
    expected = row.secret_sha256 if row is not None else _DUMMY
    matches = hmac.compare_digest(_sha256(m.group(2) if m else "-"), expected)
    if row is None or not matches or row.revoked_at is not None:
        raise refused
    now = utcnow()
    expires = _aware(row.expires_at)
    if expires is not None and expires <= now:
        raise refused
    last = _aware(row.last_used_at)
    if last is None or now - last >= LAST_USED_EVERY:
        row.last_used_at = now
        session.add(row)
    return Principal(pk(row), row.name, row.key_id, frozenset(row.scopes), row.brand_id)
