"""The approval workflow: the one place a draft's status changes.

Each service function first locks the draft (review.locks), then runs its guards (role,
relation to the draft, status) on what it reads *after* the lock, then makes the change and
writes the audit event — all in the caller's transaction, so either everything happens or
nothing does. Of two people acting on one draft at once, the second waits for the first,
then sees its outcome and is refused with a message naming it. No model, rule or task ever
approves on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlmodel import Session, col, select

from . import audit, textsafety
from .auth import check_password, ensure_not_locked, require_role
from .brands import BrandPolicy, policy_fingerprint, policy_for
from .checks import apply_findings, check_slots, warning_ids
from .errors import AuthenticationError, InvalidTransition, NotFound, PermissionDenied, WorkflowError
from .locks import lock_draft, lock_rows
from .models import Approval, AuditEvent, Brand, Campaign, Comment, Draft, DraftRevision, Role, Status, User, Variant, utcnow
from .template_versions import get_version, version_spec
from .templates import sha256_json

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
SIGNATURE_MEANINGS = (
    "Approved for use",
    "Reviewed and approved: medical/legal/regulatory",
    "Approved: compliance review complete",
)


def transition(session: Session, draft: Draft, to: str, actor: User, *, reason: str = "", extra: dict[str, Any] | None = None) -> Draft:
    """Move a draft to `to`. Every status change in the system goes through here."""
    allowed = TRANSITIONS.get(draft.status, frozenset())
    if to not in allowed:
        raise InvalidTransition(f"{last_change(session, draft)}; it cannot become {to} (allowed: {', '.join(sorted(allowed)) or 'none, it is final'})")
    before = draft.status
    draft.status = to
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
    return draft


# ------------------------------------------------------------------------- helpers


def get_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    return draft


def _brand_of(session: Session, draft: Draft) -> Brand:
    camp = session.get(Campaign, draft.campaign_id)
    assert camp is not None
    brand = session.get(Brand, camp.brand_id)
    assert brand is not None
    return brand


def brand_policy(session: Session, draft: Draft) -> BrandPolicy:
    """The brand's policy as brand.yaml says it now: the file is the single source."""
    return policy_for(_brand_of(session, draft))


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
}


def _last_event(session: Session, draft: Draft) -> str | None:
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
    what = _last_event(session, draft)
    return f"draft {draft.id} was {what} and is {draft.status}" if what else f"draft {draft.id} is {draft.status}"


def content_hash(template_hash: str, slots: dict[str, str]) -> str:
    """What a signature covers about the message: the template version and the exact slot texts."""
    return sha256_json({"template": template_hash, "slots": slots})


def draft_content_hash(session: Session, draft: Draft) -> str:
    camp = session.get(Campaign, draft.campaign_id)
    assert camp is not None
    return content_hash(get_version(session, camp.template_version_id).content_hash, draft.slots)


def authors(session: Session, draft: Draft) -> set[int]:
    """Everyone who wrote this draft's content: its author and anyone who edited it."""
    editors = session.exec(select(DraftRevision.edited_by).where(DraftRevision.draft_id == draft.id)).all()
    return {draft.author_id, *editors}


def valid_approvals(session: Session, draft: Draft) -> list[Approval]:
    return list(
        session.exec(
            select(Approval).where(Approval.draft_id == draft.id, Approval.valid == True, Approval.revision == draft.revision).order_by(col(Approval.signed_at))  # noqa: E712
        ).all()
    )


