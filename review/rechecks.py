"""Re-checking drafts after the rules changed (a claim retired, a rule file edited).

A signature covers the check report, so a draft whose findings change loses its signatures;
errors never sit in review or stay approved.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .checks import apply_findings, check_slots, embed_slot_texts
from .errors import NotFound
from .locks import lock_rows
from .models import Brand, Campaign, Comment, Draft, Role, Status, User, Variant, pk, utcnow
from .template_versions import get_version, version_spec
from .transitions import EDITABLE, brand_of, transition, void_approvals

S = Status


def recheck(session: Session, draft: Draft) -> list[dict[str, Any]]:
    """Recompute findings for the draft's current slots."""
    camp = session.get(Campaign, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert camp is not None and variant is not None
    spec, _ = version_spec(session, get_version(session, camp.template_version_id))
    findings = check_slots(session, camp, variant, spec, draft.slots)
    apply_findings(draft, findings)
    return findings


def recheck_drafts(session: Session, actor: User, draft_ids: list[int], *, reason: str) -> list[int]:
    """Re-run the guidelines on drafts after the rules changed (a claim retired, a rule file edited).

    A signature covers the check report, so whenever a draft's findings change its signatures
    are voided. A draft in review or approved that now has an error goes back to the author
    (needs changes, with a system comment saying why): errors never sit in review. An approved
    draft without errors goes back to review.
    """
    changed = []
    drafts = [d for d in lock_rows(session, Draft, draft_ids) if d.status in EDITABLE]
    by_brand: dict[str, list[dict[str, str]]] = {}
    for d in drafts:
        by_brand.setdefault(brand_of(session, d).slug, []).append(d.slots)
    for slug, slot_maps in by_brand.items():
        embed_slot_texts(slug, slot_maps)
    for draft in drafts:
        before = draft.findings
        after = recheck(session, draft)
        if after == before:
            continue
        changed.append(pk(draft))
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
        void_approvals(session, actor, draft, f"re-checked: {reason}")
        if draft.error_count and draft.status in (S.IN_REVIEW, S.APPROVED):
            first = next(f for f in after if f.get("level") == "error")
            text = f"Re-checked ({reason}): {draft.error_count} error(s) now, e.g. {first.get('rule')}: {first.get('message')}. Fix them and resubmit."
            session.add(Comment(draft_id=pk(draft), user_id=pk(actor), kind="system", text=text, revision=draft.revision))
            transition(session, draft, S.NEEDS_CHANGES, actor, reason=f"re-checked: {reason}")
        elif draft.status == S.APPROVED:
            transition(session, draft, S.IN_REVIEW, actor, reason=f"re-checked: {reason}")
    return changed


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
