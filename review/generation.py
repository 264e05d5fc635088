"""Generation jobs: fill every variant's slots with the local model, check, and store drafts.

A job works through a campaign's variants in batches. Each batch is one transaction that
writes its drafts and the job's progress together, so a crash loses at most the batch in
flight and a restart resumes where it stopped: variants that already have a draft are
skipped, and a draft is unique per variant, so nothing is ever duplicated.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .brands import BrandPolicy
from .checks import apply_findings, brand_rules, build_context, check_message, check_slots
from .errors import NotFound, WorkflowError
from .filling import GenerationSettings, Prompt, SlotFiller, build_prompt, choose_best, clean_output, score_candidate
from .locks import lock_campaign, lock_job
from .models import Brand, Campaign, Draft, DraftRevision, FillCache, GenerationJob, Recipient, Role, Status, User, Variant, utcnow
from .templates import SlotSpec, TemplateSpec, sha256_json
from .workflow import content_hash

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Progress:
    job_id: int
    status: str
    done: int
    total: int
    eta_seconds: float | None
    error: str = ""
    elapsed_seconds: float | None = None  # since the job started running

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def derive_seed(template_hash: str, slot: str, inputs: dict[str, str]) -> int:
    """A fixed seed per variant and slot: a rerun samples exactly the same candidates."""
    digest = hashlib.sha256(sha256_json({"t": template_hash, "s": slot, "i": inputs}).encode()).hexdigest()
    return int(digest[:8], 16) & 0x3FFF_FFFF  # fits a 32-bit integer column on every database


def cache_key(model_fingerprint: str, template_hash: str, slot: str, inputs: dict[str, str], settings: GenerationSettings) -> str:
    return sha256_json({"m": model_fingerprint, "t": template_hash, "s": slot, "i": inputs, "g": settings.key()})


@dataclass
class SlotRequest:
    variant: Variant
    slot: SlotSpec
    inputs: dict[str, str]
    prompt: Prompt
    seed: int
    key: str
    candidates: list[str] = field(default_factory=list)


@dataclass
class CampaignContext:
    """What every batch of one campaign needs, loaded once."""

    campaign: Campaign
    spec: TemplateSpec
    template_hash: str
    brand: Brand
    policy: BrandPolicy


def _campaign_context(session: Session, campaign_id: int) -> CampaignContext:
    from .campaigns import campaign_template

    camp = session.get(Campaign, campaign_id)
    if camp is None:
        raise NotFound(f"campaign {campaign_id} not found")
    spec, tv = campaign_template(session, camp)
    brand = session.get(Brand, camp.brand_id)
    assert brand is not None
    _, policy = brand_rules(brand.slug)
    return CampaignContext(camp, spec, tv.content_hash, brand, policy)


def select_fill(
    session: Session, ctx: CampaignContext, variant: Variant, slot: SlotSpec, candidates: list[str], baseline: set[tuple[str, str]]
) -> tuple[str, dict[str, Any]]:
    """Best of N: score each cleaned candidate with the guideline engine; fall back if none qualifies."""
    recipient = session.get(Recipient, variant.sample_recipient_id)
    assert recipient is not None
    rules, policy = brand_rules(ctx.brand.slug)
    fallbacks = {k: s.fallback for k, s in ctx.spec.slots.items()}
    scores: list[float | None] = []
    cleaned = [clean_output(c, slot.max_words) for c in candidates]
    for text in cleaned:
        if not text:
            scores.append(None)
            continue
        findings = check_message(rules, policy, ctx.spec, build_context(ctx.spec, policy, {**fallbacks, slot.name: text}, variant, recipient))
        # Judge a candidate by what it causes: its own slot's findings, plus message-level
        # findings the all-fallback message does not have (a budget overrun, say).
        own = [f.to_dict() for f in findings if f.slot == slot.name or (f.slot is None and (f.rule, f.match) not in baseline)]
        scores.append(score_candidate(text, own, slot))
    best = choose_best(cleaned, scores)
    meta: dict[str, Any] = {"candidates": len(candidates), "qualified": sum(s is not None for s in scores)}
    if best is None:
        return slot.fallback, {**meta, "source": "fallback", "model_failed": True}
    return cleaned[best], {**meta, "source": "model", "chosen": best, "score": scores[best]}


def _baseline(session: Session, ctx: CampaignContext, variant: Variant) -> set[tuple[str, str]]:
    recipient = session.get(Recipient, variant.sample_recipient_id)
    assert recipient is not None
    rules, policy = brand_rules(ctx.brand.slug)
    fallbacks = {k: s.fallback for k, s in ctx.spec.slots.items()}
    return {(f.rule, f.match) for f in check_message(rules, policy, ctx.spec, build_context(ctx.spec, policy, fallbacks, variant, recipient)) if f.slot is None}


def _requests(ctx: CampaignContext, variants: list[Variant], filler: SlotFiller, settings: GenerationSettings) -> list[SlotRequest]:
    out = []
    for v in variants:
        if not v.personalized:
            continue
        for slot in ctx.spec.slots.values():
            inputs = {f: v.inputs.get(f, "") for f in slot.inputs}
            prompt = build_prompt(slot, inputs, ctx.policy.voice, sensitive_fields=ctx.policy.sensitive_fields)
            seed = derive_seed(ctx.template_hash, slot.name, inputs)
            out.append(SlotRequest(v, slot, inputs, prompt, seed, cache_key(filler.fingerprint, ctx.template_hash, slot.name, inputs, settings)))
    return out


def _fill_batch(
    session: Session, ctx: CampaignContext, variants: list[Variant], filler: SlotFiller, settings: GenerationSettings, author_id: int
) -> list[Draft]:
    requests = _requests(ctx, variants, filler, settings)
    keys = {r.key for r in requests}
    cached = {c.key: c for c in session.exec(select(FillCache).where(col(FillCache.key).in_(keys))).all()} if keys else {}
    # One model call for every distinct prompt in the batch that is not cached yet.
    todo: dict[str, SlotRequest] = {}
    for r in requests:
        if r.key not in cached and r.key not in todo:
            todo[r.key] = r
    if todo:
        pending = list(todo.values())
        outputs = filler.generate([r.prompt for r in pending], seeds=[r.seed for r in pending], settings=settings)
        for r, cands in zip(pending, outputs, strict=True):
            r.candidates = list(cands)
    baselines: dict[int, set[tuple[str, str]]] = {}
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for r in requests:
        if r.key in cached:
            c = cached[r.key]
            chosen[r.key] = (c.text, {**c.meta, "source": c.source, "cache": "hit"})
        elif r.key not in chosen:
            vid = r.variant.id
            assert vid is not None
            if vid not in baselines:
                baselines[vid] = _baseline(session, ctx, r.variant)
            text, meta = select_fill(session, ctx, r.variant, r.slot, todo[r.key].candidates, baselines[vid])
            chosen[r.key] = (text, meta)
    # Everything above only read. Now take the campaign's lock, and write only the variants
    # nobody drafted meanwhile: two runners of one job (or a restarted one) never collide.
    lock_campaign(session, ctx.campaign.id)  # type: ignore[arg-type]
    taken = set(session.exec(select(Draft.variant_id).where(Draft.campaign_id == ctx.campaign.id, col(Draft.variant_id).in_([v.id for v in variants]))).all())
    variants = [v for v in variants if v.id not in taken]
    fresh = {r.key: chosen[r.key] for r in requests if r.key not in cached and r.variant.id not in taken}
    for key, (text, meta) in fresh.items():
        _cache_fill(session, key, text, meta)
    by_variant: dict[int, list[SlotRequest]] = {}
    for r in requests:
        by_variant.setdefault(r.variant.id, []).append(r)  # type: ignore[arg-type]
    drafts = []
    for v in variants:
        slots: dict[str, str] = {}
        meta: dict[str, Any] = {}
        fingerprints = []
        for r in by_variant.get(v.id, []):  # type: ignore[arg-type]
            text, m = chosen[r.key]
            slots[r.slot.name] = text
            meta[r.slot.name] = {**m, "seed": r.seed, "prompt_fingerprint": r.prompt.fingerprint, "inputs": r.inputs}
            fingerprints.append(r.prompt.fingerprint)
        for name, slot in ctx.spec.slots.items():
            if name not in slots:  # no consent: the human-written fallback, never the model
                slots[name] = slot.fallback
                meta[name] = {"source": "no_consent"}
        slots = {k: slots[k] for k in ctx.spec.slots}
        draft = Draft(
            campaign_id=ctx.campaign.id,  # type: ignore[arg-type]
            variant_id=v.id,  # type: ignore[arg-type]
            status=Status.CHECKED,
            slots=slots,
            slot_meta=meta,
            fallback_count=sum(1 for m in meta.values() if m.get("source") == "fallback"),
            content_hash=content_hash(ctx.template_hash, slots),
            model_fingerprint=filler.fingerprint,
            seed=derive_seed(ctx.template_hash, "*", v.inputs),
            settings=settings.to_dict(),
            prompt_fingerprint=sha256_json(sorted(fingerprints)) if fingerprints else "",
            author_id=author_id,
        )
        apply_findings(draft, check_slots(session, ctx.campaign, v, ctx.spec, slots))
        session.add(draft)
        session.flush()
        session.add(
            DraftRevision(
                draft_id=draft.id, revision=1, slots=slots, findings=draft.findings, content_hash=draft.content_hash, edited_by=author_id, note="generated"
            )
        )  # type: ignore[arg-type]
        audit.append(
            session,
            actor="generator",
            action="draft_generated",
            entity="draft",
            entity_id=draft.id,
            after={
                "variant": v.key,
                "content_hash": draft.content_hash,
                "errors": draft.error_count,
                "warnings": draft.warning_count,
                "fallbacks": draft.fallback_count,
                "model_fingerprint": filler.fingerprint,
            },
        )
        drafts.append(draft)
    return drafts


def _cache_fill(session: Session, key: str, text: str, meta: dict[str, Any]) -> None:
    """Insert a fill into the cache unless another runner already did (same key, same text)."""
    values = {"key": key, "text": text, "source": meta["source"], "meta": {k: v for k, v in meta.items() if k != "source"}, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:  # pragma: no cover - other databases: a plain merge
        session.merge(FillCache(**values))
        return
    session.execute(insert(FillCache).values(**values).on_conflict_do_nothing(index_elements=["key"]))


# ----------------------------------------------------------------------------- jobs


def start_job(session: Session, actor: User, campaign_id: int, settings: GenerationSettings | None = None) -> GenerationJob:
    """Create a generation job, or return the campaign's unfinished one (so a restart resumes it)."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    lock_campaign(session, campaign_id)  # two starts at once: the second finds the first's job
    existing = session.exec(select(GenerationJob).where(GenerationJob.campaign_id == campaign_id, col(GenerationJob.status).in_(ACTIVE))).first()
    if existing is not None:
        return existing
    total = len(session.exec(select(Variant.id).where(Variant.campaign_id == campaign_id)).all())
    drafted = len(session.exec(select(Draft.id).where(Draft.campaign_id == campaign_id)).all())
    if total and drafted >= total:
        last = session.exec(select(GenerationJob).where(GenerationJob.campaign_id == campaign_id).order_by(col(GenerationJob.id).desc())).first()
        by = f" (job {last.id}, {last.status})" if last is not None else ""
        raise WorkflowError(f"every variant of campaign {campaign_id} already has a draft{by}; nothing to generate")
    settings = settings or GenerationSettings()
    job = GenerationJob(campaign_id=campaign_id, total=total, settings=settings.to_dict(), created_by=actor.id)  # type: ignore[arg-type]
    session.add(job)
    session.flush()
    audit.append(
        session,
        actor=actor.username,
        action="generation_started",
        entity="campaign",
        entity_id=campaign_id,
        after={"job_id": job.id, "variants": total, "settings": settings.to_dict()},
    )
    return job


