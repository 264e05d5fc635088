"""Who is asked to sign what: a draft in review is assigned, per open review step, to reviewers.

* **Automatically** when a draft enters review and whenever a sequential step opens: each open
  step gets as many reviewers as it still needs signatures, picked round-robin among the
  reviewers eligible for it (review.routing) by current load — the fewest open assignments,
  then whoever was assigned least recently. Never an author of the draft, a reviewer marked
  away, one who already signed this revision, or one already assigned another step of it.
* **By hand**: an admin or a reviewer assigns a step to an eligible reviewer (`assign`).
* **On absence**: an admin marks a reviewer away (`set_away`); their open assignments move to
  others, picked the same way.

An assignment is done when its reviewer signs or its step is satisfied, and closed when the
draft leaves review. Every change is audited on the draft's trail and happens under the
draft's lock, then the reviewers' user rows (always in that order), so two decisions never
pick from the same stale load. The hooks `on_transition` (review.transitions) and `on_signed`
(review.workflow.approve) run inside the caller's transaction and lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from . import audit, notifications, routing
from .auth import get_user, require_role
from .brands import policy_for
from .errors import Conflict, InvalidInput, NotReady, PermissionDenied
from .locks import lock_draft, lock_rows
from .models import Absence, Assignment, AssignmentState, Campaign, Draft, NotificationKind, Role, Status, User, pk, utcnow
from .routing import ReviewStep
from .signing import authors, valid_approvals
from .transitions import brand_of, last_change

SYSTEM = "system"
A = AssignmentState


# ------------------------------------------------------------------------- reading


def open_assignments(session: Session, draft_id: int) -> list[Assignment]:
    return list(session.exec(select(Assignment).where(Assignment.draft_id == draft_id, Assignment.state == A.OPEN).order_by(col(Assignment.id))).all())


def loads(session: Session, user_ids: list[int]) -> dict[int, int]:
    """Open assignments per reviewer (their current load)."""
    if not user_ids:
        return {}
    q = select(Assignment.reviewer_id, func.count()).where(col(Assignment.reviewer_id).in_(user_ids), Assignment.state == A.OPEN)
    counts = {int(uid): int(n) for uid, n in session.exec(q.group_by(col(Assignment.reviewer_id))).all()}
    return {uid: counts.get(uid, 0) for uid in user_ids}


def away_ids(session: Session) -> set[int]:
    return set(session.exec(select(Absence.user_id)).all())


def absence_of(session: Session, user_id: int) -> Absence | None:
    return session.get(Absence, user_id)


def _signers(session: Session, draft: Draft) -> dict[str, set[int]]:
    """Who signed which step of the draft's current revision, as routing counts them."""
    return {st.step.name: set(st.signer_ids) for st in routing.step_state(session, draft)}


def _signed_anything(session: Session, draft: Draft) -> set[int]:
    """Everyone with a valid signature on the current revision (one person signs one step)."""
    return {a.reviewer_id for a in valid_approvals(session, draft)}


def _brand_id(session: Session, draft: Draft) -> int:
    camp = session.get(Campaign, draft.campaign_id)
    if camp is None:
        raise InvalidInput(f"draft {draft.id}'s campaign {draft.campaign_id} is gone")
    return camp.brand_id


def _candidates(session: Session, draft: Draft, step: ReviewStep, *, exclude: set[int]) -> list[User]:
    """Eligible reviewers who may take this step of this draft now, least loaded first."""
    blocked = exclude | authors(session, draft) | away_ids(session)
    blocked |= _signed_anything(session, draft)
    blocked |= {a.reviewer_id for a in open_assignments(session, pk(draft))}
    users = [u for u in routing.eligible_reviewers(session, _brand_id(session, draft), step) if u.active and u.role == Role.REVIEWER and pk(u) not in blocked]
    if not users:
        return []
    # Lock the candidates' rows before reading their load: two drafts entering review at once
    # must not both see the same reviewer as the least loaded.
    locked = lock_rows(session, User, [pk(u) for u in users])
    load = loads(session, [pk(u) for u in locked])
    latest = select(Assignment.reviewer_id, func.max(Assignment.created_at)).where(col(Assignment.reviewer_id).in_(list(load)))
    last = dict(session.exec(latest.group_by(col(Assignment.reviewer_id))).all())
    never = datetime.min
    return sorted(locked, key=lambda u: (load[pk(u)], (last.get(pk(u)) or never).replace(tzinfo=None), pk(u)))


