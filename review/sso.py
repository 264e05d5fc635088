"""Company sign-in (OpenID Connect): from the identity provider's ID token claims to a local user.

The shell (Streamlit's st.login; see ui.common) hands over the ID token's claims as a plain dict.
`sign_in` checks them as hostile input, maps the user's groups to a Countersign role through
COUNTERSIGN_OIDC_ROLES, and returns the local user linked to the claims' (issuer, subject):
created on the first sign-in, its role brought in line with its groups on every later one. All
in the caller's transaction, audited; a refusal is a `SignInRefused` (recorded by session_scope).

A local (password) account is never taken over by a company account of the same name: an admin
links it first (`link_sso`, `python -m review link-sso`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from . import audit
from .auth import MIN_PASSWORD, check_signing_password, ensure_not_locked, hash_password, require_role
from .config import settings
from .errors import AuthenticationError, ConfigError, Conflict, InvalidInput, NotFound, PermissionDenied, SignInRefused
from .locks import lock_one
from .models import Role, User, pk, utcnow
from .review_steps import name_problem
from .routing import replace_review_roles

REVIEW_PREFIX = "review:"
NO_GROUP = "Your company account is in none of the groups Countersign maps to a role: ask an administrator."
# What a claim may hold (OIDC Core caps `sub` at 255 ASCII characters; the rest are generous).
MAX_LEN = {"iss": 512, "sub": 255, "name": 200, "preferred_username": 64, "email": 254}
MAX_GROUPS, MAX_GROUP_LEN = 1000, 256
USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# ------------------------------------------------------------------ the group → role mapping


@dataclass(frozen=True)
class RoleMap:
    """COUNTERSIGN_OIDC_ROLES parsed: (group, target) in the order written, where target is
    admin, reviewer, marketer or `review:<review role>`; and the claim that lists groups."""

    entries: tuple[tuple[str, str], ...]
    groups_claim: str = "groups"

    @property
    def maps_review_roles(self) -> bool:
        return any(t.startswith(REVIEW_PREFIX) for _, t in self.entries)

    def resolve(self, groups: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
        """(role, review roles) for these groups. Precedence: the first entry (in the order of
        COUNTERSIGN_OIDC_ROLES) whose group the user is in gives the role, so list admin groups
        first; review roles add up (every matching `review:` entry), and only reviewers hold them."""
        held = set(groups)
        role = next((t for g, t in self.entries if g in held and not t.startswith(REVIEW_PREFIX)), None)
        review = sorted({t[len(REVIEW_PREFIX) :] for g, t in self.entries if g in held and t.startswith(REVIEW_PREFIX)})
        return role, tuple(review) if role == Role.REVIEWER else ()


def parse_role_map(raw: str, groups_claim: str = "groups") -> RoleMap:
    """`cs-admins=admin, cs-reviewers=reviewer, cs-medical=review:medical` → RoleMap. A bad entry
    is a ConfigError that names it."""
    entries: list[tuple[str, str]] = []
    for part in raw.split(","):
        entry = part.strip()
        if not entry:
            continue
        group, sep, target = (s.strip() for s in entry.partition("="))
        if not sep or not group or not target:
            raise ConfigError(f"COUNTERSIGN_OIDC_ROLES: entry {entry!r} must be GROUP=ROLE (ROLE one of {', '.join(Role.ALL)} or review:NAME)")
        if not group.isprintable() or len(group) > MAX_GROUP_LEN:
            raise ConfigError(f"COUNTERSIGN_OIDC_ROLES: entry {entry!r} has a group name that is too long or not printable")
        if target.startswith(REVIEW_PREFIX):
            problem = name_problem(target[len(REVIEW_PREFIX) :], f"the review role in entry {entry!r}")
            if problem:
                raise ConfigError(f"COUNTERSIGN_OIDC_ROLES: {problem}")
        elif target not in Role.ALL:
            raise ConfigError(f"COUNTERSIGN_OIDC_ROLES: entry {entry!r} maps to {target!r}; a role is one of {', '.join(Role.ALL)} or review:NAME")
        if (group, target) not in entries:
            entries.append((group, target))
    claim = groups_claim.strip()
    if not claim or not claim.isprintable():
        raise ConfigError("COUNTERSIGN_OIDC_GROUPS_CLAIM must name a claim")
    return RoleMap(tuple(entries), claim)


def role_map() -> RoleMap:
    cfg = settings()
    return parse_role_map(cfg.oidc_roles, cfg.oidc_groups_claim)


# ------------------------------------------------------------------ claims: hostile input


@dataclass(frozen=True)
class Identity:
    """What sign-in uses from the claims, checked."""

    issuer: str
    subject: str
    username: str
    full_name: str
    email: str | None
    groups: tuple[str, ...]
    authenticated_at: datetime | None


def _text(claims: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = claims.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"the identity provider's answer has no '{key}' claim: company sign-in cannot say who you are")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"the identity provider's '{key}' claim is not text")
    if len(value) > MAX_LEN[key]:
        raise InvalidInput(f"the identity provider's '{key}' claim is longer than {MAX_LEN[key]} characters")
    if not value.isprintable() or value != value.strip():
        raise InvalidInput(f"the identity provider's '{key}' claim holds control characters or surrounding spaces")
    return value


def _groups(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    raw = claims.get(claim)
    if raw is None:
        return ()
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or len(items) > MAX_GROUPS:
        raise InvalidInput(f"the identity provider's '{claim}' claim must be a list of at most {MAX_GROUPS} group names")
    for g in items:
        if not isinstance(g, str) or not g or len(g) > MAX_GROUP_LEN or not g.isprintable():
            raise InvalidInput(f"the identity provider's '{claim}' claim holds a group name that is empty, too long or not printable text")
    return tuple(dict.fromkeys(items))


def _when(claims: Mapping[str, Any]) -> datetime | None:
    """When the user authenticated at the provider: auth_time, else the token's iat."""
    for key in ("auth_time", "iat"):
        value = claims.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e11:
            return datetime.fromtimestamp(value, UTC)
    return None