def cancel_job(session: Session, actor: User, job_id: int) -> GenerationJob:
    require_role(actor, Role.MARKETER, Role.ADMIN)
    job = lock_job(session, job_id)
    if job.status not in ACTIVE:
        raise WorkflowError(f"job {job_id} is {job.status}; only a queued or running job can be cancelled")
    job.cancel_requested = True
    session.add(job)
    audit.append(session, actor=actor.username, action="generation_cancel_requested", entity="campaign", entity_id=job.campaign_id, after={"job_id": job_id})
    return job


def progress(session: Session, job_id: int) -> Progress:
    job = session.get(GenerationJob, job_id)
    if job is None:
        raise NotFound(f"generation job {job_id} not found")
    eta = elapsed = None
    if job.status == "running":
        elapsed = max(0.0, (utcnow() - _aware(job.started_at)).total_seconds())
        if job.done:
            eta = elapsed / job.done * (job.total - job.done)
    return Progress(job.id, job.status, job.done, job.total, eta, job.error, elapsed)  # type: ignore[arg-type]


def _aware(ts: Any) -> Any:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    from datetime import UTC

    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=UTC)


def run_job(
    engine: Engine,
    job_id: int,
    filler: SlotFiller,
    *,
    batch_variants: int = 32,
    first_batch: int = 1,
    on_progress: Callable[[Progress], None] | None = None,
    stop_after_batches: int | None = None,
) -> Progress:
    """Work a job to completion (or cancellation). Safe to call again after a crash.

    Batches start at `first_batch` variants and double up to `batch_variants`: the first draft
    (and with it a rate, hence an ETA) comes after one variant's worth of model time rather than
    a whole campaign's, and a cancel takes effect soon, while long jobs still reach full batches.
    The text does not depend on the batching: a filler gives the same candidates for a (prompt,
    seed, settings) whatever else is in the batch (review.filling.base).

    `stop_after_batches` exists so tests can simulate a crash between batches.
    """
    with Session(engine, expire_on_commit=False) as s:
        job = s.get(GenerationJob, job_id)
        if job is None:
            raise NotFound(f"generation job {job_id} not found")
        if job.status not in ACTIVE:
            return progress(s, job_id)
        job.status = "running"
        s.add(job)
        s.commit()
        settings = GenerationSettings.from_dict(job.settings)
        ctx = _campaign_context(s, job.campaign_id)
        author_id = job.created_by
    started = time.monotonic()
    batches = 0
    first_done: int | None = None
    while True:
        with Session(engine, expire_on_commit=False) as s:
            job = s.get(GenerationJob, job_id)
            assert job is not None
            if job.status not in ACTIVE:  # another runner of this job finished or cancelled it
                break
            if job.cancel_requested:
                _finish(s, job_id, "cancelled", "generation_cancelled")
                break
            done_ids = select(Draft.variant_id).where(Draft.campaign_id == job.campaign_id)
            todo = list(
                s.exec(
                    select(Variant)
                    .where(Variant.campaign_id == job.campaign_id, col(Variant.id).not_in(done_ids))
                    .order_by(col(Variant.id))
                    .limit(min(batch_variants, max(1, first_batch) << min(batches, 20)))
                ).all()
            )
            if first_done is None:
                first_done = len(s.exec(done_ids).all())
            if not todo:
                _finish(s, job_id, "done", "generation_finished")
                break
            try:
                _fill_batch(s, ctx, todo, filler, settings, author_id)
                job = lock_job(s, job_id)
                job.done = len(s.exec(done_ids).all())
                job.updated_at = utcnow()
                s.add(job)
                s.commit()
            except Exception as e:
                s.rollback()
                with Session(engine) as s2:
                    _finish(s2, job_id, "failed", "generation_failed", error=f"{type(e).__name__}: {e}")
                raise
            if on_progress is not None:
                rate = (job.done - first_done) / max(time.monotonic() - started, 1e-6)
                eta = (job.total - job.done) / rate if rate > 0 else None
                on_progress(Progress(job_id, "running", job.done, job.total, eta))
        batches += 1
        if stop_after_batches is not None and batches >= stop_after_batches:
            break
    with Session(engine) as s:
        return progress(s, job_id)


