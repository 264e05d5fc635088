"""The approval workflow: what a user may do to a draft now, and doing it.

`get_actions(session, draft, user)` lists the actions this user may take on this draft now,
with what each form asks (a comment, a password and meaning); `perform(session, actor,
draft_id, action, **inputs)` is the one entry point that takes one (as Wagtail's workflow
views do with `get_actions` and `on_action`). Pages render exactly the actions offered and
never decide permissions themselves.

Each service locks the draft first (review.locks), then runs its guards (role, relation to the
draft, status) on what it reads *after* the lock, then makes the change and writes the audit
event, all in the caller's transaction: either everything happens or nothing does. Of two people
acting on one draft at once, the second waits for the first, then sees its outcome and is
refused with a message naming it. No model, rule or task ever approves on its own.

Statuses change in review.transitions only; what a signature covers is review.signing;
re-checking after rule changes is review.rechecks (the names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from . import assignments, audit, routing, webhooks
from .annotations import submit_problem as annotation_problem
from .auth import require_role, verify_signer
from .brands import BrandPolicy, policy_fingerprint, policy_for
from .checks import warning_ids
from .editing import edit_draft as edit_draft
from .errors import Conflict, InvalidInput, InvalidTransition, NotReady, PermissionDenied
from .expiry import renew, renewable
from .locks import lock_draft, lock_rows
from .models import Approval, Comment, Draft, Role, Status, User, pk
from .recalls import record_draft_withdrawal
from .rechecks import recheck as recheck
from .rechecks import recheck_brand as recheck_brand
from .rechecks import recheck_drafts as recheck_drafts
from .signing import SIGNATURE_MEANINGS as SIGNATURE_MEANINGS
from .signing import authors as authors
from .signing import content_hash as content_hash
from .signing import draft_content_hash as draft_content_hash
from .signing import manifest as manifest
from .signing import valid_approvals as valid_approvals
from .templates import sha256_json
from .transitions import EDITABLE as EDITABLE
from .transitions import TRANSITIONS as TRANSITIONS
from .transitions import brand_of, last_event, void_approvals
from .transitions import get_draft as get_draft
from .transitions import last_change as last_change
from .transitions import transition as transition

S = Status


def brand_policy(session: Session, draft: Draft) -> BrandPolicy:
    """The brand's policy as brand.yaml says it now: the file is the single source."""
    return policy_for(brand_of(session, draft))


# ------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Action:
    """One thing a user may do to a draft now, and what its form asks for."""

    name: str  # what `perform` takes: submit, approve, request_changes, reject, withdraw, edit
    label: str  # the button's (or tab's) text
    style: str = "secondary"  # "primary": the page's main action
    needs_comment: bool = False  # a comment saying why is required (3 characters or more)
    takes_comment: bool = False  # a comment box is offered (required only with needs_comment)
    needs_password: bool = False  # an electronic signature: password re-entered, a meaning chosen, warnings acknowledged
    meanings: tuple[str, ...] = ()  # what the signature may mean (needs_password only)
    steps: tuple[str, ...] = ()  # approve: the review steps this user may sign now (review.routing); several: the form asks which


def get_actions(session: Session, draft: Draft, user: User) -> list[Action]:
    """What this user may do to this draft now. The UI shows exactly these; `perform` and the
    services behind it check again, under the draft's lock."""
    acts: list[Action] = []
    if not user.active:
        return acts
    if user.role == Role.MARKETER:
        if draft.status in EDITABLE:
            acts.append(Action("edit", "Edit slot text"))
        if draft.status in (S.CHECKED, S.NEEDS_CHANGES) and draft.error_count == 0:
            acts.append(_submit_action(session, draft))
    if user.role == Role.REVIEWER and draft.status == S.IN_REVIEW and user.id not in authors(session, draft):
        steps = tuple(s.name for s in routing.signable_steps(session, draft, user))
        if steps:
            acts.append(Action("approve", "Approve", style="primary", needs_password=True, meanings=SIGNATURE_MEANINGS, steps=steps))
        acts.append(Action("request_changes", "Request changes", needs_comment=True, takes_comment=True))
        acts.append(Action("reject", "Reject", needs_comment=True, takes_comment=True))
    if user.role in (Role.REVIEWER, Role.ADMIN) and draft.status in (S.APPROVED, S.PUBLISHED):
        acts.append(Action("withdraw", "Withdraw", needs_comment=True, takes_comment=True))
    acts += [Action("renew", "Renew approval", takes_comment=True)] if renewable(session, draft, user) else []  # review.expiry
    return acts


def _submit_action(session: Session, draft: Draft) -> Action:
    """Submit, or, for a draft sent back for changes, resubmit (the quiet action then: the edit
    comes first), with a reply to the reviewer that is required while the text is unchanged."""
    asked = _sent_back_at(session, draft)
    if asked is None:
        return Action("submit", "Submit for review", style="primary")
    unchanged = asked.revision == draft.revision
    return Action("submit", "Resubmit unchanged" if unchanged else "Resubmit for review", takes_comment=True, needs_comment=unchanged)


