"""Team mode: generation jobs on a PostgreSQL job queue (procrastinate), worked by any number of
`python -m review worker` processes.

The database stays the single source of truth:

- A `GenerationJob` row holds status, progress, cancel requests and the audit story, exactly as
  in-process (review.generation.jobs), so every app replica shows the same progress and ETA.
- Starting a job writes its row, its audit event and its first queue entry (a *plan* task) in
  ONE transaction, through procrastinate's own SQL function: a job is never queued without its
  row, nor committed without its queue entry.
- The plan task splits the variants that still lack a draft into chunks, one *chunk* task each.
- A chunk drafts its variants in one transaction. The draft per variant is unique and is the
  ledger: a chunk run again (its worker was SIGKILLed, the machine vanished, an error was
  retried) skips every variant that already has a draft, so each variant is drafted once.
- The last chunk to finish marks the job done; a cancel request is honoured between chunks.

Nothing here imports procrastinate: review.generation.queue_worker runs the tasks; this module
holds what they do, so it is tested without a worker too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from .. import audit
from ..config import Settings, settings
from ..errors import ConfigError
from ..filling import GenerationSettings, SlotFiller
from ..locks import lock_job
from ..models import Draft, GenerationJob, JobStatus, User, Variant, utcnow
from .jobs import _draft_batch, _finish, cancel_job, start_job
from .pipeline import campaign_context

log = logging.getLogger(__name__)

QUEUE = "countersign-generation"
PLAN_TASK = "countersign.plan_generation"
CHUNK_TASK = "countersign.generate_chunk"
TASKS = (PLAN_TASK, CHUNK_TASK)

# procrastinate_defer_jobs_v1 is the versioned SQL function procrastinate's own `defer` calls;
# calling it on our session's connection puts the queue entries in our transaction.
_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY("
    "  SELECT ROW(CAST(:queue AS varchar), CAST(:task AS varchar), 0, CAST(NULL AS text), CAST(:qlock AS text), a.value, CAST(NULL AS timestamptz))"
    "         ::procrastinate_job_to_defer_v1"
    "    FROM jsonb_array_elements(CAST(:args AS jsonb)) WITH ORDINALITY AS a(value, n) ORDER BY a.n)))"
)
_PENDING = text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = ANY(:tasks) AND status IN ('todo', 'doing') AND args->>'job_id' = :job_id")


def queue_configured(cfg: Settings | None = None) -> bool:
    """True in team mode (COUNTERSIGN_QUEUE=procrastinate); a setting that cannot work is refused."""
    cfg = cfg or settings()
    if cfg.queue == "inprocess":
        return False
    if cfg.queue != "procrastinate":
        raise ConfigError(f"COUNTERSIGN_QUEUE must be 'inprocess' or 'procrastinate', not {cfg.queue!r}")
    return True


def team_mode(session: Session) -> bool:
    """Whether generation in this session's database goes through the queue."""
    if not queue_configured():
        return False
    if session.get_bind().dialect.name != "postgresql":
        raise ConfigError(
            "COUNTERSIGN_QUEUE=procrastinate needs PostgreSQL (the queue lives in the database): set COUNTERSIGN_DATABASE_URL to a postgresql URL"
        )
    return True


def chunked(ids: Sequence[int], size: int) -> list[list[int]]:
    """Consecutive chunks of at most `size` ids, in order."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def defer(session: Session, task: str, args: list[dict[str, Any]], *, queueing_lock: str | None = None) -> list[int]:
    """Queue one `task` entry per args dict, in the session's transaction; returns their ids.

    With a queueing lock, a second entry while one with the same lock is still waiting is not
    queued (the waiting one will do): returns [] then.
    """
    if not args:
        return []
    params = {"queue": QUEUE, "task": task, "qlock": queueing_lock, "args": json.dumps(args)}
    if queueing_lock is None:
        return [int(r[0]) for r in session.execute(_DEFER, params).all()]
    try:
        with session.begin_nested():
            return [int(r[0]) for r in session.execute(_DEFER, params).all()]
    except IntegrityError:  # procrastinate's unique index on waiting entries' queueing lock
        return []


def pending_tasks(session: Session, job_id: int, tasks: Sequence[str] = TASKS) -> int:
    """Queue entries of this job (plan or chunk by default) that are waiting or running."""
    return int(session.execute(_PENDING, {"tasks": list(tasks), "job_id": str(job_id)}).scalar_one())


def queue_plan(session: Session, job_id: int) -> bool:
    """Queue the job's planning unless it already has work queued or running."""
    if pending_tasks(session, job_id):
        return False
    return bool(defer(session, PLAN_TASK, [{"job_id": job_id}], queueing_lock=f"countersign-plan-{job_id}"))