def _finish(session: Session, job_id: int, status: str, action: str, *, error: str = "") -> None:
    """End a job once: of two runners finishing it at the same moment, only one records it."""
    job = lock_job(session, job_id)
    if job.status not in ACTIVE:
        session.rollback()
        return
    job.done = len(session.exec(select(Draft.id).where(Draft.campaign_id == job.campaign_id)).all())
    job.status, job.finished_at = status, utcnow()
    job.error = error or job.error
    session.add(job)
    after: dict[str, Any] = {"job_id": job_id, "drafts": job.done, "total": job.total}
    if error:
        after["error"] = error
    audit.append(session, actor="generator", action=action, entity="campaign", entity_id=job.campaign_id, after=after)
    session.commit()


def generate_campaign(engine: Engine, actor: User, campaign_id: int, filler: SlotFiller, settings: GenerationSettings | None = None, **kw: Any) -> Progress:
    """Start (or resume) and run the campaign's generation job."""
    with Session(engine, expire_on_commit=False) as s:
        job = start_job(s, s.merge(actor), campaign_id, settings)
        s.commit()
        job_id = job.id
    assert job_id is not None
    return run_job(engine, job_id, filler, **kw)


def unfinished_jobs(session: Session) -> list[GenerationJob]:
    return list(session.exec(select(GenerationJob).where(col(GenerationJob.status).in_(ACTIVE))).all())


