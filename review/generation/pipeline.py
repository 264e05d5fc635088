"""The fill pipeline: slot requests -> model candidates -> cleaned, scored, chosen fills.

No job bookkeeping here: the job runner (review.generation.jobs) decides which variants to
fill and stores the drafts; reproduction (review.generation.reproduce) runs the same steps for
one slot. Everything in this module only reads the database, except `cache_fill`.

Reproducibility rests on three pure functions: `slot_prompt` (the one place a slot's prompt is
built from a variant), `derive_seed` and `cache_key`. A resumed job and `regenerate_verify`
reproduce a draft exactly because they go through the same three.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from ..brands import BrandPolicy
from ..campaigns import campaign_template
from ..checks import brand_rules, build_context, check_message, embed_candidates
from ..errors import NotFound
from ..filling import GenerationSettings, Prompt, SlotFiller, build_prompt, choose_best, clean_output
from ..models import Brand, Campaign, FillCache, Recipient, Variant, utcnow
from ..templates import SlotSpec, TemplateSpec, sha256_json
from .modes import choose_fill, fell_back, judge

Fill = tuple[str, dict[str, Any]]  # (slot text, how it was chosen: source, candidates, score, ...)


def derive_seed(template_hash: str, slot: str, inputs: dict[str, str]) -> int:
    """A fixed seed per variant and slot: a rerun samples exactly the same candidates."""
    digest = hashlib.sha256(sha256_json({"t": template_hash, "s": slot, "i": inputs}).encode()).hexdigest()
    return int(digest[:8], 16) & 0x3FFF_FFFF  # fits a 32-bit integer column on every database


def cache_key(
    model_fingerprint: str, template_hash: str, slot: str, inputs: dict[str, str], settings: GenerationSettings, approved: dict[str, Any] | None = None
) -> str:
    """The fill cache's key. `approved` (SlotSpec.approved_texts) names an adapt or choose slot's
    mode and approved texts; a write slot's key is what it always was."""
    data = {"m": model_fingerprint, "t": template_hash, "s": slot, "i": inputs, "g": settings.key()}
    if approved is not None and approved.get("mode", "write") != "write":
        data["a"] = approved
    return sha256_json(data)


@dataclass(frozen=True)
class CampaignContext:
    """What every batch of one campaign needs, loaded once."""

    campaign: Campaign
    spec: TemplateSpec
    template_hash: str
    brand: Brand
    policy: BrandPolicy


def campaign_context(session: Session, campaign_id: int) -> CampaignContext:
    camp = session.get(Campaign, campaign_id)
    if camp is None:
        raise NotFound(f"campaign {campaign_id} not found")
    spec, tv = campaign_template(session, camp)
    brand = session.get(Brand, camp.brand_id)
    assert brand is not None  # a foreign key
    _, policy = brand_rules(brand.slug)
    return CampaignContext(camp, spec, tv.content_hash, brand, policy)


def slot_prompt(ctx: CampaignContext, slot: SlotSpec, variant: Variant) -> tuple[dict[str, str], Prompt | None]:
    """The slot's inputs for this variant and the prompt built from them: the only way any
    prompt is built here (generation, verification, single-slot regeneration).

    Only the fields the slot declares are taken from the variant; build_prompt refuses a slot
    that declares a field the brand now marks sensitive (TemplateError). A `choose` slot never
    reaches the model: its prompt is None.
    """
    inputs = {f: variant.inputs.get(f, "") for f in slot.inputs}
    if slot.mode == "choose":
        return inputs, None
    return inputs, build_prompt(slot, inputs, ctx.policy.voice, sensitive_fields=ctx.policy.sensitive_fields)


@dataclass
class SlotRequest:
    """One slot of one personalized variant, ready for the model."""

    variant: Variant
    slot: SlotSpec
    inputs: dict[str, str]
    prompt: Prompt | None  # None: a choose slot, filled without the model
    seed: int
    key: str  # the fill cache's key
    candidates: list[str] = field(default_factory=list)


def plan_requests(ctx: CampaignContext, variants: list[Variant], filler: SlotFiller, settings: GenerationSettings) -> list[SlotRequest]:
    """A request per slot of every personalized variant (a variant without consent asks nothing)."""
    out = []
    for v in variants:
        if not v.personalized:
            continue
        for slot in ctx.spec.slots.values():
            inputs, prompt = slot_prompt(ctx, slot, v)
            seed = derive_seed(ctx.template_hash, slot.name, inputs)
            key = cache_key(filler.fingerprint, ctx.template_hash, slot.name, inputs, settings, slot.approved_texts())
            out.append(SlotRequest(v, slot, inputs, prompt, seed, key))
    return out


def _sample_recipient(session: Session, variant: Variant) -> Recipient:
    recipient = session.get(Recipient, variant.sample_recipient_id)
    assert recipient is not None  # a foreign key
    return recipient


def baseline(session: Session, ctx: CampaignContext, variant: Variant) -> set[tuple[str, str]]:
    """Message-level findings (rule, match) of the variant's all-fallback message."""
    rules, policy = brand_rules(ctx.brand.slug)
    fallbacks = {k: s.fallback for k, s in ctx.spec.slots.items()}
    message = build_context(ctx.spec, policy, fallbacks, variant, _sample_recipient(session, variant))
    return {(f.rule, f.match) for f in check_message(rules, policy, ctx.spec, message) if f.slot is None}


