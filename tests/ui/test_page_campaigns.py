"""Campaigns page: variant preview, create, generate with progress, cancel/resume, drafts."""

from __future__ import annotations

import time

from sqlmodel import select
from ui_helpers import errors

from review.demo import DEMO_AUDIENCE, DEMO_CAMPAIGN
from review.generation import start_job
from review.models import Campaign, Draft, GenerationJob, Status

PAGE = "ui/pages/campaigns.py"


def _create(at, name):
    at.text_input(key="camp_name").input(name).run()
    assert not at.exception
    return at


def test_demo_campaign_and_its_drafts(app, world):
    at = app("maria")
    assert at.title[0].value == "Campaigns"
    table = next(df for df in at.dataframe if "Audience group" in df.value.columns and "Errors" in df.value.columns).value
    with world.session() as s:
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        n = len(s.exec(select(Draft).where(Draft.campaign_id == camp.id)).all())
    assert len(table) == n
    first = int(table["Draft"].iloc[0])
    at.selectbox(key="camp_open_id").set_value(first)
    at.button(key="camp_open").click().run()
    assert not at.exception
    assert at.title[0].value == f"Draft #{first}"


def test_create_generate_and_submit(app, world):
    at = app("maria")
    _create(at, "Spring renewals")
    assert any("audience group(s)** to generate and review" in i.value for i in at.info), errors(at)
    at.button(key="camp_create").click().run()
    assert not at.exception
    assert not errors(at)
    with world.session() as s:
        camp = s.exec(select(Campaign).where(Campaign.name == "Spring renewals")).one()
    assert world.events("campaign_created")[-1].entity_id == str(camp.id)
    assert at.selectbox(key="camp_pick").value == camp.id
    at.button(key="gen_start").click().run()
    assert not at.exception
    from ui import jobs

    with world.session() as s:
        job = s.exec(select(GenerationJob).where(GenerationJob.campaign_id == camp.id)).one()
    jobs.wait(world_engine(), job.id, timeout=60)
    deadline = time.monotonic() + 30
    while True:
        with world.session() as s:
            job = s.get(GenerationJob, job.id)
        if job.status not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job.status == "done", job
    at.run()
    assert not at.exception
    assert world.events("generation_finished")
    drafts = [d for d in world.drafts() if d.campaign_id == camp.id]
    assert len(drafts) == job.total
    ready = [d for d in drafts if d.error_count == 0]
    at.button(key="camp_submit_all").click().run()
    assert not at.exception
    assert all(world.draft(d.id).status == Status.IN_REVIEW for d in ready)


def world_engine():
    from ui.common import get_engine

    return get_engine()


def test_duplicate_name_is_refused(app, world):
    at = app("maria")
    _create(at, DEMO_CAMPAIGN)
    at.button(key="camp_create").click().run()
    assert not at.exception
    assert errors(at) == [f"a campaign named '{DEMO_CAMPAIGN}' already exists"]


def test_cancel_an_unfinished_job(app, world):
    """A job left unfinished (say the app restarted) can be resumed or cancelled."""
    from review.campaigns import create_campaign
    from review.models import Audience, TemplateVersion

    with world.session() as s:
        aud = s.exec(select(Audience).where(Audience.name == DEMO_AUDIENCE)).one()
        tv = s.exec(select(TemplateVersion)).first()
        camp = create_campaign(s, world.user("maria"), name="Paused", template_version_id=tv.id, audience_id=aud.id)
        job = start_job(s, world.user("maria"), camp.id)
        s.commit()
        camp_id, job_id = camp.id, job.id
    at = app("maria")
    at.selectbox(key="camp_pick").set_value(camp_id).run()
    assert not at.exception
    assert any("unfinished" in w.value for w in at.warning)
    assert at.button(key="gen_resume")
    at.button(key="gen_cancel").click().run()
    assert not at.exception
    with world.session() as s:
        assert s.get(GenerationJob, job_id).cancel_requested
    assert world.events("generation_cancel_requested")


def test_bulk_submit_skips_drafts_sent_back_and_unchanged(app, world):
    from review.workflow import edit_draft, request_changes

    unchanged, changed = world.drafts(Status.IN_REVIEW)[:2]
    with world.session() as s:
        for d in (unchanged, changed):
            request_changes(s, world.user("rita"), d.id, comment="Less effusive, please.")
        edit_draft(s, world.user("maria"), changed.id, slots={next(iter(changed.slots)): "Thank you for being with us."}, note="as asked")
        s.commit()
    assert world.draft(changed.id).error_count == 0
    at = app("maria")
    button = at.button(key="camp_submit_all")
    assert button.label == "Submit 1 error-free draft(s) for review"
    assert any(f"#{unchanged.id}" in c.value and "not changed since" in c.value for c in at.caption)
    button.click().run()
    assert not at.exception
    assert world.draft(changed.id).status == Status.IN_REVIEW
    assert world.draft(unchanged.id).status == Status.NEEDS_CHANGES
    assert any("Submitted 1 draft(s)" in s.value and f"#{unchanged.id}" in s.value for s in at.success)


def test_the_drafts_table_is_paged_and_counts_cover_every_draft(world):
    """A 10,000-draft campaign must cost one page of rows, not 10,000 (bench/ui.py)."""
    from review.views import campaign_drafts

    all_drafts = world.drafts()
    camp_id = all_drafts[0].campaign_id
    mine = [d for d in all_drafts if d.campaign_id == camp_id]
    with world.session() as s:
        maria = world.user("maria")
        first = campaign_drafts(s, maria, camp_id, page=1, page_size=5)
        second = campaign_drafts(s, maria, camp_id, page=2, page_size=5)
        beyond = campaign_drafts(s, maria, camp_id, page=999, page_size=5)
    assert [r.draft_id for r in first.rows] == [d.id for d in mine[:5]]
    assert [r.draft_id for r in second.rows] == [d.id for d in mine[5:10]]
    assert first.drafted == len(mine) and first.pages == -(-len(mine) // 5)
    assert beyond.page == first.pages  # a page past the end shows the last one
    assert first.ready == sum(1 for d in mine if d.status in ("checked", "needs_changes") and d.error_count == 0)