# ------------------------------------------------------------------------- changing


def _create(session: Session, draft: Draft, step: ReviewStep, reviewer: User, *, method: str, by: str, triggered_by: str = "") -> Assignment:
    a = Assignment(draft_id=pk(draft), step=step.name, step_index=step.index, reviewer_id=pk(reviewer), method=method, assigned_by=by, revision=draft.revision)
    session.add(a)
    session.flush()
    after = {"assignment_id": a.id, "step": step.name, "reviewer": reviewer.username, "method": method}
    if triggered_by:
        after["triggered_by"] = triggered_by
    audit.append(session, actor=by, action="assignment_created", entity="draft", entity_id=draft.id, after=after)
    camp = session.get(Campaign, draft.campaign_id)
    due = f" (due {camp.due_at:%Y-%m-%d %H:%M} UTC)" if camp is not None and camp.due_at is not None else ""
    notifications.notify(
        session,
        pk(reviewer),
        NotificationKind.ASSIGNED,
        title=f"Draft {draft.id} of '{camp.name if camp else draft.campaign_id}' is assigned to you: {step.name} step{due}",
        comment="" if by == SYSTEM else f"Assigned by {by}.",
        draft_id=pk(draft),
        campaign_id=draft.campaign_id,
        assignment_id=pk(a),
        actor=by if by != SYSTEM else (triggered_by or SYSTEM),
    )
    return a


def _close(session: Session, draft: Draft, a: Assignment, state: str, reason: str, *, by: str) -> None:
    before = {"assignment_id": a.id, "state": a.state}
    a.state, a.closed_at, a.close_reason = state, utcnow(), reason
    session.add(a)
    reviewer = session.get(User, a.reviewer_id)
    after = {"assignment_id": a.id, "state": state, "step": a.step, "reviewer": reviewer.username if reviewer else a.reviewer_id, "reason": reason}
    audit.append(session, actor=by, action=f"assignment_{state}", entity="draft", entity_id=draft.id, before=before, after=after)


def fill(session: Session, draft: Draft, *, triggered_by: str = "") -> list[Assignment]:
    """Give each open step of a draft in review as many reviewers as it still needs signatures
    (round-robin by load). Runs under the caller's lock on the draft. A step nobody can take
    stays unassigned: `remind` tries again, and an admin sees it on My work."""
    if draft.status != Status.IN_REVIEW or session.get(Campaign, draft.campaign_id) is None:
        return []  # (a draft without its campaign has no brand, so no plan to route)
    made: list[Assignment] = []
    for st in routing.step_state(session, draft):
        if not st.open:
            continue
        step = st.step
        have = [a for a in open_assignments(session, pk(draft)) if a.step == step.name]
        for _ in range(max(0, st.missing - len(have))):
            pool = _candidates(session, draft, step, exclude=set())
            if not pool:
                break
            made.append(_create(session, draft, step, pool[0], method="auto", by=SYSTEM, triggered_by=triggered_by))
    return made


def settle(session: Session, draft: Draft, *, by: str) -> None:
    """Mark done the assignments whose reviewer signed this revision or whose step is satisfied."""
    if draft.status != Status.IN_REVIEW:
        return
    signed = _signers(session, draft)
    signed_any = _signed_anything(session, draft)
    still_open = {s.name for s in routing.open_steps(session, draft)}
    for a in open_assignments(session, pk(draft)):
        if a.reviewer_id in signed_any:
            _close(session, draft, a, A.DONE, "signed", by=by)
        elif a.step not in still_open:
            who = ", ".join(sorted(u.username for u in session.exec(select(User).where(col(User.id).in_(signed.get(a.step, set())))).all()))
            _close(session, draft, a, A.DONE, f"step satisfied by {who}" if who else "step satisfied", by=by)


_DECISIONS = {Status.NEEDS_CHANGES: NotificationKind.CHANGES_REQUESTED, Status.APPROVED: NotificationKind.APPROVED, Status.REJECTED: NotificationKind.REJECTED}


def on_transition(session: Session, draft: Draft, before: str, to: str, actor: User, reason: str = "") -> None:
    """The hook in review.transitions.transition: assign on entering review, close on leaving it,
    and tell the draft's authors what the reviewers decided."""
    if before == Status.IN_REVIEW and to != Status.IN_REVIEW:
        state = A.DONE if to == Status.APPROVED else A.CLOSED
        signed = _signed_anything(session, draft) if to == Status.APPROVED else set()
        for a in open_assignments(session, pk(draft)):
            _close(session, draft, a, state, "signed" if a.reviewer_id in signed else f"draft {to}", by=actor.username)
    if to == Status.IN_REVIEW:
        fill(session, draft, triggered_by=actor.username)
    kind = _DECISIONS.get(to)
    if kind is not None:
        notifications.notify_authors(session, draft, kind, actor=actor, comment=reason)


