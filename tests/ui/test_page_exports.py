"""Exports page: readiness reasons, publish, downloads, approval evidence."""

from __future__ import annotations

from sqlmodel import select

from review.checks import warning_ids
from review.demo import DEMO_CAMPAIGN
from review.models import Campaign, Draft, Export, Status
from review.workflow import SIGNATURE_MEANINGS, approve, submit_for_review

PAGE = "ui/pages/exports.py"


def _approve_everything(world):
    rita, maria = world.user("rita"), world.user("maria")
    with world.session() as s:
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        for d in s.exec(select(Draft).where(Draft.campaign_id == camp.id)).all():
            if d.status == Status.CHECKED:
                # The demo's rules may block a draft; clear it so the whole campaign can ship.
                d.findings, d.error_count, d.warning_count = [], 0, 0
                s.add(d)
                s.flush()
                submit_for_review(s, maria, d.id)
            approve(
                s,
                rita,
                d.id,
                password="rita-demo-pass",
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(d.findings),
                expected_content_hash=d.content_hash,
            )
        s.commit()
        return camp.id


def test_not_ready_lists_reasons(app, world):
    at = app("rita", page=PAGE)
    assert any("Not ready to publish" in w.value for w in at.warning)
    reasons = next(df for df in at.dataframe if "Reason" in df.value.columns).value
    assert any("not approved" in r for r in reasons["Reason"])
    assert at.button(key="exp_publish").disabled


def test_publish_download_and_evidence(app, world):
    camp_id = _approve_everything(world)
    at = app("maria", page=PAGE)
    assert any("ready to publish" in s.value for s in at.success)
    at.button(key="exp_publish").click().run()
    assert not at.exception
    # Published, and shown as such: no readiness warning listing its drafts as "not approved".
    assert any("Published 200 rows" in s.value for s in at.success)
    assert any(s.value.startswith("Published ") and "200 rows" in s.value and "export #" in s.value for s in at.success)
    assert not at.warning and not [df for df in at.dataframe if "Reason" in df.value.columns]
    assert not [b for b in at.button if b.key == "exp_publish"]
    at.run()  # and on any later visit
    assert any("export #" in s.value for s in at.success) and not at.warning
    with world.session() as s:
        exp = s.exec(select(Export).where(Export.campaign_id == camp_id)).one()
    assert exp.row_count == 200
    assert all(d.status == Status.PUBLISHED for d in world.drafts() if d.campaign_id == camp_id)
    assert world.events("campaign_published")
    keys = {b.key for b in at.get("download_button")}
    assert {f"exp_dl_{exp.id}_jsonl", f"exp_dl_{exp.id}_csv"} <= keys
    evidence = next(df for df in at.dataframe if "Signature fingerprint (manifest hash)" in df.value.columns).value
    assert set(evidence["Reviewer"]) == {"Rita Reviewer"}
    assert not any("." in str(t) for t in evidence["Signed"])  # minutes, no microseconds