def start_generation(session: Session, actor: User, campaign_id: int, gen_settings: GenerationSettings | None = None) -> GenerationJob:
    """Start (or resume) a campaign's generation job; in team mode, queue it for the workers in
    the same transaction. The caller runs it in-process when `team_mode` is false."""
    job = start_job(session, actor, campaign_id, gen_settings)
    if team_mode(session):
        assert job.id is not None  # start_job flushed it
        queue_plan(session, job.id)
    return job


def cancel_generation(session: Session, actor: User, job_id: int) -> GenerationJob:
    """Cancel a job. A running one stops at its next chunk (review.generation.jobs.cancel_job);
    in team mode a job no worker has begun ends at once, so a cancel never waits for a worker."""
    job = cancel_job(session, actor, job_id)
    if job.status == JobStatus.QUEUED and team_mode(session):
        job.status, job.finished_at = JobStatus.CANCELLED, utcnow()  # still under cancel_job's lock
        session.add(job)
        after = {"job_id": job_id, "drafts": job.done, "total": job.total}
        audit.append(session, actor=actor.username, action="generation_cancelled", entity="campaign", entity_id=job.campaign_id, after=after)
    return job


def _undrafted(session: Session, campaign_id: int, among: Sequence[int] | None = None) -> list[int]:
    drafted = select(Draft.variant_id).where(Draft.campaign_id == campaign_id)
    q = select(Variant.id).where(Variant.campaign_id == campaign_id, col(Variant.id).not_in(drafted))
    if among is not None:
        q = q.where(col(Variant.id).in_(list(among)))
    return [i for i in session.exec(q.order_by(col(Variant.id))).all() if i is not None]


def _drafts(session: Session, campaign_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(Draft).where(Draft.campaign_id == campaign_id)).one())


def plan_job(engine: Engine, job_id: int, chunk_variants: int) -> int:
    """Queue one chunk task per `chunk_variants` undrafted variants; returns how many."""
    with Session(engine, expire_on_commit=False) as s:
        job = lock_job(s, job_id)  # two plans of one job (a re-queue racing a start) queue once
        if job.status not in JobStatus.ACTIVE:
            return 0
        if job.cancel_requested:
            _finish(s, job_id, JobStatus.CANCELLED, "generation_cancelled")
            return 0
        if pending_tasks(s, job_id, [CHUNK_TASK]):
            return 0  # its chunks are already queued
        todo = _undrafted(s, job.campaign_id)
        if not todo:
            _finish(s, job_id, JobStatus.DONE, "generation_finished")
            return 0
        chunks = chunked(todo, chunk_variants)
        defer(s, CHUNK_TASK, [{"job_id": job_id, "chunk": k, "variants": ids} for k, ids in enumerate(chunks)])
        s.commit()
        log.info("generation job %s: %d variants to draft, queued as %d chunks of up to %d", job_id, len(todo), len(chunks), chunk_variants)
        return len(chunks)


@dataclass(frozen=True)
class ChunkResult:
    job_id: int
    chunk: int
    outcome: str  # drafted | skipped (job no longer active) | cancelled
    drafted: int = 0  # drafts this run wrote (0 when every variant had one already, e.g. a redo after the commit)
    finished: str = ""  # the job status this chunk ended the job with, if it did