def perform(session: Session, actor: User, draft_id: int, action: str, **inputs: Any) -> Draft | Approval:
    """Take one action on a draft: the single entry point for what `get_actions` offers. Each
    service runs its own guards (role, relation to the draft, status) after locking the draft,
    so an action offered a moment ago that is no longer allowed is refused with a message."""
    if action not in _PERFORM:
        raise InvalidInput(f"unknown action '{action}' (one of: {', '.join(_PERFORM)})")
    service, needed, optional = _PERFORM[action]
    missing, unknown = needed - set(inputs), set(inputs) - needed - optional
    if missing or unknown:
        problem = f"needs {', '.join(sorted(missing))}" if missing else f"does not take {', '.join(sorted(unknown))}"
        raise InvalidInput(f"{action.replace('_', ' ')} {problem}")
    return service(session, actor, draft_id, **inputs)


# ------------------------------------------------------------------------- services


def _sent_back_at(session: Session, draft: Draft) -> Comment | None:
    """The reviewer's latest request for changes, if the draft is waiting on one."""
    if draft.status != S.NEEDS_CHANGES:
        return None
    return session.exec(
        select(Comment).where(Comment.draft_id == draft.id, col(Comment.kind).in_(("request_changes", "system"))).order_by(col(Comment.id).desc()).limit(1)
    ).first()


def _submit_problem(session: Session, draft: Draft, reply: str) -> str | None:
    """Why this draft cannot be submitted now (None when it can)."""
    if draft.status not in (S.CHECKED, S.NEEDS_CHANGES):
        return f"{last_change(session, draft)}; only checked or needs-changes drafts can be submitted"
    if draft.error_count:
        return f"draft {draft.id} has {draft.error_count} error-level finding(s); fix them before submitting for review"
    asked = _sent_back_at(session, draft)
    if asked is not None and asked.revision == draft.revision and len(reply) < 3:
        return (
            f"draft {draft.id} was sent back with changes requested and has not changed since; "
            "edit it, or reply to the reviewer's comment to resubmit it as it is"
        )
    return annotation_problem(session, draft)


def submit_for_review(session: Session, actor: User, draft_id: int, *, reply: str = "") -> Draft:
    """Send a draft to the reviewers. A draft sent back for changes goes back only once it was
    changed since, or with a reply to the reviewer saying why it stands as it is."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    reply = (reply or "").strip()
    problem = _submit_problem(session, draft, reply)
    if problem:
        raise (InvalidTransition if draft.status not in (S.CHECKED, S.NEEDS_CHANGES) else NotReady)(problem)
    if reply:
        session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="reply", text=reply, revision=draft.revision))
    return transition(session, draft, S.IN_REVIEW, actor, reason=reply or "submitted for review")


@dataclass(frozen=True)
class SubmitReport:
    submitted: list[int]
    skipped: list[tuple[int, str]]


def submit_ready(session: Session, actor: User, campaign_id: int) -> SubmitReport:
    """Submit every draft of a campaign that may go to review; say why each other one did not."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    ids = [d for d in session.exec(select(Draft.id).where(Draft.campaign_id == campaign_id).order_by(col(Draft.id))).all() if d is not None]
    submitted: list[int] = []
    skipped: list[tuple[int, str]] = []
    for draft in lock_rows(session, Draft, ids):
        if draft.status not in (S.CHECKED, S.NEEDS_CHANGES):
            continue
        problem = _submit_problem(session, draft, "")
        if problem:
            skipped.append((pk(draft), problem))
            continue
        transition(session, draft, S.IN_REVIEW, actor, reason="submitted for review")
        submitted.append(pk(draft))
    return SubmitReport(submitted, skipped)


def _require_comment(comment: str, what: str) -> str:
    comment = (comment or "").strip()
    if len(comment) < 3:
        raise InvalidInput(f"{what} needs a comment saying why")
    return comment


def _attempt(actor: User, attempted: str, draft: Draft) -> dict[str, Any]:
    """What a refused attempt on a draft records in the audit trail (errors.Refusal)."""
    return {"actor": actor.username, "attempted": attempted, "entity": "draft", "entity_id": draft.id}


def _decision_guard(session: Session, actor: User, draft: Draft) -> None:
    require_role(actor, Role.REVIEWER)
    if actor.id in authors(session, draft):
        raise PermissionDenied(f"{actor.username} wrote or edited draft {draft.id} and cannot review it", **_attempt(actor, "review", draft))
    if draft.status != S.IN_REVIEW:
        raise InvalidTransition(f"{last_change(session, draft)}, no longer in review")


