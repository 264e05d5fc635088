"""Review routing: which step of a brand's review plan each signature satisfies, who may sign
which step now, and the review roles reviewers hold.

A brand's plan is brand.yaml's `review:` (review.review_steps; `approvals_required: N` is the
one step `review` of N signers, any reviewer). Reviewers hold review roles (medical, legal,
...), assigned by an admin (`set_review_roles`, audited). A signature (models.Approval) records
its step; it counts towards that step while it is valid on the draft's current revision and
its signer is still an active reviewer holding the step's role. One person counts once per
revision, whichever step they signed. A draft is approved when every step is satisfied.

`sequential` plans open one step at a time (the first unsatisfied one); `parallel` plans open
every unsatisfied step. Nothing is open unless the draft is in review.

The workflow (review.workflow.approve) picks the step with `choose_step` under the draft's lock;
export re-counts with `tally` over the signatures it verified (review.export).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .brands import BrandPolicy, list_brands, policy_for
from .errors import Conflict, InvalidInput, NotFound, NotReady, PermissionDenied
from .locks import lock_one
from .models import Approval, Brand, Draft, Role, Status, User, UserReviewRole, pk
from .review_steps import ANY_REVIEWER, LEGACY_STEP, PARALLEL, SEQUENTIAL, ReviewStep, name_problem, plan_summary
from .signing import authors, valid_approvals
from .transitions import brand_of

__all__ = [
    "ANY_REVIEWER",
    "PARALLEL",
    "SEQUENTIAL",
    "ReviewStep",
    "StepState",
    "choose_step",
    "eligible_reviewers",
    "eligible_signers",
    "known_review_roles",
    "open_steps",
    "plan_manifest",
    "progress",
    "review_roles",
    "set_review_roles",
    "signable_steps",
    "step_state",
    "steps_for",
    "tally",
]


@dataclass(frozen=True)
class StepState:
    """Where one step of a draft's review stands on the draft's current revision."""

    step: ReviewStep
    signers: tuple[Approval, ...]  # the valid signatures on this revision that count towards the step, in signing order
    satisfied: bool  # as many distinct eligible signers as the step's count
    open: bool  # the draft is in review and the step may be signed now (sequential: its turn has come)

    @property
    def signer_ids(self) -> tuple[int, ...]:
        return tuple(a.reviewer_id for a in self.signers)

    @property
    def missing(self) -> int:
        """Signatures the step still needs."""
        return max(0, self.step.count - len(self.signers))


def steps_for(policy: BrandPolicy) -> tuple[ReviewStep, ...]:
    """The brand's review plan, in brand.yaml order (the legacy one-step plan when it has none)."""
    return policy.review_plan


def plan_manifest(policy: BrandPolicy) -> dict[str, Any]:
    """The plan as a signature's manifest records it."""
    return {"order": policy.review_order, "steps": [s.as_dict() for s in steps_for(policy)]}


def _policy(session: Session, draft: Draft, policy: BrandPolicy | None) -> BrandPolicy:
    return policy if policy is not None else policy_for(brand_of(session, draft))


def _may_sign_role(role: str, held: Iterable[str]) -> bool:
    return role == ANY_REVIEWER or role in set(held)


