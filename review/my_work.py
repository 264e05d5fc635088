""" "My work": what is waiting on this user, as plain dataclasses for the page and the CLI.

* A reviewer: the drafts assigned to them (step, campaign, due date), overdue first, then by
  due date, then oldest assignment first.
* An author (marketer): their drafts sent back with changes requested (with the reviewer's
  comment), and where each of their other open drafts stands (status, open steps, who is
  assigned, due date).
* An admin: the team's load, who is away, and the open steps nobody is assigned to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, or_, select

from . import routing
from .assignments import away_ids, loads
from .auth import require_role
from .due_dates import as_utc, due_state
from .errors import PermissionDenied
from .models import Assignment, AssignmentState, Campaign, Comment, Draft, Role, Status, User, Variant, pk, utcnow

OPEN_FOR_AUTHOR = (Status.CHECKED, Status.NEEDS_CHANGES, Status.IN_REVIEW, Status.APPROVED)


@dataclass(frozen=True)
class WorkItem:
    """One draft step assigned to the reviewer."""

    assignment_id: int
    draft_id: int
    step: str
    campaign_id: int
    campaign: str
    variant: str
    due_at: datetime | None
    due: str  # overdue | due_soon | due | '' (no due date)
    assigned_at: datetime
    assigned_by: str
    method: str

    @property
    def overdue(self) -> bool:
        return self.due == "overdue"


@dataclass(frozen=True)
class AuthorItem:
    """One of the author's drafts and where it stands."""

    draft_id: int
    campaign: str
    variant: str
    status: str
    due_at: datetime | None
    due: str
    comment: str = ""  # the latest request for changes (needs_changes only)
    comment_by: str = ""
    comment_at: datetime | None = None
    open_steps: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()  # reviewers assigned to the open steps


@dataclass(frozen=True)
class Unassigned:
    """An open step with fewer reviewers assigned than signatures it still needs."""

    draft_id: int
    campaign: str
    step: str
    due_at: datetime | None
    due: str
    short: int = 1  # reviewers it still lacks


@dataclass(frozen=True)
class TeamMember:
    username: str
    full_name: str
    open_assignments: int
    overdue: int
    away: bool


@dataclass
class MyWork:
    role: str
    assigned: list[WorkItem] = field(default_factory=list)
    changes_requested: list[AuthorItem] = field(default_factory=list)
    in_progress: list[AuthorItem] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    team: list[TeamMember] = field(default_factory=list)
    unassigned: list[Unassigned] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for w in self.assigned if w.overdue)


_ORDER = {"overdue": 0, "due_soon": 1, "due": 2, "": 3}
_FAR = datetime.max


def _sort_key(due: str, due_at: datetime | None, then: datetime) -> tuple[int, datetime, datetime]:
    return (_ORDER[due], as_utc(due_at).replace(tzinfo=None) if due_at else _FAR, as_utc(then).replace(tzinfo=None))


def assigned_to(session: Session, user: User, *, now: datetime | None = None) -> list[WorkItem]:
    """The reviewer's open assignments, overdue first, then by due date, then oldest first."""
    now = now or utcnow()
    q = (
        select(Assignment, Draft, Campaign, Variant)
        .join(Draft, col(Draft.id) == col(Assignment.draft_id))
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(Assignment.reviewer_id == user.id, Assignment.state == AssignmentState.OPEN)
    )
    items = [
        WorkItem(pk(a), pk(d), a.step, pk(c), c.name, v.label, c.due_at, due_state(c.due_at, now), a.created_at, a.assigned_by, a.method)
        for a, d, c, v in session.exec(q).all()
    ]
    return sorted(items, key=lambda w: _sort_key(w.due, w.due_at, w.assigned_at))


def _latest_requests(session: Session, draft_ids: list[int]) -> dict[int, tuple[Comment, str]]:
    if not draft_ids:
        return {}
    q = (
        select(Comment, User.username)
        .join(User, col(User.id) == col(Comment.user_id))
        .where(col(Comment.draft_id).in_(draft_ids), col(Comment.kind).in_(("request_changes", "system")))
        .order_by(col(Comment.id))
    )
    return {c.draft_id: (c, name) for c, name in session.exec(q).all()}  # the last one per draft wins