def run_chunk(engine: Engine, job_id: int, chunk: int, variant_ids: Sequence[int], filler: SlotFiller, *, attempt: int = 0) -> ChunkResult:
    """Draft the chunk's variants that have no draft yet, in one transaction, then update the
    job's progress and end it if this was the last work. Safe to run any number of times."""
    with Session(engine, expire_on_commit=False) as s:
        job = lock_job(s, job_id)
        if job.status not in JobStatus.ACTIVE:
            return ChunkResult(job_id, chunk, "skipped")
        if job.cancel_requested:
            _finish(s, job_id, JobStatus.CANCELLED, "generation_cancelled")
            return ChunkResult(job_id, chunk, "cancelled", finished=JobStatus.CANCELLED)
        if job.status == JobStatus.QUEUED:
            job.status, job.started_at = JobStatus.RUNNING, utcnow()  # the ETA counts from the first chunk, not the queue wait
        if attempt:
            job.chunks_redone += 1
        s.add(job)
        s.commit()
        gen_settings = GenerationSettings.from_dict(job.settings)
        campaign_id, author_id = job.campaign_id, job.created_by
        ctx = campaign_context(s, campaign_id)
        todo_ids = _undrafted(s, campaign_id, variant_ids)
        todo = list(s.exec(select(Variant).where(col(Variant.id).in_(todo_ids)).order_by(col(Variant.id))).all()) if todo_ids else []
        drafted = 0
        if todo:
            _draft_batch(s, ctx, todo, filler, gen_settings, author_id)  # writes only variants nobody drafted meanwhile
            drafted = len(todo_ids) - len(_undrafted(s, campaign_id, todo_ids))  # under the campaign's lock: ours
        job = lock_job(s, job_id)
        job.done = _drafts(s, campaign_id)
        job.updated_at = utcnow()
        s.add(job)
        s.commit()
        finished = ""
        if not _undrafted(s, campaign_id):
            _finish(s, job_id, JobStatus.DONE, "generation_finished")
            finished = JobStatus.DONE
        elif job.cancel_requested:
            _finish(s, job_id, JobStatus.CANCELLED, "generation_cancelled")
            finished = JobStatus.CANCELLED
        return ChunkResult(job_id, chunk, "drafted", drafted, finished)


def fail_job(engine: Engine, job_id: int, error: str) -> None:
    """Mark a job failed (audited once, whoever calls it first); its remaining chunks then skip."""
    with Session(engine) as s:
        _finish(s, job_id, JobStatus.FAILED, "generation_failed", error=error)


def requeue_orphans(engine: Engine, idle_seconds: float) -> list[int]:
    """Re-queue the planning of unfinished jobs that have nothing queued or running and made no
    progress for `idle_seconds` (their start committed but its queue entry was lost, a chunk
    was given up on, ...). Returns the ids re-queued."""
    quiet_since = utcnow() - timedelta(seconds=idle_seconds)
    requeued: list[int] = []
    with Session(engine) as s:
        jobs = s.exec(select(GenerationJob.id).where(col(GenerationJob.status).in_(JobStatus.ACTIVE), col(GenerationJob.updated_at) < quiet_since)).all()
        for job_id in jobs:
            assert job_id is not None  # stored rows
            if queue_plan(s, job_id):
                requeued.append(job_id)
        s.commit()
    for job_id in requeued:
        log.warning("generation job %s had no queued work for %.0f s: planning queued again", job_id, idle_seconds)
    return requeued


def worker_filler(cfg: Settings) -> SlotFiller:
    """The filler a worker uses: the model (loaded once per process) or, for tests and
    benchmarks, the fake filler paced at COUNTERSIGN_FAKE_FILLER_SECONDS per prompt."""
    if cfg.filler == "fake":
        from ..filling import FakeFiller
        from ..filling.paced import PacedFiller

        return PacedFiller(FakeFiller(), cfg.fake_filler_seconds) if cfg.fake_filler_seconds else FakeFiller()
    from ..filling import load_filler

    return load_filler(cfg.model_path)