def identity(claims: Mapping[str, Any], groups_claim: str = "groups") -> Identity:
    """The checked identity in ID token claims; InvalidInput names the claim that is wrong."""
    if not isinstance(claims, Mapping):
        raise InvalidInput("the identity provider's answer is not a set of claims")
    issuer = _text(claims, "iss", required=True)
    subject = _text(claims, "sub", required=True)
    assert issuer is not None and subject is not None
    email = _text(claims, "email")
    preferred = _text(claims, "preferred_username")
    username = preferred or (email.split("@", 1)[0] if email else None) or subject
    if not USERNAME_RE.match(username):
        raise InvalidInput(f"the company account's user name {username[:64]!r} cannot be a Countersign username (letters, digits, '.', '_' or '-', at most 64)")
    full_name = _text(claims, "name") or username
    return Identity(issuer, subject, username, full_name, email, _groups(claims, groups_claim), _when(claims))


def _who(claims: Any) -> str:
    """A name for the audit record of a refused sign-in: the claimed username, cut and cleaned."""
    raw = claims.get("preferred_username") or claims.get("email") or claims.get("sub") if isinstance(claims, Mapping) else None
    text = "".join(ch for ch in str(raw or "")[:64] if ch.isprintable()).strip()
    return text or "(company sign-in)"


# ------------------------------------------------------------------ sign-in


def _refuse(message: str, who: str, user: User | None = None) -> SignInRefused:
    return SignInRefused(message, actor=who, attempted="sso_login", entity="user", entity_id=user.id if user and user.id else "")


def find_linked(session: Session, issuer: str, subject: str) -> User | None:
    return session.exec(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject)).first()


