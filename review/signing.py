"""What a signature covers and whose signatures count.

A reviewer signs a manifest: the exact slot texts (bound to the template version by their
content hash), the full check report, the model, seed and prompt. Everyone who wrote or edited
a draft is one of its authors and may not sign it; only signatures on the current revision
that no later change voided count. The workflow signs (review.workflow.approve); export checks
the same facts again at the door (review.export).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from .models import Approval, Campaign, Draft, DraftRevision, Variant
from .template_versions import get_version
from .templates import sha256_json

SIGNATURE_MEANINGS = (
    "Approved for use",
    "Reviewed and approved: medical/legal/regulatory",
    "Approved: compliance review complete",
)


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