def manifest(session: Session, draft: Draft) -> dict[str, Any]:
    """Exactly what a reviewer signs: enough for an examiner to see and regenerate it."""
    camp = session.get(Campaign, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert camp is not None and variant is not None
    tv = get_version(session, camp.template_version_id)
    return {
        "draft_id": draft.id,
        "revision": draft.revision,
        "campaign_id": camp.id,
        "campaign": camp.name,
        "variant_key": variant.key,
        "variant_inputs": variant.inputs,
        "template_version_id": tv.id,
        "template_hash": tv.content_hash,
        "slots": draft.slots,
        "content_hash": draft.content_hash,
        "check_report": draft.findings,
        "model_fingerprint": draft.model_fingerprint,
        "seed": draft.seed,
        "settings": draft.settings,
        "prompt_fingerprint": draft.prompt_fingerprint,
        "slot_meta": draft.slot_meta,
    }


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    needs_comment: bool = False
    needs_signature: bool = False


def get_actions(session: Session, draft: Draft, user: User) -> list[Action]:
    """What this user may do to this draft now. The UI shows these; the services re-check."""
    acts: list[Action] = []
    if not user.active:
        return acts
    is_author = user.id in authors(session, draft)
    if user.role == Role.MARKETER:
        if draft.status in EDITABLE:
            acts.append(Action("edit", "Edit slot text"))
        if draft.status in (S.CHECKED, S.NEEDS_CHANGES) and draft.error_count == 0:
            acts.append(Action("submit", "Submit for review"))
    if user.role == Role.REVIEWER and draft.status == S.IN_REVIEW and not is_author:
        signed = any(a.reviewer_id == user.id for a in valid_approvals(session, draft))
        if not signed:
            acts.append(Action("approve", "Approve (sign)", needs_signature=True))
        acts.append(Action("request_changes", "Request changes", needs_comment=True))
        acts.append(Action("reject", "Reject", needs_comment=True))
    if user.role in (Role.REVIEWER, Role.ADMIN) and draft.status in (S.APPROVED, S.PUBLISHED):
        acts.append(Action("withdraw", "Withdraw (recall)", needs_comment=True))
    return acts


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
    return None


def submit_for_review(session: Session, actor: User, draft_id: int, *, reply: str = "") -> Draft:
    """Send a draft to the reviewers. A draft sent back for changes goes back only once it was
    changed since, or with a reply to the reviewer saying why it stands as it is."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    reply = (reply or "").strip()
    problem = _submit_problem(session, draft, reply)
    if problem:
        raise (InvalidTransition if draft.status not in (S.CHECKED, S.NEEDS_CHANGES) else WorkflowError)(problem)
    if reply:
        session.add(Comment(draft_id=draft.id, user_id=actor.id, kind="reply", text=reply, revision=draft.revision))  # type: ignore[arg-type]
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
            skipped.append((draft.id, problem))  # type: ignore[arg-type]
            continue
        transition(session, draft, S.IN_REVIEW, actor, reason="submitted for review")
        submitted.append(draft.id)  # type: ignore[arg-type]
    return SubmitReport(submitted, skipped)


def _require_comment(comment: str, what: str) -> str:
    comment = (comment or "").strip()
    if len(comment) < 3:
        raise WorkflowError(f"{what} needs a comment saying why")
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
) -> Approval:
    """Record an electronic signature over the content the reviewer was shown
    (`expected_content_hash`); the draft becomes approved once as many distinct reviewers
    signed as brand.yaml requires now."""
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    ensure_not_locked(session, actor.username, actor.id, _attempt(actor, "sign", draft))
    if not password or not check_password(actor, password):
        raise AuthenticationError("Signature refused: the password does not match.", **_attempt(actor, "sign", draft))
    if meaning not in SIGNATURE_MEANINGS:
        raise WorkflowError(f"choose what the signature means: {'; '.join(SIGNATURE_MEANINGS)}")
    if expected_content_hash != draft.content_hash:
        raise WorkflowError(
            f"draft {draft.id} changed while you were reviewing it (last {_last_event(session, draft)}, now revision {draft.revision}); "
            "review the new text before signing"
        )
    if draft.error_count:
        raise WorkflowError(f"draft {draft.id} has error-level findings and cannot be approved")
    if draft_content_hash(session, draft) != draft.content_hash:
        raise WorkflowError(f"draft {draft.id}'s content does not match its recorded hash; it cannot be signed")
    existing = valid_approvals(session, draft)
    if any(a.reviewer_id == actor.id for a in existing):
        raise PermissionDenied(f"{actor.username} already approved this revision; another reviewer must sign", **_attempt(actor, "sign", draft))
    needed = set(warning_ids(draft.findings))
    acked = set(acknowledged or [])
    missing = needed - acked
    if missing:
        raise WorkflowError(f"acknowledge each warning before approving ({len(missing)} not acknowledged)")
    policy = brand_policy(session, draft)
    m = {
        **manifest(session, draft),
        "policy": {"brand": policy.slug, "approvals_required": policy.approvals_required, "brand_yaml_sha256": policy_fingerprint(policy)},
    }
    appr = Approval(
        draft_id=draft.id,
        revision=draft.revision,
        reviewer_id=actor.id,
        full_name=actor.full_name,
        meaning=meaning,
        manifest=m,
        manifest_hash=sha256_json(m),
        acknowledged=sorted(needed),
    )  # type: ignore[arg-type]
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
            "manifest_hash": appr.manifest_hash,
            "revision": draft.revision,
            "acknowledged": appr.acknowledged,
        },
    )
    signers = len({a.reviewer_id for a in existing} | {actor.id})
    if signers >= policy.approvals_required:
        transition(session, draft, S.APPROVED, actor, reason=f"{signers} of {policy.approvals_required} approvals")
    return appr


def request_changes(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    text = _require_comment(comment, "Requesting changes")
    session.add(Comment(draft_id=draft.id, user_id=actor.id, kind="request_changes", text=text, revision=draft.revision))  # type: ignore[arg-type]
    _void_approvals(session, actor, draft, "changes requested")
    return transition(session, draft, S.NEEDS_CHANGES, actor, reason=text)


def reject(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    draft = lock_draft(session, draft_id)
    _decision_guard(session, actor, draft)
    text = _require_comment(comment, "Rejecting")
    session.add(Comment(draft_id=draft.id, user_id=actor.id, kind="reject", text=text, revision=draft.revision))  # type: ignore[arg-type]
    _void_approvals(session, actor, draft, "rejected")
    return transition(session, draft, S.REJECTED, actor, reason=text)


def withdraw(session: Session, actor: User, draft_id: int, *, comment: str) -> Draft:
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    text = _require_comment(comment, "Withdrawing")
    if S.WITHDRAWN not in TRANSITIONS.get(draft.status, frozenset()):
        raise InvalidTransition(f"{last_change(session, draft)}; only approved or published drafts can be withdrawn")
    session.add(Comment(draft_id=draft.id, user_id=actor.id, kind="withdraw", text=text, revision=draft.revision))  # type: ignore[arg-type]
    _void_approvals(session, actor, draft, "withdrawn")
    return transition(session, draft, S.WITHDRAWN, actor, reason=text)


def _void_approvals(session: Session, actor: User, draft: Draft, reason: str) -> int:
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


def recheck(session: Session, draft: Draft) -> list[dict[str, Any]]:
    """Recompute findings for the draft's current slots."""
    camp = session.get(Campaign, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert camp is not None and variant is not None
    spec, _ = version_spec(session, get_version(session, camp.template_version_id))
    findings = check_slots(session, camp, variant, spec, draft.slots)
    apply_findings(draft, findings)
    return findings


def edit_draft(session: Session, actor: User, draft_id: int, *, slots: dict[str, str], note: str = "", expected_revision: int | None = None) -> Draft:
    """Replace slot texts. Re-checks, and voids any approval: the new text must be reviewed again.

    `expected_revision` is the revision the editor was shown: if someone else changed the draft
    since, the edit is refused instead of silently overwriting their text.
    """
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = lock_draft(session, draft_id)
    if draft.status not in EDITABLE:
        raise InvalidTransition(f"{last_change(session, draft)} and can no longer be edited")
    if expected_revision is not None and expected_revision != draft.revision:
        raise WorkflowError(
            f"{last_change(session, draft)} (now revision {draft.revision}, you edited revision {expected_revision}); reload and edit the new text"
        )
    unknown = set(slots) - set(draft.slots)
    if unknown:
        raise WorkflowError(f"unknown slot '{sorted(unknown)[0]}' (this draft has {', '.join(draft.slots)})")
    textsafety.check_slot_texts(slots)  # on the raw texts: collapsing whitespace would hide some
    new_slots = {**draft.slots, **{k: " ".join(str(v).split()) for k, v in slots.items()}}
    empty = [k for k, v in new_slots.items() if not v]
    if empty:
        raise WorkflowError(f"slot '{empty[0]}' cannot be empty")
    if new_slots == draft.slots:
        raise WorkflowError("nothing changed")
    before = {"revision": draft.revision, "slots": draft.slots, "content_hash": draft.content_hash, "status": draft.status}
    meta = dict(draft.slot_meta)
    for k in slots:
        if new_slots[k] != draft.slots[k]:
            meta[k] = {**meta.get(k, {}), "source": "edited", "edited_by": actor.username}
    draft.slots = new_slots
    draft.slot_meta = meta
    draft.revision += 1
    draft.content_hash = draft_content_hash(session, draft)
    findings = recheck(session, draft)
    session.add(
        DraftRevision(
            draft_id=draft.id,
            revision=draft.revision,
            slots=new_slots,
            findings=findings,
            content_hash=draft.content_hash,
            edited_by=actor.id,
            note=note.strip(),
        )
    )  # type: ignore[arg-type]
    draft.updated_at = utcnow()
    session.add(draft)
    voided = _void_approvals(session, actor, draft, f"edited to revision {draft.revision}")
    audit.append(
        session,
        actor=actor.username,
        action="draft_edited",
        entity="draft",
        entity_id=draft.id,
        before=before,
        after={
            "revision": draft.revision,
            "slots": new_slots,
            "content_hash": draft.content_hash,
            "errors": draft.error_count,
            "warnings": draft.warning_count,
            "approvals_voided": voided,
        },
    )
    if draft.status in (S.APPROVED, S.IN_REVIEW):
        # An edit after approval voids it and sends the draft back to review — unless the
        # new text now has errors, which may never sit in the review queue.
        target = S.CHECKED if draft.error_count else S.IN_REVIEW
        if target != draft.status:
            transition(session, draft, target, actor, reason="edited after review started")
    return draft


def recheck_drafts(session: Session, actor: User, draft_ids: list[int], *, reason: str) -> list[int]:
    """Re-run the guidelines on drafts after the rules changed (a claim retired, a rule file edited).

    A signature covers the check report, so whenever a draft's findings change its signatures
    are voided. A draft in review or approved that now has an error goes back to the author
    (needs changes, with a system comment saying why): errors never sit in review. An approved
    draft without errors goes back to review.
    """
    changed = []
    for draft in lock_rows(session, Draft, draft_ids):
        if draft.status not in EDITABLE:
            continue
        before = draft.findings
        after = recheck(session, draft)
        if after == before:
            continue
        changed.append(draft.id)
        draft.updated_at = utcnow()
        session.add(draft)
        audit.append(
            session,
            actor=actor.username,
            action="draft_rechecked",
            entity="draft",
            entity_id=draft.id,
            before={"errors": sum(f.get("level") == "error" for f in before), "findings": len(before)},
            after={"errors": draft.error_count, "findings": len(after), "reason": reason},
        )
        _void_approvals(session, actor, draft, f"re-checked: {reason}")
        if draft.error_count and draft.status in (S.IN_REVIEW, S.APPROVED):
            first = next(f for f in after if f.get("level") == "error")
            text = f"Re-checked ({reason}): {draft.error_count} error(s) now, e.g. {first.get('rule')}: {first.get('message')}. Fix them and resubmit."
            session.add(Comment(draft_id=draft.id, user_id=actor.id, kind="system", text=text, revision=draft.revision))  # type: ignore[arg-type]
            transition(session, draft, S.NEEDS_CHANGES, actor, reason=f"re-checked: {reason}")
        elif draft.status == S.APPROVED:
            transition(session, draft, S.IN_REVIEW, actor, reason=f"re-checked: {reason}")
    return changed  # type: ignore[return-value]


def recheck_brand(session: Session, actor: User, brand_slug: str, *, reason: str = "guideline files changed") -> list[int]:
    """Re-check every open draft of a brand against its guideline files as they are now."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    brand = session.exec(select(Brand).where(Brand.slug == brand_slug)).first()
    if brand is None:
        raise NotFound(f"brand '{brand_slug}' not found")
    ids = session.exec(
        select(Draft.id)
        .join(Campaign, col(Campaign.id) == col(Draft.campaign_id))
        .where(Campaign.brand_id == brand.id, col(Draft.status).in_(sorted(EDITABLE)))
    ).all()
    return recheck_drafts(session, actor, [i for i in ids if i is not None], reason=reason)