def _eligible(session: Session, user_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """For each of these users who is an active reviewer: the review roles they hold."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    reviewers = session.exec(select(User.id).where(col(User.id).in_(ids), User.active == True, User.role == Role.REVIEWER)).all()  # noqa: E712
    held: dict[int, set[str]] = {i: set() for i in reviewers if i is not None}
    for uid, role in session.exec(select(UserReviewRole.user_id, UserReviewRole.role).where(col(UserReviewRole.user_id).in_(list(held)))).all():
        held[uid].add(role)
    return {uid: frozenset(roles) for uid, roles in held.items()}


def eligible_signers(session: Session, approvals: Iterable[Approval]) -> dict[int, frozenset[str]]:
    """For `tally`: each signer of `approvals` who is still an active reviewer, with the review roles they hold."""
    return _eligible(session, (a.reviewer_id for a in approvals))


def tally(
    steps: Sequence[ReviewStep], order: str, approvals: Sequence[Approval], eligible: Mapping[int, frozenset[str]], *, in_review: bool
) -> list[StepState]:
    """Route signatures onto steps (no database access).

    `approvals` are the valid signatures on the current revision (in signing order); `eligible`
    maps each signer who is still an active reviewer to the review roles they hold now. A
    signature counts towards the step it names when its signer may sign the step's role, the
    role it was signed under (its manifest) is still the step's role, and its signer has not
    already counted towards another step."""
    by_name = {s.name: s for s in steps}
    counted: dict[str, list[Approval]] = {s.name: [] for s in steps}
    seen: set[int] = set()
    for a in approvals:
        step = by_name.get(a.step)
        if step is None or a.reviewer_id in seen:
            continue
        recorded = ((a.manifest or {}).get("policy") or {}).get("step")
        if isinstance(recorded, dict) and recorded.get("role") != step.role:
            continue  # brand.yaml now gives the step another role: this signature was not taken for it
        if a.reviewer_id not in eligible or not _may_sign_role(step.role, eligible[a.reviewer_id]):
            continue
        counted[step.name].append(a)
        seen.add(a.reviewer_id)
    states: list[StepState] = []
    blocked = False  # sequential: a step before this one is not satisfied yet
    for s in steps:
        sat = len(counted[s.name]) >= s.count
        is_open = in_review and not sat and not blocked
        if order == SEQUENTIAL and not sat:
            blocked = True
        states.append(StepState(s, tuple(counted[s.name]), sat, is_open))
    return states


def step_state(session: Session, draft: Draft, *, policy: BrandPolicy | None = None) -> list[StepState]:
    """Per step of the draft's brand plan: the signatures that count so far on this revision,
    whether it is satisfied and whether it is open (may be signed now)."""
    pol = _policy(session, draft, policy)
    approvals = valid_approvals(session, draft)
    eligible = _eligible(session, (a.reviewer_id for a in approvals))
    return tally(steps_for(pol), pol.review_order, approvals, eligible, in_review=draft.status == Status.IN_REVIEW)


def open_steps(session: Session, draft: Draft) -> list[ReviewStep]:
    """The steps that may be signed now: sequential, the first unsatisfied; parallel, every unsatisfied."""
    return [st.step for st in step_state(session, draft) if st.open]


def review_roles(session: Session, user_id: int) -> tuple[str, ...]:
    """The review roles this user holds, sorted."""
    return tuple(sorted(session.exec(select(UserReviewRole.role).where(UserReviewRole.user_id == user_id)).all()))


def _signed_revision(session: Session, draft: Draft, user: User) -> Approval | None:
    return next((a for a in valid_approvals(session, draft) if a.reviewer_id == user.id), None)


def signable_steps(session: Session, draft: Draft, user: User) -> list[ReviewStep]:
    """The open steps this user may sign now: an active reviewer holding the step's role, not an
    author of the draft, who has not signed this revision already."""
    if not user.active or user.role != Role.REVIEWER or draft.status != Status.IN_REVIEW:
        return []
    if user.id in authors(session, draft) or _signed_revision(session, draft, user) is not None:
        return []
    held = review_roles(session, pk(user))
    return [st.step for st in step_state(session, draft) if st.open and _may_sign_role(st.step.role, held)]


def eligible_reviewers(session: Session, brand_id: int, step: ReviewStep) -> list[User]:
    """Active reviewers holding the step's role (any active reviewer for role `reviewer`), by username."""
    if session.get(Brand, brand_id) is None:
        raise NotFound(f"brand {brand_id} not found")
    q = select(User).where(User.active == True, User.role == Role.REVIEWER)  # noqa: E712
    if step.role != ANY_REVIEWER:
        q = q.where(col(User.id).in_(select(UserReviewRole.user_id).where(UserReviewRole.role == step.role)))
    return list(session.exec(q.order_by(col(User.username))).all())


def known_review_roles(session: Session) -> tuple[str, ...]:
    """The review roles some brand's plan asks for (what the Users page offers), sorted."""
    return tuple(sorted({s.role for _, p in list_brands(session) for s in steps_for(p) if s.role != ANY_REVIEWER}))


def _clean_roles(roles: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in roles:
        role = str(raw).strip().lower()
        if not role:
            continue
        if role == ANY_REVIEWER:
            raise InvalidInput(f"'{ANY_REVIEWER}' is not a review role to hold: every reviewer may sign a step whose role is '{ANY_REVIEWER}'")
        problem = name_problem(role, f"review role '{role}'")
        if problem:
            raise InvalidInput(problem)
        if role not in out:
            out.append(role)
    return tuple(sorted(out))


def replace_review_roles(session: Session, user: User, wanted: tuple[str, ...], *, granted_by: User) -> tuple[str, ...]:
    """Make `user` hold exactly `wanted` (sorted) and return the roles held before; writes nothing
    when they are the same. The caller checks permission and writes the audit event."""
    rows = list(session.exec(select(UserReviewRole).where(UserReviewRole.user_id == user.id)).all())
    before = tuple(sorted(r.role for r in rows))
    if before == wanted:
        return before
    for r in rows:
        if r.role not in wanted:
            session.delete(r)
    for role in wanted:
        if role not in before:
            session.add(UserReviewRole(user_id=pk(user), role=role, granted_by=pk(granted_by)))
    session.flush()
    return before


def set_review_roles(session: Session, actor: User, user_id: int, roles: list[str]) -> tuple[str, ...]:
    """Replace the review roles a reviewer holds (admin only; audited). Returns the roles held
    after the change; setting the roles already held changes and records nothing."""
    require_role(actor, Role.ADMIN)
    user = lock_one(session, User, user_id, "user")
    wanted = _clean_roles(roles)
    if wanted and user.role != Role.REVIEWER:
        raise InvalidInput(f"{user.username} is a {user.role}; only reviewers hold review roles")
    before = replace_review_roles(session, user, wanted, granted_by=actor)
    if before == wanted:
        return before
    audit.append(
        session,
        actor=actor.username,
        action="review_roles_changed",
        entity="user",
        entity_id=user.id,
        before={"username": user.username, "review_roles": list(before)},
        after={
            "username": user.username,
            "review_roles": list(wanted),
            "added": [r for r in wanted if r not in before],
            "removed": [r for r in before if r not in wanted],
        },
    )
    return wanted


def progress(states: Sequence[StepState]) -> str:
    """'medical 1/1, legal 0/1, regulatory 0/1'."""
    return ", ".join(f"{st.step.name} {len(st.signers)}/{st.step.count}" for st in states)


def _attempt(actor: User, draft: Draft) -> dict[str, Any]:
    return {"actor": actor.username, "attempted": "sign", "entity": "draft", "entity_id": draft.id}


def _held_text(held: Sequence[str]) -> str:
    return f"you hold {', '.join(held)}" if held else "you hold no review role (an admin assigns them on the Users page)"


def choose_step(session: Session, draft: Draft, actor: User, step: str | None, *, policy: BrandPolicy | None = None) -> ReviewStep:
    """The step `actor` signs on `draft` now: `step` when named, else the only one they may sign.
    Raises with a message saying what the draft waits for and what the actor holds. Call under
    the draft's lock."""
    pol = _policy(session, draft, policy)
    states = step_state(session, draft, policy=pol)
    by_name = {st.step.name: st for st in states}
    if step is not None and step not in by_name:
        raise InvalidInput(f"draft {draft.id}'s brand has no review step '{step}' (its plan: {plan_summary(pol.review_order, steps_for(pol))})")
    mine = _signed_revision(session, draft, actor)
    if mine is not None:
        raise PermissionDenied(
            f"{actor.username} already approved this revision (the {mine.step} step); one person signs one step, another reviewer must sign",
            **_attempt(actor, draft),
        )
    held = review_roles(session, pk(actor))
    opened = [st for st in states if st.open]
    if not opened:
        raise Conflict(f"every step of draft {draft.id}'s review plan is already signed ({progress(states)})")
    waiting = " and ".join(st.step.name for st in opened)
    if step is not None:
        st = by_name[step]
        if st.satisfied:
            done = f"{len(st.signers)} of {st.step.count}"
            raise Conflict(f"the {step} step of draft {draft.id} is already signed ({done}); draft {draft.id} waits for the {waiting} step")
        if not _may_sign_role(st.step.role, held):
            raise PermissionDenied(f"the {step} step of draft {draft.id} needs the {st.step.role} review role; {_held_text(held)}", **_attempt(actor, draft))
        if not st.open:
            raise NotReady(f"draft {draft.id} waits for the {waiting} step; the {step} step comes after it")
        return st.step
    mayst = [st.step for st in opened if _may_sign_role(st.step.role, held)]
    if len(mayst) == 1:
        return mayst[0]
    if mayst:
        raise InvalidInput(f"{actor.username} may sign more than one step of draft {draft.id} ({', '.join(s.name for s in mayst)}); choose the step you sign")
    later = any(_may_sign_role(st.step.role, held) and not st.satisfied for st in states)
    message = f"draft {draft.id} waits for the {waiting} step; {_held_text(held)}"
    if later:  # their step comes later in a sequential plan
        raise NotReady(message)
    raise PermissionDenied(message, **_attempt(actor, draft))


def legacy(policy: BrandPolicy) -> bool:
    """The plan is the one-step `approvals_required` plan (its wording stays 'N of M signatures')."""
    plan = steps_for(policy)
    return len(plan) == 1 and plan[0].name == LEGACY_STEP and plan[0].role == ANY_REVIEWER
