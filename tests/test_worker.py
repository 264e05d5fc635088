"""Team mode: generation on the procrastinate queue, worked by `python -m review worker` processes.

The unit tests (chunking, the ledger skip, cancel between chunks, the filler pacing, m014) run on
SQLite and, with COUNTERSIGN_TEST_DATABASE_URL, on PostgreSQL. The queue tests need PostgreSQL:
they start real worker processes with a paced fake filler, SIGKILL one while its chunk is in
flight, cancel from this process, and check the database afterwards: each variant drafted
exactly once, progress consistent with the drafts, one audit event per draft, a chain that
verifies.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from review import audit, db
from review.config import settings
from review.errors import ConfigError
from review.filling import FakeFiller, GenerationSettings, build_prompt
from review.filling.paced import PacedFiller
from review.generation import cancel_job, progress, start_job
from review.generation.queue_jobs import (
    CHUNK_TASK,
    PLAN_TASK,
    cancel_generation,
    chunked,
    pending_tasks,
    plan_job,
    queue_configured,
    requeue_orphans,
    run_chunk,
    start_generation,
    team_mode,
)
from review.models import AuditEvent, Draft, GenerationJob, JobStatus, Variant
from review.templates import SlotSpec

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="needs COUNTERSIGN_TEST_DATABASE_URL (a PostgreSQL database of your own)")
CITIES = [f"{a}{b}" for a in ("Ash", "Bar", "Cal", "Dun", "Elm", "Fen") for b in ("ford", "ton", "bury", "wick")]  # 24 audience groups


def _audience_csv(cities: list[str]) -> bytes:
    rows = ["id,first_name,city,age_band,personalization_consent"] + [f"R{i},Sam,{c},35-54,yes" for i, c in enumerate(cities, 1)]
    return ("\n".join(rows) + "\n").encode()


def _campaign(session: Session, n_groups: int) -> tuple[Any, int]:
    """Users, the acme template, an audience of `n_groups` cities and its campaign."""
    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.campaigns import create_campaign
    from review.models import Role
    from review.template_versions import save_template

    sync_brands(session)
    admin = create_user(session, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password="admin-pass-1")
    maria = create_user(session, admin, username="maria", full_name="Maria Marketer", role=Role.MARKETER, password="maria-pass-1")
    tv = save_template(session, maria, brand_slug="acme-pharma", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
    aud = import_audience(session, maria, name="Worker audience", brand_slug="acme-pharma", data=_audience_csv(CITIES[:n_groups]))
    camp = create_campaign(session, maria, name="Worker campaign", template_version_id=tv.id, audience_id=aud.id)  # type: ignore[arg-type]
    session.commit()
    assert camp.id is not None
    return maria, camp.id


def _variant_ids(session: Session, campaign_id: int) -> list[int]:
    return [i for i in session.exec(select(Variant.id).where(Variant.campaign_id == campaign_id).order_by(col(Variant.id))).all() if i is not None]


def _draft_events(session: Session) -> list[str]:
    return list(session.exec(select(AuditEvent.entity_id).where(AuditEvent.action == "draft_generated")).all())


def _assert_ledger(session: Session, campaign_id: int) -> None:
    """One draft per variant at most, and one draft_generated event per draft."""
    per_variant = session.exec(select(Draft.variant_id, func.count()).where(Draft.campaign_id == campaign_id).group_by(col(Draft.variant_id))).all()
    assert all(n == 1 for _, n in per_variant), per_variant
    drafts = sorted(str(i) for i in session.exec(select(Draft.id).where(Draft.campaign_id == campaign_id)).all())
    assert sorted(_draft_events(session)) == drafts


# ----------------------------------------------------------------------------- unit tests


def test_chunks_cover_every_id_once_in_order() -> None:
    ids = list(range(10, 33))
    chunks = chunked(ids, 5)
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    assert [i for c in chunks for i in c] == ids
    assert chunked(ids, 100) == [ids]
    assert chunked([], 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunked(ids, 0)


def test_queue_setting_is_checked(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().queue == "inprocess" and not queue_configured()
    monkeypatch.setenv("COUNTERSIGN_QUEUE", "celery")
    with pytest.raises(ConfigError, match="COUNTERSIGN_QUEUE"):
        queue_configured()
    monkeypatch.setenv("COUNTERSIGN_QUEUE", "procrastinate")
    assert queue_configured()
    with Session(engine) as s:
        if engine.dialect.name == "sqlite":
            with pytest.raises(ConfigError, match="needs PostgreSQL"):
                team_mode(s)
        else:
            assert team_mode(s)
    monkeypatch.setenv("COUNTERSIGN_WORKER_STALLED_SECONDS", "soon")
    with pytest.raises(ConfigError, match="COUNTERSIGN_WORKER_STALLED_SECONDS"):
        settings()


def test_paced_filler_writes_what_the_fake_writes() -> None:
    slot = SlotSpec("greeting", "Greet the reader.", ("city",), 15, ("Hello from York.", "Hi there, Bath."), "Hello.")
    prompt = build_prompt(slot, {"city": "Leeds"})
    gs = GenerationSettings()
    paced = PacedFiller(FakeFiller(), 0.001)
    assert paced.generate([prompt], seeds=[7], settings=gs) == FakeFiller().generate([prompt], seeds=[7], settings=gs)
    assert (paced.model_name, paced.fingerprint) == (FakeFiller.model_name, FakeFiller.fingerprint)
    with pytest.raises(ValueError):
        PacedFiller(FakeFiller(), -1)


def test_a_redone_chunk_skips_what_is_drafted_and_the_last_chunk_ends_the_job(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, 5)
        job = start_job(s, maria, camp)
        s.commit()
        ids = _variant_ids(s, camp)
    assert job.id is not None and len(ids) == 5
    first, second = chunked(ids, 3)

    r1 = run_chunk(engine, job.id, 0, first, FakeFiller())
    assert (r1.outcome, r1.drafted, r1.finished) == ("drafted", 3, "")
    # The same chunk again (its worker died after the commit, before the queue heard): nothing new.
    r1b = run_chunk(engine, job.id, 0, first, FakeFiller(), attempt=1)
    assert (r1b.outcome, r1b.drafted) == ("drafted", 0)
    with Session(engine) as s:
        p = progress(s, job.id)
        assert (p.status, p.done, p.total) == (JobStatus.RUNNING, 3, 5)
        assert s.get(GenerationJob, job.id).chunks_redone == 1  # type: ignore[union-attr]
        _assert_ledger(s, camp)
    # A chunk overlapping drafted variants drafts only the rest, and being last, ends the job.
    r2 = run_chunk(engine, job.id, 1, [first[0], *second], FakeFiller())
    assert (r2.drafted, r2.finished) == (2, JobStatus.DONE)
    assert run_chunk(engine, job.id, 1, second, FakeFiller()).outcome == "skipped"
    with Session(engine) as s:
        p = progress(s, job.id)
        assert (p.status, p.done, p.total) == (JobStatus.DONE, 5, 5)
        _assert_ledger(s, camp)
        assert len(s.exec(select(AuditEvent).where(AuditEvent.action == "generation_finished")).all()) == 1
        assert audit.verify_chain(s).ok


def test_a_cancel_request_stops_the_job_at_the_next_chunk(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, 4)
        job = start_job(s, maria, camp)
        s.commit()
        first, second = chunked(_variant_ids(s, camp), 2)
    assert job.id is not None
    assert run_chunk(engine, job.id, 0, first, FakeFiller()).drafted == 2
    with Session(engine) as s:
        cancel_job(s, s.merge(maria), job.id)
        s.commit()
    r = run_chunk(engine, job.id, 1, second, FakeFiller())
    assert (r.outcome, r.drafted, r.finished) == ("cancelled", 0, JobStatus.CANCELLED)
    with Session(engine) as s:
        p = progress(s, job.id)
        assert (p.status, p.done) == (JobStatus.CANCELLED, 2)
        assert len(s.exec(select(Draft)).all()) == 2


def _fresh_engine(kind: str) -> Iterator[Engine]:
    if kind == "sqlite":
        eng = db.make_engine("sqlite://")
        yield eng
        eng.dispose()
        return
    assert PG_URL
    schema = f"wk_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield eng
    eng.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.parametrize("kind", ["sqlite"] + (["postgresql"] if PG_URL else []))
def test_m014_upgrades_a_database_built_without_it(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for eng in _fresh_engine(kind):
        monkeypatch.setattr(db, "MIGRATIONS", [m for m in db.MIGRATIONS if m[0] != "m014_generation_queue"])
        db.migrate(eng)
        with Session(eng, expire_on_commit=False) as s:
            maria, camp = _campaign(s, 2)
            job = start_job(s, maria, camp)
            s.commit()
        with eng.begin() as c:
            c.execute(text("ALTER TABLE generationjob DROP COLUMN chunks_redone"))
        assert "chunks_redone" not in {c["name"] for c in inspect(eng).get_columns("generationjob")}
        if kind == "postgresql":
            assert not inspect(eng).has_table("procrastinate_jobs")
        monkeypatch.undo()
        assert db.migrate(eng) == ["m014_generation_queue"]
        assert db.migrate(eng) == []
        assert "chunks_redone" in {c["name"] for c in inspect(eng).get_columns("generationjob")}
        assert inspect(eng).has_table("procrastinate_jobs") == (kind == "postgresql")
        with Session(eng) as s:
            kept = s.get(GenerationJob, job.id)
            assert kept is not None and (kept.campaign_id, kept.status, kept.chunks_redone) == (camp, JobStatus.QUEUED, 0)


# ----------------------------------------------------------------------------- the queue (PostgreSQL)


@dataclass
class Team:
    engine: Engine
    url: str  # the workers' COUNTERSIGN_DATABASE_URL (this test's schema on the search path)
    tmp: Path


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    assert PG_URL
    schema = f"wk_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    db.migrate(engine)
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("COUNTERSIGN_QUEUE", "procrastinate")
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    try:
        yield Team(engine, url, tmp_path)
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _queue(engine: Engine) -> list[tuple[str, str, dict[str, Any], int]]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT task_name, status, args, attempts FROM procrastinate_jobs ORDER BY id")).all()
    return [(r[0], str(r[1]), dict(r[2]), int(r[3])) for r in rows]


@pytest.mark.postgres
@needs_pg
def test_start_queues_the_plan_in_the_same_transaction(team: Team) -> None:
    with Session(team.engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, 7)
        start_generation(s, maria, camp)
        s.rollback()  # the start did not happen: neither did its queue entry
    assert _queue(team.engine) == []
    with db.session_scope(team.engine) as s:
        job = start_generation(s, s.merge(maria), camp)
    assert _queue(team.engine) == [(PLAN_TASK, "todo", {"job_id": job.id}, 0)]
    with db.session_scope(team.engine) as s:  # starting again resumes the same job, queued once
        assert start_generation(s, s.merge(maria), camp).id == job.id
    assert len(_queue(team.engine)) == 1
    assert job.id is not None

    assert plan_job(team.engine, job.id, chunk_variants=3) == 3
    chunks = [args for task, _, args, _ in _queue(team.engine) if task == CHUNK_TASK]
    with Session(team.engine) as s:
        assert sorted(i for a in chunks for i in a["variants"]) == _variant_ids(s, camp)
        assert pending_tasks(s, job.id) == 4
    assert plan_job(team.engine, job.id, chunk_variants=3) == 0  # its chunks are queued already


@pytest.mark.postgres
@needs_pg
def test_cancel_ends_a_job_no_worker_began_and_asks_a_running_one_to_stop(team: Team) -> None:
    with Session(team.engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, 4)
        other = _campaign_again(s, maria, 4)
    with db.session_scope(team.engine) as s:
        queued = start_generation(s, s.merge(maria), camp)
        running = start_generation(s, s.merge(maria), other)
    assert queued.id is not None and running.id is not None
    with Session(team.engine) as s:
        first = chunked(_variant_ids(s, other), 2)[0]
    assert run_chunk(team.engine, running.id, 0, first, FakeFiller()).drafted == 2
    with db.session_scope(team.engine) as s:
        assert cancel_generation(s, s.merge(maria), queued.id).status == JobStatus.CANCELLED
        assert cancel_generation(s, s.merge(maria), running.id).status == JobStatus.RUNNING
    with Session(team.engine) as s:
        assert (progress(s, queued.id).status, progress(s, running.id).status) == (JobStatus.CANCELLED, JobStatus.RUNNING)
        assert s.get(GenerationJob, running.id).cancel_requested  # type: ignore[union-attr]
        cancelled = s.exec(select(AuditEvent).where(AuditEvent.action == "generation_cancelled")).all()
        assert [(e.actor, e.entity_id) for e in cancelled] == [("maria", str(camp))]
        assert audit.verify_chain(s).ok
    assert plan_job(team.engine, queued.id, 2) == 0  # its queued plan finds it over
    with Session(team.engine) as s:
        second = chunked(_variant_ids(s, other), 2)[1]
    assert run_chunk(team.engine, running.id, 1, second, FakeFiller()).finished == JobStatus.CANCELLED


def _campaign_again(session: Session, maria: Any, n_groups: int) -> int:
    """A second campaign on the same brand and template, with other audience groups."""
    from review.audiences import import_audience
    from review.campaigns import create_campaign
    from review.models import TemplateVersion

    tv = session.exec(select(TemplateVersion)).first()
    assert tv is not None
    aud = import_audience(session, maria, name="Second audience", brand_slug="acme-pharma", data=_audience_csv(CITIES[-n_groups:]))
    camp = create_campaign(session, maria, name="Second campaign", template_version_id=tv.id, audience_id=aud.id)  # type: ignore[arg-type]
    session.commit()
    assert camp.id is not None
    return camp.id


@pytest.mark.postgres
@needs_pg
def test_a_job_left_without_queue_entries_is_planned_again(team: Team) -> None:
    with Session(team.engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, 3)
        job = start_job(s, maria, camp)  # as if the app died between its commit and the queue: nothing queued
        s.commit()
    assert job.id is not None
    assert requeue_orphans(team.engine, idle_seconds=3600) == []  # not quiet for long enough yet
    assert requeue_orphans(team.engine, idle_seconds=0) == [job.id]
    assert requeue_orphans(team.engine, idle_seconds=0) == []  # its plan is queued now
    assert [t for t, *_ in _queue(team.engine)] == [PLAN_TASK]


class Workers:
    """`python -m review worker` processes on the team's database, each logging to a file."""

    def __init__(self, team: Team, **env: str) -> None:
        self.team = team
        self.env = {
            **os.environ,
            "COUNTERSIGN_FILLER": "fake",
            "COUNTERSIGN_WORKER_HEARTBEAT_SECONDS": "0.5",
            "COUNTERSIGN_WORKER_STALLED_SECONDS": "3",
            "COUNTERSIGN_WORKER_POLL_SECONDS": "0.5",
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self) -> int:
        i = len(self.procs)
        log = self.team.tmp / f"worker-{i}.log"
        with log.open("wb") as out:
            self.procs.append(
                subprocess.Popen([sys.executable, "-m", "review", "worker", "--name", f"w{i}"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            )
        self.logs.append(log)
        return i

    def log(self, i: int) -> str:
        return self.logs[i].read_text(errors="replace")

    def all_logs(self) -> str:
        return "\n".join(f"--- worker {i}\n{self.log(i)}" for i in range(len(self.procs)))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _wait_for(what: str, check: Callable[[], Any], workers: Workers, timeout: float = 180.0) -> Any:
    """Poll until `check()` is truthy; a worker that exits, or the timeout, fails with the logs."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        dead = [i for i, p in enumerate(workers.procs) if p.poll() is not None and p.returncode != -signal.SIGKILL]
        assert not dead, f"worker(s) {dead} exited while waiting for {what}:\n{workers.all_logs()}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}:\n{workers.all_logs()}"
        time.sleep(0.05)


TAKEN = re.compile(r"job (\d+) chunk (\d+): taken by pid (\d+) \(attempt (\d+)")


@pytest.mark.postgres
@needs_pg
def test_a_worker_killed_mid_chunk_is_replaced_and_every_variant_is_drafted_once(team: Team) -> None:
    n = 12
    with Session(team.engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, n)
    # About one new prompt per audience group (cities differ): a chunk of 3 takes ~3 s of "model".
    workers = Workers(team, COUNTERSIGN_WORKER_CHUNK="3", COUNTERSIGN_FAKE_FILLER_SECONDS="1.0")
    try:
        a, b = workers.start(), workers.start()
        with db.session_scope(team.engine) as s:
            job_id = start_generation(s, s.merge(maria), camp).id
        assert job_id is not None
        # Kill whichever worker takes a chunk first, while that chunk is in flight.
        victim, chunk = _wait_for(
            "a worker to take a chunk", lambda: next(((i, m.group(2)) for i in (a, b) for m in TAKEN.finditer(workers.log(i))), None), workers
        )
        workers.procs[victim].send_signal(signal.SIGKILL)
        workers.procs[victim].wait()
        replacement = workers.start()

        def finished() -> bool:
            with Session(team.engine) as s:
                return progress(s, job_id).status not in JobStatus.ACTIVE

        _wait_for("the job to end", finished, workers)
        survivors = [i for i in (a, b, replacement) if i != victim]
        redone = [m for i in survivors for m in TAKEN.finditer(workers.log(i)) if m.group(2) == chunk and int(m.group(4)) > 1]
        assert redone, f"chunk {chunk} of the killed worker was not redone:\n{workers.all_logs()}"
        assert re.search(rf"job {job_id} chunk {chunk}: drafted, [1-9]\d* drafted", "\n".join(workers.log(i) for i in survivors)), (
            f"the redo of chunk {chunk} drafted nothing: the kill was not mid-chunk\n{workers.all_logs()}"
        )
    finally:
        workers.stop()
    with Session(team.engine) as s:
        p = progress(s, job_id)
        drafts = s.exec(select(Draft).where(Draft.campaign_id == camp)).all()
        assert (p.status, p.done, p.total, len(drafts)) == (JobStatus.DONE, n, n, n)
        assert sorted(d.variant_id for d in drafts) == _variant_ids(s, camp)
        _assert_ledger(s, camp)
        job = s.get(GenerationJob, job_id)
        assert job is not None and job.chunks_redone >= 1
        assert [e.action for e in s.exec(select(AuditEvent).where(col(AuditEvent.action).like("generation_%"))).all()] == [
            "generation_started",
            "generation_finished",
        ]
        report = audit.verify_chain(s)
        assert report.ok, str(report)
    assert [t for t, status, *_ in _queue(team.engine) if status != "succeeded"] == []  # nothing left waiting or failed


@pytest.mark.postgres
@needs_pg
def test_a_cancel_from_another_process_stops_the_workers(team: Team) -> None:
    n = 12
    with Session(team.engine, expire_on_commit=False) as s:
        maria, camp = _campaign(s, n)
    workers = Workers(team, COUNTERSIGN_WORKER_CHUNK="2", COUNTERSIGN_FAKE_FILLER_SECONDS="0.5")
    try:
        workers.start()
        with db.session_scope(team.engine) as s:
            job_id = start_generation(s, s.merge(maria), camp).id
        assert job_id is not None

        def some_done() -> bool:
            with Session(team.engine) as s:
                return progress(s, job_id).done > 0

        _wait_for("the first drafts", some_done, workers)
        with db.session_scope(team.engine) as s:  # this test process is "another app replica"
            cancel_job(s, s.merge(maria), job_id)

        def ended() -> bool:
            with Session(team.engine) as s:
                return progress(s, job_id).status not in JobStatus.ACTIVE

        _wait_for("the job to stop", ended, workers)
        at_stop = _drafts(team.engine, camp)
        _wait_for("the rest of its chunks to be skipped", lambda: not _pending(team.engine, job_id), workers)
        assert _drafts(team.engine, camp) == at_stop  # the chunks left in the queue drafted nothing
    finally:
        workers.stop()
    with Session(team.engine) as s:
        p = progress(s, job_id)
        drafts = len(s.exec(select(Draft).where(Draft.campaign_id == camp)).all())
        assert p.status == JobStatus.CANCELLED
        assert 0 < drafts < n and p.done == drafts  # stopped part-way; progress says what was drafted
        _assert_ledger(s, camp)
        assert audit.verify_chain(s).ok


def _pending(engine: Engine, job_id: int) -> int:
    with Session(engine) as s:
        return pending_tasks(s, job_id)


def _drafts(engine: Engine, campaign_id: int) -> int:
    with Session(engine) as s:
        return len(s.exec(select(Draft.id).where(Draft.campaign_id == campaign_id)).all())