# --------------------------------------------------------------- reproduce for an examiner


@dataclass(frozen=True)
class VerifyReport:
    draft_id: int
    matches: bool
    slots: dict[str, str]  # slot -> "match" | "differs: ..." | "not generated (...)"

    def __str__(self) -> str:
        head = f"draft {self.draft_id}: {'REPRODUCED' if self.matches else 'DIFFERS'}"
        return "\n".join([head] + [f"  {k}: {v}" for k, v in self.slots.items()])


def regenerate_verify(session: Session, draft_id: int, filler: SlotFiller) -> VerifyReport:
    """Regenerate a stored draft from its recorded model, seed, settings and prompt; compare."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    ctx = _campaign_context(session, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert variant is not None
    first = session.exec(select(DraftRevision).where(DraftRevision.draft_id == draft.id, DraftRevision.revision == 1)).one()
    settings = GenerationSettings.from_dict(draft.settings)
    report: dict[str, str] = {}
    if filler.fingerprint != draft.model_fingerprint:
        return VerifyReport(draft.id, False, {"*": f"model fingerprint {filler.fingerprint[:12]} differs from recorded {draft.model_fingerprint[:12]}"})  # type: ignore[arg-type]
    baseline = _baseline(session, ctx, variant)
    for name, slot in ctx.spec.slots.items():
        meta = draft.slot_meta.get(name, {})
        if meta.get("source") not in ("model", "fallback") or "seed" not in meta:
            report[name] = f"not generated ({meta.get('source', 'unknown')})"
            continue
        inputs = {f: variant.inputs.get(f, "") for f in slot.inputs}
        prompt = build_prompt(slot, inputs, ctx.policy.voice, sensitive_fields=ctx.policy.sensitive_fields)
        if prompt.fingerprint != meta.get("prompt_fingerprint"):
            report[name] = "differs: the prompt built today does not match the recorded prompt fingerprint"
            continue
        cands = filler.generate([prompt], seeds=[int(meta["seed"])], settings=settings)[0]
        text, _ = select_fill(session, ctx, variant, slot, list(cands), baseline)
        original = first.slots.get(name, "")
        report[name] = "match" if text == original else f"differs: regenerated {text!r}, recorded {original!r}"
    ok = all(v == "match" or v.startswith("not generated") for v in report.values())
    return VerifyReport(draft.id, ok, report)  # type: ignore[arg-type]


def regenerate_slot(session: Session, actor: User, draft_id: int, slot_name: str, filler: SlotFiller, *, attempt: int = 1) -> Draft:
    """Ask the model again for one slot (a new seed per attempt) and apply it as an edit."""
    from .workflow import edit_draft

    require_role(actor, Role.MARKETER, Role.ADMIN)
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    seen_revision = draft.revision
    ctx = _campaign_context(session, draft.campaign_id)
    variant = session.get(Variant, draft.variant_id)
    assert variant is not None
    if not variant.personalized:
        raise WorkflowError("this variant has no personalization consent; its slots stay the human-written fallbacks")
    slot = ctx.spec.slots.get(slot_name)
    if slot is None:
        raise WorkflowError(f"unknown slot '{slot_name}'")
    settings = GenerationSettings.from_dict(draft.settings) if draft.settings else GenerationSettings()
    inputs = {f: variant.inputs.get(f, "") for f in slot.inputs}
    prompt = build_prompt(slot, inputs, ctx.policy.voice, sensitive_fields=ctx.policy.sensitive_fields)
    seed = derive_seed(ctx.template_hash, slot.name, inputs) + attempt
    cands = filler.generate([prompt], seeds=[seed], settings=settings)[0]
    text, _ = select_fill(session, ctx, variant, slot, list(cands), _baseline(session, ctx, variant))
    if text == draft.slots.get(slot_name):
        raise WorkflowError("the model produced the same text again; edit it by hand or try again")
    # The model ran on the revision read above: if someone edited the draft meanwhile, refuse.
    return edit_draft(session, actor, draft_id, slots={slot_name: text}, note=f"regenerated slot {slot_name} (seed {seed})", expected_revision=seen_revision)
