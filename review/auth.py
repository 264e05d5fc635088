"""Users, passwords and roles. Every service function re-checks the role itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, or_, select

from . import audit
from .config import settings
from .errors import AccountLocked, AuthenticationError, Conflict, InvalidInput, NotFound, NotReady, PermissionDenied
from .models import AuditEvent, Role, User, UserReviewRole, utcnow

_hasher = PasswordHasher()
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_hash(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(user: User, password: str) -> bool:
    return verify_hash(user.password_hash, password)


def signing_hash(user: User) -> str | None:
    """What a signature's password is checked against: the signing password of a company (SSO)
    account when it set one (review.sso), else the login password; None when the account has
    neither (an SSO account before its first signing password)."""
    return user.signing_password_hash or user.password_hash or None


def needs_signing_password(user: User) -> bool:
    """A company account that must set its signing password before it can sign."""
    return signing_hash(user) is None


def check_signing_password(user: User, password: str) -> bool:
    """The second identification component of an electronic signature (21 CFR 11.200(a))."""
    held = signing_hash(user)
    return bool(password) and held is not None and verify_hash(held, password)


def require_signing_password(user: User) -> None:
    if needs_signing_password(user):
        raise NotReady("Set your signing password first (the 'Signing password' form): a company account signs with it.")


def verify_signer(session: Session, user: User, password: str, who: dict) -> None:
    """The password check of an electronic signature (single or bulk): the account must have a
    signing password, must not be paused by the lock-out, and the password must match; a wrong
    one is an AuthenticationError carrying `who` (recorded, and counted towards the lock-out)."""
    require_signing_password(user)
    ensure_not_locked(session, user.username, user.id, who)
    if not check_signing_password(user, password):
        raise AuthenticationError("Signature refused: the password does not match.", **who)


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip())).first()
    # The attempted name, cut and stripped of control characters: it is untrusted input.
    tried = "".join(ch for ch in username.strip()[:64] if ch.isprintable()) or "(empty)"
    who: dict[str, Any] = {"actor": tried, "attempted": "login", "entity": "user", "entity_id": user.id if user else ""}
    # Unknown names are counted and paused the same way: the answer never tells which names exist.
    ensure_not_locked(session, tried, user.id if user else None, who)
    if user is None or not user.active or not check_password(user, password):
        raise AuthenticationError("Wrong username or password.", **who)
    audit.append(session, actor=user.username, action="login", entity="user", entity_id=user.id)
    return user


@dataclass(frozen=True)
class Lockout:
    """Recent wrong passwords for one name, and until when its password checks are paused."""

    failures: int
    until: datetime | None = None

    @property
    def locked(self) -> bool:
        return self.until is not None


# The audit events a lock-out is computed from: wrong passwords (sign-in and signature) count;
# a successful sign-in or an admin's unlock starts the count again.


def _wrong_password(after: dict[str, Any]) -> bool:
    """A refusal record for a wrong password. Records written before refusals carried a `code`
    name the class instead; only the plain AuthenticationError meant a wrong password."""
    code = after.get("code")
    if code is None:
        return bool(after.get("refusal") == "AuthenticationError")
    return bool(code == AuthenticationError.code)


_RESET = ("login", "user_unlocked")


def lockout(session: Session, name: str, user_id: int | None = None, *, now: datetime | None = None) -> Lockout:
    """Read from the audit trail (the same record an examiner reads, so it holds across app
    processes): `login_max_failures` wrong passwords within `login_lockout_minutes` pause the
    name's password checks until that long after the last of them."""
    cfg = settings()
    window = timedelta(minutes=cfg.login_lockout_minutes)
    now = now or utcnow()
    mine = (col(AuditEvent.actor) == name) & col(AuditEvent.action).in_(("refused", "login"))
    unlocked = (col(AuditEvent.action) == "user_unlocked") & (col(AuditEvent.entity_id) == str(user_id))
    where = or_(mine, unlocked) if user_id is not None else mine
    # Every event of the last two windows, however many: a cap would let a flood of attempts
    # made while paused push the failures that caused the pause out of sight.
    recent_rows = select(AuditEvent).where(where, col(AuditEvent.ts) >= now - 2 * window)
    rows = session.exec(recent_rows.order_by(col(AuditEvent.seq).desc())).all()
    failures: list[datetime] = []  # newest first
    for ev in rows:
        ts = ev.ts if ev.ts.tzinfo else ev.ts.replace(tzinfo=UTC)
        # A company sign-in (review.sso) proves nothing about a password: it never resets the count.
        if ev.action in _RESET and ev.after.get("via") != "sso":
            break
        if _wrong_password(ev.after) and ev.after.get("attempted") in ("login", "sign"):
            failures.append(ts)
    recent = [t for t in failures if now - t <= window]
    k = cfg.login_max_failures
    # Locked when some failure closes a run of k within the window and that was under a window ago.
    for i, last in enumerate(failures):
        if now - last > window:
            break
        if len(failures) >= i + k and last - failures[i + k - 1] <= window:
            return Lockout(len(recent), last + window)
    return Lockout(len(recent))


