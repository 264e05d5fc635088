"""Due dates: a campaign's review is due at `Campaign.due_at` (UTC); its drafts in review
inherit it (My work sorts and highlights by it, `remind` warns before and after it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from . import audit
from .auth import require_role
from .errors import InvalidInput
from .locks import lock_campaign
from .models import Campaign, Role, User, utcnow

DUE_SOON = timedelta(hours=24)


def as_utc(ts: datetime) -> datetime:
    """A stored or given time in UTC (SQLite hands back naive datetimes, which are UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def normalize_due(due_at: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """A due date as stored: UTC, to the minute, and not in the past."""
    if due_at is None:
        return None
    due = as_utc(due_at).replace(second=0, microsecond=0)
    if due <= (now or utcnow()):
        raise InvalidInput(f"the due date {due:%Y-%m-%d %H:%M} UTC is in the past; pick a later one")
    return due


def due_state(due_at: datetime | None, now: datetime | None = None) -> str:
    """'overdue', 'due_soon' (within 24 hours), 'due' or '' (no due date)."""
    if due_at is None:
        return ""
    now = now or utcnow()
    due = as_utc(due_at)
    if due <= now:
        return "overdue"
    return "due_soon" if due - now <= DUE_SOON else "due"


def set_due_date(session: Session, actor: User, campaign_id: int, due_at: datetime | None) -> Campaign:
    """Set (or clear, with None) when a campaign's review is due. Marketers and admins."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    camp = lock_campaign(session, campaign_id)
    due = normalize_due(due_at)
    old = as_utc(camp.due_at) if camp.due_at is not None else None
    if old == due:
        raise InvalidInput(f"campaign '{camp.name}' is already {'due at ' + f'{due:%Y-%m-%d %H:%M} UTC' if due else 'without a due date'}")
    camp.due_at = due
    session.add(camp)
    audit.append(
        session,
        actor=actor.username,
        action="campaign_due_set",
        entity="campaign",
        entity_id=camp.id,
        before={"due_at": old.isoformat() if old else None},
        after={"due_at": due.isoformat() if due else None},
    )
    return camp