def on_signed(session: Session, draft: Draft, signer: User) -> None:
    """The hook after a signature (review.workflow.approve): the signer's assignment is done, a
    satisfied step's others too, and a step that opened now is assigned."""
    settle(session, draft, by=signer.username)
    fill(session, draft, triggered_by=signer.username)


# ------------------------------------------------------------------------- services


def _step(session: Session, draft: Draft, name: str) -> ReviewStep:
    steps = routing.steps_for(policy_for(brand_of(session, draft)))
    step = next((s for s in steps if s.name == name), None)
    if step is None:
        raise InvalidInput(f"draft {draft.id}'s brand has no review step '{name}' (steps: {', '.join(s.name for s in steps)})")
    open_now = [s.name for s in routing.open_steps(session, draft)]
    if name not in open_now:
        raise NotReady(f"step '{name}' of draft {draft.id} is not open for signing now (open: {', '.join(open_now) or 'none'})")
    return step


def assign(session: Session, actor: User, draft_id: int, *, step: str, to_user_id: int, replace_user_id: int | None = None) -> Assignment:
    """Assign one step of a draft in review to an eligible reviewer (an admin, or a reviewer —
    themselves or a colleague). When the step already has the reviewers it needs, the one named
    by `replace_user_id` (or the only one) hands it over."""
    require_role(actor, Role.ADMIN, Role.REVIEWER)
    draft = lock_draft(session, draft_id)
    if draft.status != Status.IN_REVIEW:
        raise NotReady(f"{last_change(session, draft)}; only drafts in review are assigned")
    st = _step(session, draft, step)
    target = get_user(session, to_user_id)
    _check_assignee(session, draft, st, target)
    current = [a for a in open_assignments(session, pk(draft)) if a.step == st.name]
    signed = _signers(session, draft).get(st.name, set())
    if any(a.reviewer_id == target.id for a in current):
        raise Conflict(f"{target.username} is already assigned the {st.name} step of draft {draft.id}")
    method = "manual"
    if len(current) + len(signed) >= st.count:
        if replace_user_id is None and len(current) == 1:
            replace_user_id = current[0].reviewer_id
        old = next((a for a in current if a.reviewer_id == replace_user_id), None)
        if old is None:
            names = ", ".join(sorted(_username(session, a.reviewer_id) for a in current)) or "nobody (its signatures are given)"
            raise Conflict(f"the {st.name} step of draft {draft.id} already has the reviewers it needs ({names}); say whom the new reviewer replaces")
        _close(session, draft, old, A.MOVED, f"reassigned to {target.username} by {actor.username}", by=actor.username)
    lock_rows(session, User, [pk(target)])
    return _create(session, draft, st, target, method=method, by=actor.username)


def _username(session: Session, user_id: int) -> str:
    u = session.get(User, user_id)
    return u.username if u else f"user {user_id}"


def _check_assignee(session: Session, draft: Draft, step: ReviewStep, target: User) -> None:
    if not target.active:
        raise InvalidInput(f"{target.username}'s account is deactivated")
    if pk(target) in authors(session, draft):
        raise PermissionDenied(f"{target.username} wrote or edited draft {draft.id} and cannot review it")
    away = absence_of(session, pk(target))
    if away is not None:
        raise Conflict(f"{target.username} is marked away (since {away.since:%Y-%m-%d}); mark them back on the Users page first")
    if target.id not in {u.id for u in routing.eligible_reviewers(session, _brand_id(session, draft), step)}:
        raise InvalidInput(f"{target.username} may not sign the {step.name} step (it needs the {step.role} review role)")
    if pk(target) in _signed_anything(session, draft):
        raise Conflict(f"{target.username} already signed draft {draft.id}; each step needs a different signer")


@dataclass(frozen=True)
class AwayReport:
    user: str
    away: bool
    moved: list[tuple[int, str, str]]  # (draft id, step, new reviewer)
    unassigned: list[tuple[int, str]]  # (draft id, step) nobody could take