def sign_in(session: Session, claims: Mapping[str, Any]) -> User:
    """The local user for these ID token claims (see the module's docstring)."""
    mapping = role_map()
    if not mapping.entries:
        raise ConfigError("company sign-in is on but COUNTERSIGN_OIDC_ROLES maps no group to a role: an administrator must set it")
    who = _who(claims)
    try:
        ident = identity(claims, mapping.groups_claim)
    except InvalidInput as e:
        raise _refuse(f"Company sign-in refused: {e}.", who) from None
    who = ident.username
    role, review_roles = mapping.resolve(ident.groups)
    user = find_linked(session, ident.issuer, ident.subject)
    if user is None:
        if role is None:
            raise _refuse(NO_GROUP, who)
        same_name = session.exec(select(User).where(func.lower(User.username) == ident.username.lower())).first()  # "Rita" is rita's namesake
        if same_name is not None:
            linked = "is linked to another company account" if same_name.oidc_subject else "is a local account not linked to your company account"
            raise _refuse(
                f"A Countersign account named '{same_name.username}' already exists and {linked}; it is never taken over. "
                f"An administrator must link it: python -m review link-sso {same_name.username} --issuer {ident.issuer} --subject {ident.subject}",
                who,
                same_name,
            )
        user = User(
            username=ident.username,
            full_name=ident.full_name,
            role=role,
            password_hash="",  # no local password: this account signs in through the company only
            email=ident.email,
            oidc_issuer=ident.issuer,
            oidc_subject=ident.subject,
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:  # the same company account signing in twice at once (two tabs): one wins
            raise Conflict("This company account was just signed in elsewhere: reload the page.") from None
        after = {"username": user.username, "role": role, "full_name": user.full_name, "via": "sso", "issuer": ident.issuer, "subject": ident.subject}
        audit.append(session, actor="system", action="user_created", entity="user", entity_id=user.id, after=after)
    else:
        user = lock_one(session, User, pk(user), "user")
        if not user.active:
            raise _refuse(f"{user.username}'s account is deactivated: ask an administrator.", who, user)
        if role is None:
            raise _refuse(NO_GROUP, who, user)
        _update(session, user, ident, role)
    if mapping.maps_review_roles or user.role != Role.REVIEWER:
        _sync_review_roles(session, user, review_roles)
    audit.append(session, actor=user.username, action="login", entity="user", entity_id=user.id, after={"via": "sso", "groups": list(ident.groups)[:50]})
    return user


def _update(session: Session, user: User, ident: Identity, role: str) -> None:
    """Bring role, name and email in line with the company account (audited when any changes)."""
    wanted = {"role": role, "full_name": ident.full_name, "email": ident.email or user.email}
    before = {k: getattr(user, k) for k in wanted if getattr(user, k) != wanted[k]}
    if not before:
        return
    for k in before:
        setattr(user, k, wanted[k])
    session.add(user)
    after = {k: wanted[k] for k in before} | {"via": "sso"}
    audit.append(session, actor="system", action="user_updated", entity="user", entity_id=user.id, before=before, after=after)


def _sync_review_roles(session: Session, user: User, wanted: tuple[str, ...]) -> None:
    before = replace_review_roles(session, user, wanted, granted_by=user)
    if before == wanted:
        return
    after = {"username": user.username, "review_roles": list(wanted), "via": "sso"}
    audit.append(session, actor="system", action="review_roles_changed", entity="user", entity_id=user.id, before={"review_roles": list(before)}, after=after)


# ------------------------------------------------------------------ linking and the signing password


def link_sso(session: Session, actor: User | None, username: str, *, issuer: str, subject: str) -> User:
    """Link an existing account to a company account (admin only; `actor` None: the server's own
    CLI, trusted like seeding). Audited. From then on company sign-in lands on this account."""
    if actor is not None:
        require_role(actor, Role.ADMIN)
    ident = identity({"iss": issuer.strip(), "sub": subject.strip(), "preferred_username": username.strip()})
    user = session.exec(select(User).where(User.username == ident.username)).first()
    if user is None:
        raise NotFound(f"no user named {ident.username!r}")
    other = find_linked(session, ident.issuer, ident.subject)
    if other is not None and other.id != user.id:
        raise InvalidInput(f"that company account is already linked to {other.username}")
    user = lock_one(session, User, pk(user), "user")
    before = {"issuer": user.oidc_issuer, "subject": user.oidc_subject}
    user.oidc_issuer, user.oidc_subject = ident.issuer, ident.subject
    session.add(user)
    after = {"issuer": ident.issuer, "subject": ident.subject}
    audit.append(session, actor=actor.username if actor else "system", action="user_linked_sso", entity="user", entity_id=user.id, before=before, after=after)
    return user


def sso_is_fresh(user: User, claims: Mapping[str, Any] | None, *, now: datetime | None = None) -> bool:
    """Do these claims (st.user's) show that this user signed in at the company less than
    COUNTERSIGN_OIDC_FRESH_MINUTES ago?"""
    if not claims or not user.oidc_subject:
        return False
    if claims.get("iss") != user.oidc_issuer or claims.get("sub") != user.oidc_subject:
        return False
    when = _when(claims)
    if when is None:
        return False
    age = (now or utcnow()) - when
    return timedelta(minutes=-1) <= age <= timedelta(minutes=settings().oidc_fresh_minutes)  # a minute of clock skew


def set_signing_password(
    session: Session, actor: User, new_password: str, *, current_password: str | None = None, sso_claims: Mapping[str, Any] | None = None
) -> User:
    """Set the signing password of a company (SSO) account: the second component it re-enters
    at each signature (review.workflow.approve checks it like a local password, lock-out included).
    Proven by the current signing password, or by a company sign-in made in the last
    COUNTERSIGN_OIDC_FRESH_MINUTES (the first time, and when it is forgotten)."""
    user = lock_one(session, User, pk(actor), "user")
    who: dict[str, Any] = {"actor": user.username, "attempted": "sign", "entity": "user", "entity_id": user.id}
    if not user.active:
        raise PermissionDenied(f"{user.username}'s account is deactivated.", **who)
    if not user.oidc_subject:
        raise InvalidInput("a local account signs with its login password; a signing password is for company accounts")
    if current_password:
        ensure_not_locked(session, user.username, user.id, who)
        if not check_signing_password(user, current_password):
            raise AuthenticationError("The current signing password does not match.", **who)
    elif not sso_is_fresh(user, sso_claims):
        minutes = settings().oidc_fresh_minutes
        raise PermissionDenied(
            f"Enter your current signing password, or sign in with your company account again (within {minutes} minutes) to set a new one.",
            **{**who, "attempted": "set signing password"},
        )
    if len(new_password) < MIN_PASSWORD:
        raise InvalidInput(f"the signing password must have at least {MIN_PASSWORD} characters")
    first = user.signing_password_hash is None
    user.signing_password_hash = hash_password(new_password)
    session.add(user)
    proof = "current signing password" if current_password else "fresh company sign-in"
    audit.append(session, actor=user.username, action="signing_password_set", entity="user", entity_id=user.id, after={"first": first, "proven_by": proof})
    return user


def linked_users(session: Session, actor: User) -> list[User]:
    """Accounts linked to a company account (admin only)."""
    require_role(actor, Role.ADMIN)
    return list(session.exec(select(User).where(col(User.oidc_subject).is_not(None)).order_by(User.username)).all())
