"""A user's contact details: the email address notifications go to (admins keep it)."""

from __future__ import annotations

import re

from sqlmodel import Session, col, func, select

from . import audit
from .auth import get_user, require_role
from .errors import Conflict, InvalidInput
from .locks import lock_rows
from .models import Role, User

# A plain address: no display name, no spaces, no line breaks (it goes into a mail header).
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def clean_email(raw: str | None) -> str | None:
    """The address to store, or None for none; InvalidInput saying what is wrong."""
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise InvalidInput(f"'{value[:80]}' is not an email address (name@example.com)")
    return value


def set_email(session: Session, actor: User, user_id: int, email: str | None) -> User:
    """Set or clear a user's email address (admin). Two accounts never share one address."""
    require_role(actor, Role.ADMIN)
    get_user(session, user_id)
    [user] = lock_rows(session, User, [user_id])
    value = clean_email(email)
    if value == user.email:
        raise InvalidInput(f"{user.username}'s email address is already {value or 'empty'}")
    if value is not None:
        other = session.exec(select(User).where(func.lower(col(User.email)) == value.lower(), User.id != user_id)).first()
        if other is not None:
            raise Conflict(f"{value} is already {other.username}'s email address")
    before = {"email": user.email}
    user.email = value
    session.add(user)
    audit.append(session, actor=actor.username, action="user_email_set", entity="user", entity_id=user.id, before=before, after={"email": value})
    return user