def set_away(session: Session, actor: User, user_id: int, *, away: bool, note: str = "", until: datetime | None = None) -> AwayReport:
    """Mark a reviewer away (their open assignments move to others, round-robin by load) or back."""
    require_role(actor, Role.ADMIN)
    # Drafts first, then user rows: the same order as every other assignment decision.
    draft_ids = sorted(set(session.exec(select(Assignment.draft_id).where(Assignment.reviewer_id == user_id, Assignment.state == A.OPEN)).all()))
    drafts = lock_rows(session, Draft, draft_ids) if away else []
    [target] = lock_rows(session, User, [user_id]) or [get_user(session, user_id)]
    existing = absence_of(session, user_id)
    if not away:
        if existing is None:
            raise Conflict(f"{target.username} is not marked away")
        session.delete(existing)
        before = {"away_since": existing.since.isoformat(), "note": existing.note}
        audit.append(session, actor=actor.username, action="user_back", entity="user", entity_id=user_id, before=before, after={"away": False})
        return AwayReport(target.username, False, [], [])
    if existing is not None:
        raise Conflict(f"{target.username} is already marked away (since {existing.since:%Y-%m-%d %H:%M} UTC, by {existing.set_by})")
    if target.role != Role.REVIEWER:
        raise InvalidInput(f"{target.username} is a {target.role}; only reviewers are marked away")
    session.add(Absence(user_id=user_id, until=until, note=note.strip(), set_by=actor.username))
    session.flush()
    after = {"away": True, "until": until.isoformat() if until else None, "note": note.strip()}
    audit.append(session, actor=actor.username, action="user_away", entity="user", entity_id=user_id, after=after)
    moved, unassigned = _move_open(session, drafts, target, actor, reason=f"{target.username} is away")
    return AwayReport(target.username, True, moved, unassigned)


def _move_open(session: Session, drafts: list[Draft], target: User, actor: User, *, reason: str) -> tuple[list[tuple[int, str, str]], list[tuple[int, str]]]:
    """Move `target`'s open assignments on these (locked) drafts to other reviewers."""
    moved: list[tuple[int, str, str]] = []
    unassigned: list[tuple[int, str]] = []
    for draft in drafts:
        for a in [a for a in open_assignments(session, pk(draft)) if a.reviewer_id == target.id]:
            _close(session, draft, a, A.MOVED, reason, by=actor.username)
            step = next((s for s in routing.open_steps(session, draft) if s.name == a.step), None)
            pool = _candidates(session, draft, step, exclude={pk(target)}) if step is not None else []
            if step is None or not pool:
                unassigned.append((pk(draft), a.step))
                continue
            _create(session, draft, step, pool[0], method="absence", by=actor.username)
            moved.append((pk(draft), a.step, pool[0].username))
    return moved, unassigned


def on_deactivate(session: Session, actor: User, user_id: int) -> None:
    """The hook in review.auth.set_active, before the account changes: a deactivated reviewer's
    open assignments move to others (drafts locked first, then the user rows, as everywhere)."""
    draft_ids = sorted(set(session.exec(select(Assignment.draft_id).where(Assignment.reviewer_id == user_id, Assignment.state == A.OPEN)).all()))
    if not draft_ids:
        return
    drafts = lock_rows(session, Draft, draft_ids)
    [target] = lock_rows(session, User, [user_id])
    _move_open(session, drafts, target, actor, reason=f"{target.username} was deactivated")


def sweep(session: Session, *, by: str = SYSTEM) -> list[Assignment]:
    """Assign every open step still short of reviewers, across all drafts in review (drafts that
    entered review before assignments existed, or when nobody could take a step)."""
    ids = [i for i in session.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).order_by(col(Draft.id))).all() if i is not None]
    made: list[Assignment] = []
    for draft in lock_rows(session, Draft, ids):
        made.extend(fill(session, draft, triggered_by=by))
    return made


@dataclass(frozen=True)
class AbsenceInfo:
    user_id: int
    since: datetime
    until: datetime | None
    note: str
    set_by: str
    open_assignments: int


def absences(session: Session, actor: User) -> dict[int, AbsenceInfo]:
    """Who is marked away (admin: the Users page), by user id."""
    require_role(actor, Role.ADMIN)
    rows = list(session.exec(select(Absence)).all())
    load = loads(session, [r.user_id for r in rows])
    return {r.user_id: AbsenceInfo(r.user_id, r.since, r.until, r.note, r.set_by, load[r.user_id]) for r in rows}
