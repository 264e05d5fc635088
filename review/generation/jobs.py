"""The job runner: start, cancel, run and finish a campaign's generation job, with progress.

A job works through a campaign's variants in batches. Each batch is one transaction that
writes its drafts and the job's progress together, so a crash loses at most the batch in
flight and a restart resumes where it stopped: variants that already have a draft are
skipped, and a draft is unique per variant (the ledger), so nothing is ever duplicated.
Two runners of one job, or two starts at once, meet at the campaign's row lock
(review.locks); every start, cancel request and ending is in the audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .. import audit
from ..auth import require_role
from ..checks import apply_findings, check_slots
from ..errors import Conflict, NotFound
from ..filling import GenerationSettings, SlotFiller
from ..locks import lock_campaign, lock_job
from ..models import Draft, DraftRevision, GenerationJob, JobStatus, Role, Status, User, Variant, utcnow
from ..workflow import content_hash
from .pipeline import CampaignContext, SlotRequest, VariantFill, cache_fill, campaign_context, derive_seed, fill_requests, plan_requests, variant_fill


@dataclass(frozen=True)
class Progress:
    job_id: int
    status: str  # one of JobStatus.ALL
    done: int
    total: int
    eta_seconds: float | None
    error: str = ""
    elapsed_seconds: float | None = None  # since the job started running

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def start_job(session: Session, actor: User, campaign_id: int, settings: GenerationSettings | None = None) -> GenerationJob:
    """Create a generation job, or return the campaign's unfinished one (so a restart resumes it)."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    lock_campaign(session, campaign_id)  # two starts at once: the second finds the first's job
    existing = session.exec(select(GenerationJob).where(GenerationJob.campaign_id == campaign_id, col(GenerationJob.status).in_(JobStatus.ACTIVE))).first()
    if existing is not None:
        return existing
    total = len(session.exec(select(Variant.id).where(Variant.campaign_id == campaign_id)).all())
    drafted = len(session.exec(select(Draft.id).where(Draft.campaign_id == campaign_id)).all())
    if total and drafted >= total:
        last = session.exec(select(GenerationJob).where(GenerationJob.campaign_id == campaign_id).order_by(col(GenerationJob.id).desc())).first()
        by = f" (job {last.id}, {last.status})" if last is not None else ""
        raise Conflict(f"every variant of campaign {campaign_id} already has a draft{by}; nothing to generate")
    settings = settings or GenerationSettings()
    assert actor.id is not None  # a signed-in user is a stored one
    job = GenerationJob(campaign_id=campaign_id, total=total, settings=settings.to_dict(), created_by=actor.id)
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
    """Ask a queued or running job to stop; its runner stops between batches."""
    require_role(actor, Role.MARKETER, Role.ADMIN)
    job = lock_job(session, job_id)
    if job.status not in JobStatus.ACTIVE:
        raise Conflict(f"job {job_id} is {job.status}; only a queued or running job can be cancelled")
    job.cancel_requested = True
    session.add(job)
    audit.append(session, actor=actor.username, action="generation_cancel_requested", entity="campaign", entity_id=job.campaign_id, after={"job_id": job_id})
    return job


def progress(session: Session, job_id: int) -> Progress:
    job = session.get(GenerationJob, job_id)
    if job is None or job.id is None:
        raise NotFound(f"generation job {job_id} not found")
    eta = elapsed = None
    if job.status == JobStatus.RUNNING:
        elapsed = max(0.0, (utcnow() - _aware(job.started_at)).total_seconds())
        if job.done:
            eta = elapsed / job.done * (job.total - job.done)
    return Progress(job.id, job.status, job.done, job.total, eta, job.error, elapsed)