def authored(session: Session, user: User, *, now: datetime | None = None) -> tuple[list[AuthorItem], list[AuthorItem], dict[str, int]]:
    """(changes requested, other open drafts, count per status) for drafts the user wrote or
    whose campaign they created."""
    now = now or utcnow()
    mine = or_(col(Draft.author_id) == user.id, col(Campaign.created_by) == user.id)
    q = (
        select(Draft, Campaign, Variant)
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .join(Variant, col(Variant.id) == col(Draft.variant_id))
        .where(mine)
        .order_by(col(Draft.id))
    )
    rows = list(session.exec(q).all())
    counts = dict(Counter(d.status for d, _, _ in rows))
    requests = _latest_requests(session, [pk(d) for d, _, _ in rows if d.status == Status.NEEDS_CHANGES])
    open_ids = [pk(d) for d, _, _ in rows if d.status == Status.IN_REVIEW]
    assignees: dict[int, list[str]] = {}
    if open_ids:
        aq = (
            select(Assignment.draft_id, Assignment.step, User.username)
            .join(User, col(User.id) == col(Assignment.reviewer_id))
            .where(col(Assignment.draft_id).in_(open_ids), Assignment.state == AssignmentState.OPEN)
            .order_by(col(Assignment.id))
        )
        for draft_id, step, name in session.exec(aq).all():
            assignees.setdefault(draft_id, []).append(f"{name} ({step})")
    changes: list[AuthorItem] = []
    others: list[AuthorItem] = []
    for d, c, v in rows:
        if d.status not in OPEN_FOR_AUTHOR:
            continue
        due = due_state(c.due_at, now)
        if d.status == Status.NEEDS_CHANGES:
            comment, by = requests.get(pk(d), (None, ""))
            changes.append(
                AuthorItem(pk(d), c.name, v.label, d.status, c.due_at, due, comment.text if comment else "", by, comment.created_at if comment else None)
            )
            continue
        steps = tuple(s.name for s in routing.open_steps(session, d)) if d.status == Status.IN_REVIEW else ()
        others.append(AuthorItem(pk(d), c.name, v.label, d.status, c.due_at, due, open_steps=steps, assigned=tuple(assignees.get(pk(d), []))))
    changes.sort(key=lambda i: _sort_key(i.due, i.due_at, i.comment_at or now))
    return changes, others, counts


def team(session: Session, *, now: datetime | None = None) -> tuple[list[TeamMember], list[Unassigned]]:
    """Every active reviewer's load, and the open steps of drafts in review short of reviewers."""
    now = now or utcnow()
    reviewers = list(session.exec(select(User).where(User.role == Role.REVIEWER, User.active == True).order_by(col(User.username))).all())  # noqa: E712
    load = loads(session, [pk(u) for u in reviewers])
    away = away_ids(session)
    overdue: Counter[int] = Counter()
    for w_user in reviewers:
        overdue[pk(w_user)] = sum(1 for w in assigned_to(session, w_user, now=now) if w.overdue)
    members = [TeamMember(u.username, u.full_name, load[pk(u)], overdue[pk(u)], pk(u) in away) for u in reviewers]
    gaps: list[Unassigned] = []
    q = select(Draft, Campaign).join(Campaign, col(Campaign.id) == col(Draft.campaign_id)).where(Draft.status == Status.IN_REVIEW).order_by(col(Draft.id))
    for d, c in session.exec(q).all():
        have = Counter(a.step for a in session.exec(select(Assignment).where(Assignment.draft_id == d.id, Assignment.state == AssignmentState.OPEN)).all())
        for st in routing.step_state(session, d):
            short = st.missing - have[st.step.name]
            if st.open and short > 0:
                gaps.append(Unassigned(pk(d), c.name, st.step.name, c.due_at, due_state(c.due_at, now), short))
    gaps.sort(key=lambda g: _sort_key(g.due, g.due_at, now))
    return members, gaps


def my_work(session: Session, actor: User, *, now: datetime | None = None) -> MyWork:
    """What is waiting on this user now (every role; an admin also sees the team)."""
    if not actor.active:
        raise PermissionDenied(f"{actor.username}'s account is deactivated.")
    now = now or utcnow()
    work = MyWork(actor.role)
    if actor.role in (Role.REVIEWER, Role.ADMIN):
        work.assigned = assigned_to(session, actor, now=now)
    if actor.role in (Role.MARKETER, Role.ADMIN):
        work.changes_requested, work.in_progress, work.status_counts = authored(session, actor, now=now)
    if actor.role == Role.ADMIN:
        work.team, work.unassigned = team(session, now=now)
    return work


@dataclass(frozen=True)
class ReviewerChoice:
    id: int
    username: str
    full_name: str
    open_assignments: int
    away: bool


def reviewer_choices(session: Session, actor: User) -> list[ReviewerChoice]:
    """Active reviewers with their load, for assigning by hand (admins and reviewers)."""
    require_role(actor, Role.ADMIN, Role.REVIEWER)
    reviewers = list(session.exec(select(User).where(User.role == Role.REVIEWER, User.active == True).order_by(col(User.username))).all())  # noqa: E712
    load = loads(session, [pk(u) for u in reviewers])
    away = away_ids(session)
    return [ReviewerChoice(pk(u), u.username, u.full_name, load[pk(u)], pk(u) in away) for u in reviewers]