def select_fill(session: Session, ctx: CampaignContext, variant: Variant, slot: SlotSpec, candidates: list[str], baseline: set[tuple[str, str]]) -> Fill:
    """Best of N: drop what may not compete (review.generation.modes.judge), score the rest with
    the guideline engine, keep the best; fall back (an adapt slot to its approved base) if none
    qualifies. The meta says why: the winner's score parts, each dropped candidate and its rule."""
    recipient = _sample_recipient(session, variant)
    rules, policy = brand_rules(ctx.brand.slug)
    fallbacks = {k: s.fallback for k, s in ctx.spec.slots.items()}
    inputs = {f: variant.inputs.get(f, "") for f in slot.inputs}
    cleaned = [clean_output(c, slot.max_words) for c in candidates]
    embed_candidates(rules, cleaned)  # one batch for the sense detectors, not one pass per check

    def findings_of(text: str) -> list[dict[str, Any]]:
        findings = check_message(rules, policy, ctx.spec, build_context(ctx.spec, policy, {**fallbacks, slot.name: text}, variant, recipient))
        # Judge a candidate by what it causes: its own slot's findings, plus message-level
        # findings the all-fallback message does not have (a budget overrun, say).
        return [f.to_dict() for f in findings if f.slot == slot.name or (f.slot is None and (f.rule, f.match) not in baseline)]

    scores, dropped, parts = judge(slot, cleaned, inputs, findings_of, policy.adapt_min_similarity)
    best = choose_best(cleaned, scores)
    meta: dict[str, Any] = {"candidates": len(candidates), "qualified": sum(s is not None for s in scores), "mode": slot.mode, "dropped": dropped}
    if best is None:
        return fell_back(slot, meta)
    return cleaned[best], {**meta, "source": "model", "chosen": best, "score": scores[best], "score_parts": parts[best]}


@dataclass(frozen=True)
class Fills:
    """The chosen fill per cache key, and which keys came from the cache."""

    chosen: dict[str, Fill]
    cached: frozenset[str]


def fill_requests(session: Session, ctx: CampaignContext, requests: list[SlotRequest], filler: SlotFiller, settings: GenerationSettings) -> Fills:
    """Cached fills where there are some; one model call for every other distinct prompt."""
    keys = {r.key for r in requests}
    cached = {c.key: c for c in session.exec(select(FillCache).where(col(FillCache.key).in_(keys))).all()} if keys else {}
    todo: dict[str, SlotRequest] = {}
    chosen: dict[str, Fill] = {}
    for r in requests:
        if r.prompt is None:  # a choose slot: approved text, picked without the model
            chosen.setdefault(r.key, choose_fill(r.slot, r.inputs))
        elif r.key not in cached and r.key not in todo:
            todo[r.key] = r
    if todo:
        pending = list(todo.values())
        outputs = filler.generate([r.prompt for r in pending if r.prompt is not None], seeds=[r.seed for r in pending], settings=settings)
        for r, cands in zip(pending, outputs, strict=True):
            r.candidates = list(cands)
    baselines: dict[int | None, set[tuple[str, str]]] = {}
    for r in requests:
        if r.key in chosen:
            continue
        if r.key in cached:
            c = cached[r.key]
            chosen[r.key] = (c.text, {**c.meta, "source": c.source, "cache": "hit"})
        else:
            if r.variant.id not in baselines:
                baselines[r.variant.id] = baseline(session, ctx, r.variant)
            chosen[r.key] = select_fill(session, ctx, r.variant, r.slot, todo[r.key].candidates, baselines[r.variant.id])
    return Fills(chosen, frozenset(cached))


@dataclass(frozen=True)
class VariantFill:
    """A variant's slot texts in template order, with how each was made."""

    slots: dict[str, str]
    meta: dict[str, dict[str, Any]]
    prompt_fingerprint: str  # over every prompt sent for this variant; "" when none was

    @property
    def fallback_count(self) -> int:
        return sum(1 for m in self.meta.values() if m.get("source") in ("fallback", "base"))


def variant_fill(ctx: CampaignContext, requests: list[SlotRequest], chosen: dict[str, Fill]) -> VariantFill:
    """Put one variant's chosen fills together; slots it did not ask for (no consent) get the
    human-written fallback, never the model."""
    slots: dict[str, str] = {}
    meta: dict[str, dict[str, Any]] = {}
    fingerprints = []
    for r in requests:
        text, m = chosen[r.key]
        slots[r.slot.name] = text
        if r.prompt is None:  # chosen among approved alternatives: no seed, no prompt
            meta[r.slot.name] = {**m, "inputs": r.inputs}
            continue
        meta[r.slot.name] = {**m, "seed": r.seed, "prompt_fingerprint": r.prompt.fingerprint, "inputs": r.inputs}
        fingerprints.append(r.prompt.fingerprint)
    for name, slot in ctx.spec.slots.items():
        if name not in slots:
            slots[name] = slot.fallback
            meta[name] = {"source": "no_consent"}
    ordered = {k: slots[k] for k in ctx.spec.slots}
    return VariantFill(ordered, meta, sha256_json(sorted(fingerprints)) if fingerprints else "")


def cache_fill(session: Session, key: str, fill: Fill) -> None:
    """Insert a fill into the cache unless another runner already did (same key, same text)."""
    text, meta = fill
    values = {"key": key, "text": text, "source": meta["source"], "meta": {k: v for k, v in meta.items() if k != "source"}, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]  # same API as PostgreSQL's insert, another class
    else:  # pragma: no cover - other databases: a plain merge
        session.merge(FillCache(**values))
        return
    session.execute(insert(FillCache).values(**values).on_conflict_do_nothing(index_elements=["key"]))