def _aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


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
        if job.status not in JobStatus.ACTIVE:
            return progress(s, job_id)
        job.status = JobStatus.RUNNING
        s.add(job)
        s.commit()
        settings = GenerationSettings.from_dict(job.settings)
        ctx = campaign_context(s, job.campaign_id)
        author_id = job.created_by
    started = time.monotonic()
    batches = 0
    first_done: int | None = None
    while True:
        with Session(engine, expire_on_commit=False) as s:
            job = s.get(GenerationJob, job_id)
            assert job is not None  # jobs are never deleted
            if job.status not in JobStatus.ACTIVE:  # another runner of this job finished or cancelled it
                break
            if job.cancel_requested:
                _finish(s, job_id, JobStatus.CANCELLED, "generation_cancelled")
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
                _finish(s, job_id, JobStatus.DONE, "generation_finished")
                break
            try:
                _draft_batch(s, ctx, todo, filler, settings, author_id)
                job = lock_job(s, job_id)
                job.done = len(s.exec(done_ids).all())
                job.updated_at = utcnow()
                s.add(job)
                s.commit()
            except Exception as e:
                s.rollback()
                with Session(engine) as s2:
                    _finish(s2, job_id, JobStatus.FAILED, "generation_failed", error=f"{type(e).__name__}: {e}")
                raise
            if on_progress is not None:
                rate = (job.done - first_done) / max(time.monotonic() - started, 1e-6)
                eta = (job.total - job.done) / rate if rate > 0 else None
                on_progress(Progress(job_id, JobStatus.RUNNING, job.done, job.total, eta))
        batches += 1
        if stop_after_batches is not None and batches >= stop_after_batches:
            break
    with Session(engine) as s:
        return progress(s, job_id)


def _draft_batch(session: Session, ctx: CampaignContext, variants: list[Variant], filler: SlotFiller, settings: GenerationSettings, author_id: int) -> None:
    """Fill a batch of variants and store a draft for each one nobody drafted meanwhile."""
    requests = plan_requests(ctx, variants, filler, settings)
    fills = fill_requests(session, ctx, requests, filler, settings)
    # Everything above only read. Now take the campaign's lock, and write only the variants
    # nobody drafted meanwhile: two runners of one job (or a restarted one) never collide.
    assert ctx.campaign.id is not None  # a stored campaign
    lock_campaign(session, ctx.campaign.id)
    taken = set(session.exec(select(Draft.variant_id).where(Draft.campaign_id == ctx.campaign.id, col(Draft.variant_id).in_([v.id for v in variants]))).all())
    # Model fills only: a choose slot's pick is recomputed from approved text, never cached.
    fresh = {r.key: fills.chosen[r.key] for r in requests if r.prompt is not None and r.key not in fills.cached and r.variant.id not in taken}
    for key, fill in fresh.items():
        cache_fill(session, key, fill)
    by_variant: dict[int | None, list[SlotRequest]] = {}
    for r in requests:
        by_variant.setdefault(r.variant.id, []).append(r)
    for v in variants:
        if v.id not in taken:
            _store_draft(session, ctx, v, variant_fill(ctx, by_variant.get(v.id, []), fills.chosen), filler, settings, author_id)


def _store_draft(
    session: Session, ctx: CampaignContext, variant: Variant, fill: VariantFill, filler: SlotFiller, settings: GenerationSettings, author_id: int
) -> Draft:
    """The variant's draft, checked, with its first revision and its audit event."""
    assert ctx.campaign.id is not None and variant.id is not None  # stored rows
    draft = Draft(
        campaign_id=ctx.campaign.id,
        variant_id=variant.id,
        status=Status.CHECKED,
        slots=fill.slots,
        slot_meta=fill.meta,
        fallback_count=fill.fallback_count,
        content_hash=content_hash(ctx.template_hash, fill.slots),
        model_fingerprint=filler.fingerprint,
        seed=derive_seed(ctx.template_hash, "*", variant.inputs),
        settings=settings.to_dict(),
        prompt_fingerprint=fill.prompt_fingerprint,
        author_id=author_id,
    )
    apply_findings(draft, check_slots(session, ctx.campaign, variant, ctx.spec, fill.slots))
    session.add(draft)
    session.flush()
    assert draft.id is not None  # flushed
    revision = DraftRevision(
        draft_id=draft.id, revision=1, slots=fill.slots, findings=draft.findings, content_hash=draft.content_hash, edited_by=author_id, note="generated"
    )
    session.add(revision)
    audit.append(
        session,
        actor="generator",
        action="draft_generated",
        entity="draft",
        entity_id=draft.id,
        after={
            "variant": variant.key,
            "content_hash": draft.content_hash,
            "errors": draft.error_count,
            "warnings": draft.warning_count,
            "fallbacks": draft.fallback_count,
            "model_fingerprint": filler.fingerprint,
        },
    )
    return draft


def _finish(session: Session, job_id: int, status: str, action: str, *, error: str = "") -> None:
    """End a job once: of two runners finishing it at the same moment, only one records it."""
    job = lock_job(session, job_id)
    if job.status not in JobStatus.ACTIVE:
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
    assert job_id is not None  # committed
    return run_job(engine, job_id, filler, **kw)
