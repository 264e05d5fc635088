"""`python -m review worker` (team mode's generation worker) and the `generate` command's team
mode: queue the job and follow its progress instead of loading the model here."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import click
from sqlmodel import Session

from .errors import CountersignError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from .models import User


@click.command("worker")
@click.option("--name", default=None, help="This worker's name in logs (default: countersign-<pid>).")
@click.option("--until-empty", is_flag=True, help="Exit once the queue is empty instead of waiting for more work.")
@click.option("-v", "--verbose", is_flag=True, help="Log every queue event (debug level).")
def worker_command(name: str | None, until_empty: bool, verbose: bool) -> None:
    """Run generation jobs from the PostgreSQL queue (team mode; start as many as you like, on
    any machines). SIGTERM or Ctrl-C lets the chunk in flight finish, then exits."""
    from .config import settings
    from .db import make_engine, migrate
    from .generation.queue_jobs import queue_configured
    from .generation.queue_worker import run_worker

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    cfg = settings()
    try:
        if not queue_configured(cfg) or not cfg.database_url.startswith("postgresql"):
            raise CountersignError(
                "the worker runs team mode only: set COUNTERSIGN_QUEUE=procrastinate and COUNTERSIGN_DATABASE_URL to a postgresql URL "
                "(the same on the app and every worker)"
            )
        engine = make_engine(cfg.database_url)
        migrate(engine)
    except CountersignError as e:
        raise click.ClickException(str(e)) from None
    run_worker(engine, cfg, name=name, wait=not until_empty)


def generate_in_team_mode(engine: Engine, user: User, campaign_id: int) -> bool:
    """In team mode, queue the campaign's generation and follow it until it ends (Ctrl-C stops
    following, not the job); returns False when generation runs in this process instead."""
    from .db import session_scope
    from .generation import progress
    from .generation.queue_jobs import start_generation, team_mode
    from .models import JobStatus

    with session_scope(engine) as s:
        if not team_mode(s):
            return False
        job = start_generation(s, s.merge(user), campaign_id)
        job_id = job.id
    assert job_id is not None  # committed
    click.echo(f"generation job {job_id} is queued for the workers (python -m review worker); following it, Ctrl-C stops following", err=True)
    seen = None
    while True:
        with Session(engine) as s:
            p = progress(s, job_id)
        if (p.status, p.done) != seen:
            seen = (p.status, p.done)
            eta = f", ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
            click.echo(f"\r{p.status}: {p.done}/{p.total} variants{eta}   ", nl=False, err=True)
        if p.status not in JobStatus.ACTIVE:
            break
        time.sleep(1.0)
    click.echo("", err=True)
    click.echo(f"generation {p.status}: {p.done}/{p.total} variants" + (f" ({p.error})" if p.error else ""))
    return True