def ensure_not_locked(session: Session, name: str, user_id: int | None, who: dict) -> None:
    """Raise AccountLocked (recorded as a refusal, not counted as a wrong password) while paused."""
    state = lockout(session, name, user_id)
    if state.until is not None:
        minutes = max(1, -(-int((state.until - utcnow()).total_seconds()) // 60))
        raise AccountLocked(
            f"Too many wrong passwords: password checks for this account are paused for {minutes} more minute{'s' if minutes != 1 else ''}. "
            "An admin can lift the pause sooner.",
            **who,
        )


def unlock_user(session: Session, actor: User, user_id: int) -> User:
    """An admin lifts a lock-out (after confirming who was trying); the count starts again."""
    require_role(actor, Role.ADMIN)
    user = get_user(session, user_id)
    state = lockout(session, user.username, user.id)
    if not state.locked:
        raise Conflict(f"{user.username} is not locked out")
    before = {"failures": state.failures, "locked_until": state.until.isoformat() if state.until else None}
    audit.append(session, actor=actor.username, action="user_unlocked", entity="user", entity_id=user.id, before=before, after={"locked": False})
    return user


def require_role(user: User, *roles: str) -> None:
    who: dict[str, Any] = {"actor": user.username, "attempted": f"an action for {' or '.join(roles)}", "entity": "user", "entity_id": user.id}
    if not user.active:
        raise PermissionDenied(f"{user.username}'s account is deactivated.", **who)
    if user.role not in roles:
        raise PermissionDenied(f"{user.username} is a {user.role}; this needs the {' or '.join(roles)} role.", **who)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def create_user(session: Session, actor: User | None, *, username: str, full_name: str, role: str, password: str) -> User:
    """Create a user. `actor` None is only for seeding an empty database."""
    if actor is not None:
        require_role(actor, Role.ADMIN)
    elif session.exec(select(User)).first() is not None:
        raise PermissionDenied("only an admin can create users")
    username = username.strip()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("username must be letters, digits, '.', '_' or '-'")
    if role not in Role.ALL:
        raise InvalidInput(f"role must be one of {', '.join(Role.ALL)}")
    if not full_name.strip():
        raise InvalidInput("full name is required: it is printed on every signature")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters")
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"username '{username}' is taken")
    user = User(username=username, full_name=full_name.strip(), role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.append(
        session,
        actor=actor.username if actor else "system",
        action="user_created",
        entity="user",
        entity_id=user.id,
        after={"username": username, "role": role, "full_name": user.full_name},
    )
    return user


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    require_role(actor, Role.ADMIN)
    user = get_user(session, user_id)
    if user.id == actor.id and not active:
        raise InvalidInput("you cannot deactivate your own account")
    if not active:
        from .assignments import on_deactivate  # here: assignments imports this module

        on_deactivate(session, actor, user_id)  # their open review assignments move to other reviewers first
    before = {"active": user.active}
    user.active = active
    session.add(user)
    audit.append(
        session,
        actor=actor.username,
        action="user_activated" if active else "user_deactivated",
        entity="user",
        entity_id=user.id,
        before=before,
        after={"active": active},
    )
    return user


def list_users(session: Session, actor: User) -> list[User]:
    require_role(actor, Role.ADMIN)
    return list(session.exec(select(User).order_by(User.username)).all())


@dataclass(frozen=True)
class Account:
    """A user as the admin's users page shows it: the user, its lock-out state and the review
    roles it holds (review.routing)."""

    user: User
    lockout: Lockout
    review_roles: tuple[str, ...] = ()


def list_accounts(session: Session, actor: User) -> list[Account]:
    users = list_users(session, actor)
    held: dict[int, list[str]] = {}
    for uid, role in session.exec(select(UserReviewRole.user_id, UserReviewRole.role).order_by(col(UserReviewRole.role))).all():
        held.setdefault(uid, []).append(role)
    return [Account(u, lockout(session, u.username, u.id), tuple(held.get(u.id or 0, ()))) for u in users]
