"""Background generation threads, one per job, shared by every browser session of this process.

In team mode (COUNTERSIGN_QUEUE=procrastinate) there are none: the start service queued the job
for `python -m review worker` processes, and this process never loads the model."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from review.generation import run_job
from review.generation.queue_jobs import queue_configured

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
_lock = threading.Lock()
_threads: dict[tuple[str, int], threading.Thread] = {}


def _work(engine: Engine, job_id: int, filler: Any) -> None:
    try:
        run_job(engine, job_id, filler)
    except Exception:  # run_job has marked the job failed and audited it (the page shows that); the traceback goes to the log
        log.exception("generation job %s failed", job_id)


def ensure_running(engine: Engine, job_id: int, filler: Any) -> bool:
    """Start the job's worker thread unless one is alive. Returns True if it started one."""
    key = (str(engine.url), job_id)
    with _lock:
        t = _threads.get(key)
        if t is not None and t.is_alive():
            return False
        t = threading.Thread(target=_work, args=(engine, job_id, filler), name=f"generation-{job_id}", daemon=True)
        _threads[key] = t
        t.start()
        return True


def launch(engine: Engine, job_id: int) -> None:
    """Run a started job: in a thread of this process, or (team mode) leave it to the workers."""
    if queue_configured():
        return
    from review.embedding import get_embedder
    from ui import common

    filler = common.get_filler()
    # The sense detectors' embedding model loads here, in the page's own thread, before the
    # generation thread needs it: loaded first inside that thread while the page kept rerunning
    # (polling progress), generation stalled at 0 drafts in the browser walk.
    get_embedder().encode(["warm-up"])
    ensure_running(engine, job_id, filler)


def is_running(engine: Engine, job_id: int) -> bool:
    """Whether someone works the job: a thread here, or (team mode) the workers, whose sweep
    re-queues an unfinished job that lost its queue entries."""
    if queue_configured():
        return True
    t = _threads.get((str(engine.url), job_id))
    return t is not None and t.is_alive()


def wait(engine: Engine, job_id: int, timeout: float | None = None) -> None:
    t = _threads.get((str(engine.url), job_id))
    if t is not None:
        t.join(timeout)
