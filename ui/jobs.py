"""Background generation threads, one per job, shared by every browser session of this process."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.engine import Engine

from review.generation import run_job

_lock = threading.Lock()
_threads: dict[tuple[str, int], threading.Thread] = {}
_errors: dict[tuple[str, int], str] = {}


def _work(engine: Engine, job_id: int, filler: Any, key: tuple[str, int]) -> None:
    try:
        run_job(engine, job_id, filler)
    except Exception as e:  # run_job has already marked the job failed and audited it
        _errors[key] = f"{type(e).__name__}: {e}"


def ensure_running(engine: Engine, job_id: int, filler: Any) -> bool:
    """Start the job's worker thread unless one is alive. Returns True if it started one."""
    key = (str(engine.url), job_id)
    with _lock:
        t = _threads.get(key)
        if t is not None and t.is_alive():
            return False
        t = threading.Thread(target=_work, args=(engine, job_id, filler, key), name=f"generation-{job_id}", daemon=True)
        _threads[key] = t
        t.start()
        return True


def is_running(engine: Engine, job_id: int) -> bool:
    t = _threads.get((str(engine.url), job_id))
    return t is not None and t.is_alive()


def wait(engine: Engine, job_id: int, timeout: float | None = None) -> None:
    t = _threads.get((str(engine.url), job_id))
    if t is not None:
        t.join(timeout)
