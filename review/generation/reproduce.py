"""Run the fill pipeline again for stored drafts: reproduce one for an examiner, or ask the
model again for one slot.

`regenerate_verify` proves the generation contract: from the recorded model fingerprint, seed,
settings and prompt fingerprint, the same pipeline gives the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from ..auth import require_role
from ..errors import Conflict, InvalidInput, NotFound
from ..filling import GenerationSettings, SlotFiller
from ..models import Draft, DraftRevision, Role, User, Variant
from ..workflow import edit_draft
from .modes import choose_fill
from .pipeline import CampaignContext, baseline, campaign_context, derive_seed, select_fill, slot_prompt


@dataclass(frozen=True)
class VerifyReport:
    draft_id: int
    matches: bool
    slots: dict[str, str]  # slot -> "match" | "differs: ..." | "not generated (...)"

    def __str__(self) -> str:
        head = f"draft {self.draft_id}: {'REPRODUCED' if self.matches else 'DIFFERS'}"
        return "\n".join([head] + [f"  {k}: {v}" for k, v in self.slots.items()])


def _draft_and_context(session: Session, draft_id: int) -> tuple[Draft, CampaignContext, Variant]:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.id is None:
        raise NotFound(f"draft {draft_id} not found")
    ctx = campaign_context(session, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert variant is not None  # a foreign key
    return draft, ctx, variant


def regenerate_verify(session: Session, draft_id: int, filler: SlotFiller) -> VerifyReport:
    """Regenerate a stored draft from its recorded model, seed, settings and prompt; compare."""
    draft, ctx, variant = _draft_and_context(session, draft_id)
    assert draft.id is not None  # checked by _draft_and_context
    first = session.exec(select(DraftRevision).where(DraftRevision.draft_id == draft.id, DraftRevision.revision == 1)).one()
    settings = GenerationSettings.from_dict(draft.settings)
    report: dict[str, str] = {}
    if filler.fingerprint != draft.model_fingerprint:
        return VerifyReport(draft.id, False, {"*": f"model fingerprint {filler.fingerprint[:12]} differs from recorded {draft.model_fingerprint[:12]}"})
    recorded_baseline = baseline(session, ctx, variant)
    for name, slot in ctx.spec.slots.items():
        meta = draft.slot_meta.get(name, {})
        original = first.slots.get(name, "")
        if slot.mode == "choose" and meta.get("source") in ("alternative", "fallback"):
            inputs, _ = slot_prompt(ctx, slot, variant)
            text, _ = choose_fill(slot, inputs)
            report[name] = "match" if text == original else f"differs: chosen today {text!r}, recorded {original!r}"
            continue
        if meta.get("source") not in ("model", "fallback", "base") or "seed" not in meta:
            report[name] = f"not generated ({meta.get('source', 'unknown')})"
            continue
        _, prompt = slot_prompt(ctx, slot, variant)
        if prompt is None or prompt.fingerprint != meta.get("prompt_fingerprint"):
            report[name] = "differs: the prompt built today does not match the recorded prompt fingerprint"
            continue
        cands = filler.generate([prompt], seeds=[int(meta["seed"])], settings=settings)[0]
        text, _ = select_fill(session, ctx, variant, slot, list(cands), recorded_baseline)
        report[name] = "match" if text == original else f"differs: regenerated {text!r}, recorded {original!r}"
    ok = all(v == "match" or v.startswith("not generated") for v in report.values())
    return VerifyReport(draft.id, ok, report)


def regenerate_slot(session: Session, actor: User, draft_id: int, slot_name: str, filler: SlotFiller, *, attempt: int = 1) -> Draft:
    """Ask the model again for one slot (a new seed per attempt) and apply it as an edit."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft, ctx, variant = _draft_and_context(session, draft_id)
    seen_revision = draft.revision
    if not variant.personalized:
        raise InvalidInput("this variant has no personalization consent; its slots stay the human-written fallbacks")
    slot = ctx.spec.slots.get(slot_name)
    if slot is None:
        raise InvalidInput(f"unknown slot '{slot_name}'")
    settings = GenerationSettings.from_dict(draft.settings) if draft.settings else GenerationSettings()
    inputs, prompt = slot_prompt(ctx, slot, variant)
    if prompt is None:
        raise InvalidInput(f"slot '{slot_name}' picks from approved alternatives; there is nothing to regenerate (edit it by hand instead)")
    seed = derive_seed(ctx.template_hash, slot.name, inputs) + attempt
    cands = filler.generate([prompt], seeds=[seed], settings=settings)[0]
    text, _ = select_fill(session, ctx, variant, slot, list(cands), baseline(session, ctx, variant))
    if text == draft.slots.get(slot_name):
        raise Conflict("the model produced the same text again; edit it by hand or try again")
    # The model ran on the revision read above: if someone edited the draft meanwhile, refuse.
    return edit_draft(session, actor, draft_id, slots={slot_name: text}, note=f"regenerated slot {slot_name} (seed {seed})", expected_revision=seen_revision)
