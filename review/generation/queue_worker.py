"""The worker process of team mode: procrastinate runs the plan and chunk tasks of
review.generation.queue_jobs, and a sweeper hands the chunks of dead workers to live ones.

Dead workers. Every worker writes a heartbeat row every COUNTERSIGN_WORKER_HEARTBEAT_SECONDS
(procrastinate's own worker registry). Every worker also sweeps, every heartbeat interval: a
chunk still marked running by a worker whose heartbeat is older than
COUNTERSIGN_WORKER_STALLED_SECONDS (SIGKILL, out of memory, a machine gone) is put back in the
queue, and the next free worker redoes it; the ledger (one draft per variant) makes the redo
skip what was committed. A chunk that lost its worker or failed COUNTERSIGN_WORKER_MAX_ATTEMPTS
times fails its job instead of looping. The same sweep re-queues the planning of unfinished
jobs that have nothing queued or running (review.generation.queue_jobs.requeue_orphans).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import procrastinate
from procrastinate.jobs import Status
from sqlalchemy.engine import Engine, make_url

from ..config import Settings
from ..errors import CountersignError
from ..filling import SlotFiller
from .queue_jobs import CHUNK_TASK, PLAN_TASK, QUEUE, TASKS, fail_job, plan_job, requeue_orphans, run_chunk, worker_filler

log = logging.getLogger(__name__)


def conninfo(database_url: str) -> str:
    """libpq connection string for a SQLAlchemy PostgreSQL URL (its query, e.g. `options`, kept)."""
    from psycopg.conninfo import make_conninfo

    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise CountersignError(f"the job queue needs a postgresql database URL, not {url.drivername}")
    params: dict[str, Any] = {"host": url.host, "port": url.port, "user": url.username, "password": url.password, "dbname": url.database}
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


class Runtime:
    """What the tasks of one worker process share: the engine, the settings, the filler."""

    def __init__(self, engine: Engine, cfg: Settings) -> None:
        self.engine = engine
        self.cfg = cfg
        self._filler: SlotFiller | None = None

    @property
    def filler(self) -> SlotFiller:
        if self._filler is None:  # the model loads once, at the first chunk (tasks run one at a time)
            self._filler = worker_filler(self.cfg)
        return self._filler


def make_app(runtime: Runtime) -> procrastinate.App:
    cfg = runtime.cfg
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(cfg.database_url), min_size=1, max_size=4))
    # Retries of a failed chunk wait 2, 4, 8, ... s; the last attempt fails the job (below).
    retry: procrastinate.RetryStrategy | bool = (
        procrastinate.RetryStrategy(max_attempts=cfg.worker_max_attempts - 1, exponential_wait=2) if cfg.worker_max_attempts > 1 else False
    )

    @app.task(name=PLAN_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def plan_generation(context: procrastinate.JobContext, job_id: int) -> int:
        return _guarded(runtime, context, job_id, lambda: plan_job(runtime.engine, job_id, cfg.worker_chunk_variants)) or 0

    @app.task(name=CHUNK_TASK, queue=QUEUE, retry=retry, pass_context=True)
    def generate_chunk(context: procrastinate.JobContext, job_id: int, chunk: int, variants: list[int]) -> str:
        attempt = _attempts(context)
        log.info("job %s chunk %s: taken by pid %s (attempt %d, %d variants)", job_id, chunk, os.getpid(), attempt + 1, len(variants))
        result = _guarded(runtime, context, job_id, lambda: run_chunk(runtime.engine, job_id, chunk, variants, runtime.filler, attempt=attempt))
        if result is None:
            return "failed"
        log.info("job %s chunk %s: %s, %d drafted%s", job_id, chunk, result.outcome, result.drafted, f", job {result.finished}" if result.finished else "")
        return str(result.outcome)

    return app


def _attempts(context: procrastinate.JobContext) -> int:
    return context.job.attempts if context.job is not None else 0


def _guarded(runtime: Runtime, context: procrastinate.JobContext, job_id: int, work: Any) -> Any:
    """Run a task's work. A domain error (the campaign's template no longer renders, ...) fails
    the job at once; any other error is retried by procrastinate, and the last try fails the job."""
    try:
        return work()
    except CountersignError as e:
        fail_job(runtime.engine, job_id, f"{type(e).__name__}: {e}")
        log.error("generation job %s failed: %s", job_id, e)
        return None
    except Exception as e:
        if _attempts(context) + 1 >= runtime.cfg.worker_max_attempts:
            fail_job(runtime.engine, job_id, f"{type(e).__name__}: {e} (after {runtime.cfg.worker_max_attempts} tries)")
        raise


async def sweep_once(app: procrastinate.App, runtime: Runtime) -> tuple[int, int]:
    """Put the chunks of dead workers back in the queue (or give up on them); re-queue orphaned
    jobs. Returns (chunks re-queued, jobs re-planned)."""
    cfg = runtime.cfg
    requeued = 0
    for job in await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=cfg.worker_stalled_seconds):
        if job.task_name not in TASKS or job.id is None:
            continue
        raw = job.task_kwargs.get("job_id")
        gen_job = raw if isinstance(raw, int) else 0
        try:
            if job.attempts + 1 >= cfg.worker_max_attempts:
                await app.job_manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
                msg = f"chunk {job.task_kwargs.get('chunk', '-')} lost its worker {job.attempts + 1} times"
                await asyncio.to_thread(fail_job, runtime.engine, gen_job, msg)
                log.error("generation job %s failed: %s", gen_job, msg)
            else:
                await app.job_manager.retry_job(job)
                requeued += 1
                log.warning("generation job %s: queue entry %s lost its worker; queued again", gen_job, job.id)
        except Exception as e:  # another worker's sweep got there first: the entry is no longer running
            log.debug("queue entry %s already handled: %s", job.id, e)
    replanned = await asyncio.to_thread(requeue_orphans, runtime.engine, cfg.worker_stalled_seconds)
    return requeued, len(replanned)


async def _sweep_forever(app: procrastinate.App, runtime: Runtime) -> None:
    while True:
        try:
            await sweep_once(app, runtime)
        except Exception:  # a database blip must not stop the worker; the next sweep tries again
            log.exception("sweep failed")
        await asyncio.sleep(runtime.cfg.worker_heartbeat_seconds)


def run_worker(engine: Engine, cfg: Settings, *, name: str | None = None, wait: bool = True) -> None:
    """Work the generation queue until SIGINT/SIGTERM (which let the chunk in flight finish), or
    with wait=False until the queue is empty."""
    runtime = Runtime(engine, cfg)
    app = make_app(runtime)

    async def main() -> None:
        async with app.open_async():
            sweeper = asyncio.create_task(_sweep_forever(app, runtime))
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    name=name or f"countersign-{os.getpid()}",
                    concurrency=1,  # the model is one per process and busy during a chunk
                    wait=wait,
                    fetch_job_polling_interval=cfg.worker_poll_seconds,
                    abort_job_polling_interval=cfg.worker_poll_seconds,
                    update_heartbeat_interval=cfg.worker_heartbeat_seconds,
                    stalled_worker_timeout=cfg.worker_stalled_seconds,
                    delete_jobs="successful",
                )
            finally:
                sweeper.cancel()

    asyncio.run(main())
