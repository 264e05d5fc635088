"""Campaigns page in team mode (COUNTERSIGN_QUEUE=procrastinate on PostgreSQL): starting
generation queues the job for the workers, the page never loads the model, and a queued job
shows as waiting for a worker with a cancel button (no "Resume": the workers own it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select
from ui_helpers import ROOT, errors, seed

from review.db import migrate
from review.generation import Progress
from review.models import Campaign, GenerationJob, JobStatus

PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="needs COUNTERSIGN_TEST_DATABASE_URL (a PostgreSQL database of your own)")]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _isolated_settings: None) -> Iterator[object]:
    """The demo seeded into a PostgreSQL schema of this test's own, the app in team mode."""
    from conftest import UIWorld  # tests/ui/conftest.py

    assert PG_URL
    schema = f"ui_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(ROOT / "templates"))
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    migrate(engine)
    seed(engine)  # the demo's own drafts come from the fake filler, in this process
    monkeypatch.setenv("COUNTERSIGN_QUEUE", "procrastinate")
    monkeypatch.setenv("COUNTERSIGN_FILLER", "model")  # the real model: the page must not load it

    def no_model(*_a: object, **_k: object) -> None:
        raise AssertionError("the app loaded the model in team mode")

    monkeypatch.setattr("review.filling.load_filler", no_model)
    monkeypatch.setattr("review.filling.model.load_filler", no_model)
    try:
        yield UIWorld(engine, url, tmp_path)
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_start_queues_the_job_and_the_page_offers_cancel_not_resume(app, world) -> None:  # type: ignore[no-untyped-def]
    at = app("maria")
    at.text_input(key="camp_name").input("Team spring").run()
    at.button(key="camp_create").click().run()
    assert not at.exception and not errors(at)
    at.button(key="gen_start").click().run()
    assert not at.exception, at.exception
    assert not errors(at)
    with world.session() as s:
        camp = s.exec(select(Campaign).where(Campaign.name == "Team spring")).one()
        job = s.exec(select(GenerationJob).where(GenerationJob.campaign_id == camp.id)).one()
        queued = s.execute(text("SELECT task_name, args->>'job_id' FROM procrastinate_jobs WHERE status = 'todo'")).all()
    assert job.status == JobStatus.QUEUED and job.done == 0
    assert [(t, int(j)) for t, j in queued] == [("countersign.plan_generation", job.id)]
    assert not any("unfinished" in w.value for w in at.warning)
    assert not at.get("button") or all(b.key != "gen_resume" for b in at.button)
    at.button(key="gen_cancel").click().run()
    assert not at.exception
    with world.session() as s:  # no worker had begun it: cancelled at once, not left waiting for one
        job = s.get(GenerationJob, job.id)
        assert job is not None and job.cancel_requested and job.status == JobStatus.CANCELLED
    assert world.events("generation_cancelled")[-1].actor == "maria"


def test_a_queued_job_says_it_waits_for_a_worker() -> None:
    from ui.pages.campaigns import progress_text

    assert "waiting for a free generation worker" in progress_text(Progress(1, JobStatus.QUEUED, 0, 5, None))
    assert "waiting" not in progress_text(Progress(1, JobStatus.RUNNING, 2, 5, 10.0, elapsed_seconds=4.0))