def approve(
    session: Session,
    actor: User,
    draft_id: int,
    *,
    password: str,
    meaning: str,
    expected_content_hash: str,
    acknowledged: list[str] | None = None,
    step: str | None = None,
) -> Approval:
    """Record an electronic signature over the content the reviewer was shown
    (`expected_content_hash`) for one step of the brand's review plan (`step`; by default the
    only one this reviewer may sign now: review.routing.choose_step); the draft becomes approved
    once every step is signed by distinct eligible reviewers, as brand.yaml says now."""
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    verify_signer(session, actor, password, _attempt(actor, "sign", draft))
    if meaning not in SIGNATURE_MEANINGS:
        raise InvalidInput(f"choose what the signature means: {'; '.join(SIGNATURE_MEANINGS)}")
    if expected_content_hash != draft.content_hash:
        raise Conflict(
            f"draft {draft.id} changed while you were reviewing it (last {last_event(session, draft)}, now revision {draft.revision}); "
            "review the new text before signing"
        )
    if draft.error_count:
        raise NotReady(f"draft {draft.id} has error-level findings and cannot be approved")
    if draft_content_hash(session, draft) != draft.content_hash:
        raise Conflict(f"draft {draft.id}'s content does not match its recorded hash; it cannot be signed")
    policy = brand_policy(session, draft)
    chosen = routing.choose_step(session, draft, actor, step, policy=policy)
    needed = set(warning_ids(draft.findings))
    acked = set(acknowledged or [])
    missing = needed - acked
    if missing:
        raise NotReady(f"acknowledge each warning before approving ({len(missing)} not acknowledged)")
    m = {
        **manifest(session, draft),
        "policy": {
            "brand": policy.slug,
            "approvals_required": policy.approvals_required,
            "brand_yaml_sha256": policy_fingerprint(policy),
            "review": routing.plan_manifest(policy),
            "step": chosen.as_dict(),
        },
    }
    appr = Approval(
        draft_id=pk(draft),
        revision=draft.revision,
        reviewer_id=pk(actor),
        full_name=actor.full_name,
        meaning=meaning,
        step=chosen.name,
        manifest=m,
        manifest_hash=sha256_json(m),
        acknowledged=sorted(needed),
    )
    session.add(appr)
    session.flush()
    audit.append(
        session,
        actor=actor.username,
        action="draft_signed",
        entity="draft",
        entity_id=draft.id,
        after={
            "approval_id": appr.id,
            "full_name": appr.full_name,
            "meaning": meaning,
            "step": chosen.name,
            "manifest_hash": appr.manifest_hash,
            "revision": draft.revision,
            "acknowledged": appr.acknowledged,
        },
    )
    states = routing.step_state(session, draft, policy=policy)
    if all(st.satisfied for st in states):
        transition(session, draft, S.APPROVED, actor, reason=f"every review step signed ({routing.progress(states)})")
    assignments.on_signed(session, draft, actor)  # the signer's assignment is done; a step that opened is assigned
    return appr


def request_changes(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    text = _require_comment(comment, "Requesting changes")
    session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="request_changes", text=text, revision=draft.revision))
    void_approvals(session, actor, draft, "changes requested")
    return transition(session, draft, S.NEEDS_CHANGES, actor, reason=text)


def reject(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    text = _require_comment(comment, "Rejecting")
    session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="reject", text=text, revision=draft.revision))
    void_approvals(session, actor, draft, "rejected")
    return transition(session, draft, S.REJECTED, actor, reason=text)


def withdraw(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    text = _require_comment(comment, "Withdrawing")
    if S.WITHDRAWN not in TRANSITIONS.get(draft.status, frozenset()):
        raise InvalidTransition(f"{last_change(session, draft)}; only approved or published drafts can be withdrawn")
    session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="withdraw", text=text, revision=draft.revision))
    record_draft_withdrawal(session, actor, draft, text)  # published content went out: recall it (review.recalls)
    void_approvals(session, actor, draft, "withdrawn")
    webhooks.draft_withdrawn(session, draft, text)  # a recall of published messages: queued here, sent after commit
    return transition(session, draft, S.WITHDRAWN, actor, reason=text)


# What `perform` runs for each action: the service, the inputs it needs, the inputs it may take.
_PERFORM: dict[str, tuple[Callable[..., Draft | Approval], frozenset[str], frozenset[str]]] = {
    "submit": (submit_for_review, frozenset(), frozenset({"reply"})),
    "approve": (approve, frozenset({"password", "meaning", "expected_content_hash"}), frozenset({"acknowledged", "step"})),
    "request_changes": (request_changes, frozenset({"comment"}), frozenset()),
    "reject": (reject, frozenset({"comment"}), frozenset()),
    "withdraw": (withdraw, frozenset({"comment"}), frozenset()),
    "renew": (renew, frozenset(), frozenset({"comment"})),
    "edit": (edit_draft, frozenset({"slots"}), frozenset({"note", "expected_revision"})),
}
