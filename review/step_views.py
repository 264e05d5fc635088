"""What the draft page and the command line show about a draft's review steps (read only).

`step_plan` is the plan panel: each step of brand.yaml's plan, who signed it on this revision,
whether it is satisfied or open, and who else may still sign it. `signing_sheet` is what a
reviewer reads before signing on the command line: the exact slot texts, the content hash the
signature will cover, the warnings to acknowledge and the step they would sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from . import routing
from .auth import require_role
from .brands import policy_for
from .checks import warning_ids
from .models import Campaign, Role, User, pk
from .review_steps import plan_summary
from .signing import authors, valid_approvals
from .transitions import brand_of, get_draft


@dataclass(frozen=True)
class PlanRow:
    """One step as the plan panel shows it."""

    name: str
    role: str  # "reviewer": any reviewer
    count: int
    signers: tuple[str, ...]  # "Rita Reviewer (rita)", in signing order
    satisfied: bool
    open: bool
    may_sign: tuple[str, ...]  # usernames of the eligible reviewers who could still sign it (not authors, not signed this revision)


@dataclass(frozen=True)
class StepPlan:
    draft_id: int
    order: str  # sequential | parallel
    summary: str  # "medical → legal → regulatory"
    rows: tuple[PlanRow, ...]
    yours: tuple[str, ...]  # the steps the viewer may sign now
    your_roles: tuple[str, ...]  # the review roles the viewer holds

    @property
    def complete(self) -> bool:
        return all(r.satisfied for r in self.rows)


def step_plan(session: Session, actor: User, draft_id: int) -> StepPlan:
    """The draft's review plan with who signed what on its current revision."""
    require_role(actor, *Role.ALL)
    draft = get_draft(session, draft_id)
    brand = brand_of(session, draft)
    policy = policy_for(brand)
    states = routing.step_state(session, draft, policy=policy)
    writers = authors(session, draft)
    signed = {uid for st in states for uid in st.signer_ids} | {a.reviewer_id for a in valid_approvals(session, draft)}
    names = {pk(u): f"{u.full_name} ({u.username})" for u in _users(session, {a.reviewer_id for st in states for a in st.signers})}
    rows = []
    for st in states:
        others = () if st.satisfied else tuple(u.username for u in routing.eligible_reviewers(session, pk(brand), st.step) if u.id not in writers | signed)
        rows.append(
            PlanRow(st.step.name, st.step.role, st.step.count, tuple(names.get(a.reviewer_id, a.full_name) for a in st.signers), st.satisfied, st.open, others)
        )
    return StepPlan(
        draft_id=pk(draft),
        order=policy.review_order,
        summary=plan_summary(policy.review_order, routing.steps_for(policy)),
        rows=tuple(rows),
        yours=tuple(s.name for s in routing.signable_steps(session, draft, actor)),
        your_roles=routing.review_roles(session, pk(actor)),
    )


def _users(session: Session, ids: set[int]) -> list[User]:
    return [u for u in (session.get(User, i) for i in sorted(ids)) if u is not None]


@dataclass(frozen=True)
class SigningSheet:
    """Exactly what a signature on the draft's current revision covers, and what it asks."""

    draft_id: int
    campaign: str
    status: str
    revision: int
    slots: dict[str, str]
    content_hash: str
    warnings: tuple[tuple[str, str], ...]  # (acknowledgement id, message)
    errors: int
    plan: StepPlan


def signing_sheet(session: Session, actor: User, draft_id: int) -> SigningSheet:
    """What `python -m review approve` shows before asking for the password."""
    require_role(actor, *Role.ALL)
    draft = get_draft(session, draft_id)
    camp = session.get(Campaign, draft.campaign_id)
    warns = [f for f in draft.findings if f.get("level") == "warning"]
    return SigningSheet(
        draft_id=pk(draft),
        campaign=camp.name if camp is not None else "?",
        status=draft.status,
        revision=draft.revision,
        slots=dict(draft.slots),
        content_hash=draft.content_hash,
        warnings=tuple((i, str(f.get("message", ""))) for i, f in zip(warning_ids(draft.findings), warns, strict=True)),
        errors=draft.error_count,
        plan=step_plan(session, actor, draft_id),
    )
