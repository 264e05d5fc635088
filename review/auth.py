"""Users, passwords and roles. Every service function re-checks the role itself."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from . import audit
from .errors import AuthenticationError, NotFound, PermissionDenied, WorkflowError
from .models import Role, User

_hasher = PasswordHasher()
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None or not user.active or not check_password(user, password):
        # The attempted name, cut and stripped of control characters: it is untrusted input.
        tried = "".join(ch for ch in username.strip()[:64] if ch.isprintable()) or "(empty)"
        raise AuthenticationError("Wrong username or password.", actor=tried, attempted="login", entity="user", entity_id=user.id if user else "")
    audit.append(session, actor=user.username, action="login", entity="user", entity_id=user.id)
    return user


def require_role(user: User, *roles: str) -> None:
    who = {"actor": user.username, "attempted": f"an action for {' or '.join(roles)}", "entity": "user", "entity_id": user.id}
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
        raise WorkflowError("username must be letters, digits, '.', '_' or '-'")
    if role not in Role.ALL:
        raise WorkflowError(f"role must be one of {', '.join(Role.ALL)}")
    if not full_name.strip():
        raise WorkflowError("full name is required: it is printed on every signature")
    if len(password) < MIN_PASSWORD:
        raise WorkflowError(f"password must have at least {MIN_PASSWORD} characters")
    if session.exec(select(User).where(User.username == username)).first():
        raise WorkflowError(f"username '{username}' is taken")
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
        raise WorkflowError("you cannot deactivate your own account")
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
