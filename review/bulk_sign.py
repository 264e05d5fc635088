"""Signing several finding-free drafts at once, each only as the reviewer was shown it.

Each draft still gets its own signature, manifest and audit event (review.workflow.approve);
a draft with any finding, even a suggestion, is never signed in bulk. Each is signed for the
one review step the reviewer may sign on it now (review.routing); a draft where they may sign
none, or several (they must choose), is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from . import routing
from .auth import require_role, verify_signer
from .errors import CountersignError, InvalidInput, NotReady
from .locks import lock_rows
from .models import Approval, Draft, Role, Status, User
from .workflow import SIGNATURE_MEANINGS, approve, brand_policy, get_draft, valid_approvals


def drafts_without_findings(session: Session, actor: User, draft_ids: list[int]) -> list[int]:
    """Of these drafts, the ones in review with no finding at all (not even a suggestion) that
    the actor has not signed yet at their current revision and has exactly one review step to
    sign on now: what may be signed in bulk."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    if not draft_ids:
        return []
    rows = session.exec(select(Draft.id, Draft.findings).where(col(Draft.id).in_(draft_ids), Draft.status == Status.IN_REVIEW)).all()
    signed = set(
        session.exec(
            select(Approval.draft_id)
            .join(Draft, col(Draft.id) == col(Approval.draft_id))
            .where(col(Approval.draft_id).in_(draft_ids), Approval.reviewer_id == actor.id, Approval.valid == True, Approval.revision == Draft.revision)  # noqa: E712
        ).all()
    )
    unsigned = sorted(i for i, f in rows if i is not None and not f and i not in signed)
    if actor.role != Role.REVIEWER:
        return unsigned  # an admin may look, and `approve_shown` refuses the whole batch by role, in one message
    return [i for i in unsigned if len(routing.signable_steps(session, get_draft(session, i), actor)) == 1]


@dataclass(frozen=True)
class SignOutcome:
    """What a bulk signature did to one draft."""

    draft_id: int
    signed: bool
    detail: str  # "approved", "signed (1 of 2 signatures)", "signed the legal step (...)", or why it was not signed
    error: CountersignError | None = None


def approve_shown(session: Session, actor: User, shown: Mapping[int, str], *, password: str, meaning: str) -> list[SignOutcome]:
    """Sign several finding-free drafts, each only as the reviewer was shown it.

    `shown` maps each draft to the content hash of the text the review sheet displayed: a draft
    edited since is refused, never signed unseen. Role, meaning and password are checked once
    (a wrong password refuses the whole batch and counts once towards the lock-out); then each
    draft is signed on its own savepoint, so one refusal never stops the others, and every
    draft gets an outcome. Refusals among the outcomes are for the caller to put on record
    (review.db.record_refusal) once this transaction has committed.
    """
    require_role(actor, Role.REVIEWER)
    if not shown:
        raise InvalidInput("choose the drafts to sign and read them on the review sheet first")
    if meaning not in SIGNATURE_MEANINGS:
        raise InvalidInput(f"choose what the signature means: {'; '.join(SIGNATURE_MEANINGS)}")
    who = {"actor": actor.username, "attempted": "sign", "entity": "draft", "entity_id": ",".join(str(i) for i in shown)}
    verify_signer(session, actor, password, who)
    # Lock every draft first (in id order). On SQLite this also opens the real transaction, so
    # each draft's savepoint below nests inside it and a crash mid-batch undoes the whole batch.
    lock_rows(session, Draft, list(shown))
    outcomes: list[SignOutcome] = []
    for draft_id, content_hash in shown.items():
        try:
            with session.begin_nested():
                draft = get_draft(session, draft_id)
                if draft.findings:
                    raise NotReady(f"draft {draft_id} has {len(draft.findings)} finding(s); open it and approve it on its own")
                several = routing.signable_steps(session, draft, actor)
                if len(several) > 1:
                    names = ", ".join(st.name for st in several)
                    raise NotReady(f"you may sign more than one step of draft {draft_id} ({names}); open it and choose the step you sign")
                appr = approve(session, actor, draft_id, password=password, meaning=meaning, acknowledged=[], expected_content_hash=content_hash)
        except CountersignError as e:
            outcomes.append(SignOutcome(draft_id, False, str(e), e))
            continue
        draft = get_draft(session, draft_id)
        policy = brand_policy(session, draft)
        if draft.status == Status.APPROVED:
            outcomes.append(SignOutcome(draft_id, True, "approved"))
        elif routing.legacy(policy):
            n, required = len(valid_approvals(session, draft)), policy.approvals_required
            outcomes.append(SignOutcome(draft_id, True, f"signed ({n} of {required} signatures)"))
        else:
            states = routing.step_state(session, draft, policy=policy)
            outcomes.append(SignOutcome(draft_id, True, f"signed the {appr.step} step ({routing.progress(states)})"))
    return outcomes
