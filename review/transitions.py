"""Statuses and the one function that changes them.

`transition` is the only place a draft's status changes; anything not in `TRANSITIONS` raises
InvalidTransition with a line saying what last happened to the draft (`last_change`), which is
what the loser of a race is told. `void_approvals` is how any change of text or decision
cancels the signatures given so far.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlmodel import Session, col, select

from . import audit
from .errors import InvalidTransition, NotFound
from .models import Approval, AuditEvent, Brand, Campaign, Draft, Status, User, utcnow

S = Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CHECKED: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.NEEDS_CHANGES, S.REJECTED, S.CHECKED}),
    S.NEEDS_CHANGES: frozenset({S.IN_REVIEW}),
    S.APPROVED: frozenset({S.PUBLISHED, S.WITHDRAWN, S.IN_REVIEW, S.NEEDS_CHANGES, S.CHECKED}),
    S.PUBLISHED: frozenset({S.WITHDRAWN}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
EDITABLE = frozenset({S.CHECKED, S.NEEDS_CHANGES, S.IN_REVIEW, S.APPROVED})


def transition(session: Session, draft: Draft, to: str, actor: User, *, reason: str = "", extra: dict[str, Any] | None = None) -> Draft:
    """Move a draft to `to`. Every status change in the system goes through here."""
    allowed = TRANSITIONS.get(draft.status, frozenset())
    if to not in allowed:
        raise InvalidTransition(f"{last_change(session, draft)}; it cannot become {to} (allowed: {', '.join(sorted(allowed)) or 'none, it is final'})")
    before = draft.status
    draft.status = to
    draft.approved_at = utcnow() if to == S.APPROVED else draft.approved_at if to == S.PUBLISHED else None  # review.expiry
    draft.updated_at = utcnow()
    session.add(draft)
    audit.append(
        session,
        actor=actor.username,
        action=f"draft_{to}",
        entity="draft",
        entity_id=draft.id,
        before={"status": before, "revision": draft.revision},
        after={"status": to, "revision": draft.revision, "reason": reason, **(extra or {})},
    )
    from .assignments import on_transition  # here: assignments imports routing, which may read this module

    on_transition(session, draft, before, to, actor, reason)  # assign on entering review, close on leaving, notify the authors
    return draft


def brand_of(session: Session, draft: Draft) -> Brand:
    """The brand a draft belongs to (through its campaign)."""
    camp = session.get(Campaign, draft.campaign_id)
    brand = session.get(Brand, camp.brand_id) if camp is not None else None
    if brand is None:
        raise NotFound(f"draft {draft.id}'s campaign or brand is gone")
    return brand


def get_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    return draft


_DONE = {
    "draft_in_review": "submitted for review",
    "draft_approved": "approved",
    "draft_needs_changes": "sent back for changes",
    "draft_rejected": "rejected",
    "draft_withdrawn": "withdrawn",
    "draft_published": "published",
    "draft_checked": "moved out of review",
    "draft_edited": "edited",
    "draft_signed": "signed",
    "draft_rechecked": "re-checked",
    "draft_renewed": "sent for re-approval",
}


def last_event(session: Session, draft: Draft) -> str | None:
    """'rejected by rob a moment ago': the latest thing that happened to the draft."""
    ev = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "draft", AuditEvent.entity_id == str(draft.id), col(AuditEvent.action).in_(list(_DONE)))
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    if ev is None:
        return None
    ts = ev.ts if ev.ts.tzinfo else ev.ts.replace(tzinfo=UTC)
    age = (utcnow() - ts).total_seconds()
    when = "a moment ago" if age < 120 else f"at {ts:%Y-%m-%d %H:%M} UTC"
    return f"{_DONE[ev.action]} by {ev.actor} {when}"


def last_change(session: Session, draft: Draft) -> str:
    """'draft 12 was rejected by rob a moment ago and is rejected' — what a loser of a race is told."""
    what = last_event(session, draft)
    return f"draft {draft.id} was {what} and is {draft.status}" if what else f"draft {draft.id} is {draft.status}"


def void_approvals(session: Session, actor: User, draft: Draft, reason: str) -> int:
    n = 0
    for a in session.exec(select(Approval).where(Approval.draft_id == draft.id, Approval.valid == True)).all():  # noqa: E712
        a.valid = False
        a.voided_at = utcnow()
        a.void_reason = reason
        session.add(a)
        audit.append(
            session,
            actor=actor.username,
            action="approval_voided",
            entity="approval",
            entity_id=a.id,
            before={"valid": True},
            after={"valid": False, "reason": reason, "draft_id": draft.id},
        )
        n += 1
    return n
