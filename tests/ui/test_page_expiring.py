"""Expiring page (review.expiry) and the Exports page's recalls (review.recalls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from review.checks import warning_ids
from review.demo import DEMO_CAMPAIGN
from review.errors import PermissionDenied
from review.expiry import expiring
from review.export import publish
from review.models import Approval, Campaign, Draft, Recall, Role, Status
from review.workflow import SIGNATURE_MEANINGS, approve, submit_for_review
from ui.common import page_files_for

PAGE = "ui/pages/expiring.py"
EXPORTS = "ui/pages/exports.py"


def _approve(world, d: Draft) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s:
        approve(
            s,
            world.user("rita"),
            d.id,
            password="rita-demo-pass",
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )
        s.commit()


def _age(world, draft_id: int, days: int) -> None:
    """Pretend the draft was approved `days` ago (the demo brand's approvals last 365 days)."""
    with world.session() as s:
        d = s.get(Draft, draft_id)
        d.approved_at = datetime.now(UTC) - timedelta(days=days)
        s.add(d)
        s.commit()


def test_only_reviewers_and_admins_see_the_page() -> None:
    assert PAGE in page_files_for(Role.REVIEWER) and PAGE in page_files_for(Role.ADMIN)
    assert PAGE not in page_files_for(Role.MARKETER)


def test_expired_and_expiring_approvals_are_listed_and_renewed_from_the_page(app, world) -> None:  # type: ignore[no-untyped-def]
    old, soon, fresh = [d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count][:3]
    for d in (old, soon, fresh):
        _approve(world, d)
    _age(world, old.id, 400)  # expired 35 days ago
    _age(world, soon.id, 350)  # expires in 15 days
    at = app("rita", page=PAGE)
    assert at.title[0].value == "Expiring"
    table = next(df for df in at.dataframe if "Draft" in df.value.columns and "Expires" in df.value.columns).value
    rows = {int(r["Draft"]): r for _, r in table.iterrows()}
    assert set(rows) == {old.id, soon.id}  # the fresh approval is not listed
    assert rows[old.id]["When"] == "expired 35 days ago" and rows[soon.id]["When"] == "in 14 days"
    assert any("approvals last 365 days" in c.value for c in at.caption)

    at.selectbox(key="expiring_draft").set_value(old.id).run()
    at.button(key="expiring_renew").click().run()
    assert not at.exception
    assert any(f"Draft #{old.id} was re-checked" in s.value for s in at.success)
    renewed = world.draft(old.id)
    assert renewed.status in (Status.IN_REVIEW, Status.CHECKED) and renewed.approved_at is None
    assert [e.entity_id for e in world.events("draft_renewed")] == [str(old.id)]
    with world.session() as s:
        assert {a.void_reason for a in s.exec(select(Approval).where(Approval.draft_id == old.id)).all()} == {"approval expired"}
    table = next(df for df in at.dataframe if "Draft" in df.value.columns and "Expires" in df.value.columns).value
    assert old.id not in set(table["Draft"])


def test_a_marketer_is_refused_the_list(world) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s, pytest.raises(PermissionDenied):
        expiring(s, world.user("maria"))


def test_withdrawing_a_published_campaign_from_the_exports_page_lists_its_recall(app, world) -> None:  # type: ignore[no-untyped-def]
    rita = world.user("rita")
    with world.session() as s:
        camp = s.exec(select(Campaign).where(Campaign.name == DEMO_CAMPAIGN)).one()
        for d in s.exec(select(Draft).where(Draft.campaign_id == camp.id)).all():
            if d.status == Status.CHECKED:  # the demo's rules may block a draft; clear it so the campaign ships
                d.findings, d.error_count, d.warning_count = [], 0, 0
                s.add(d)
                s.flush()
                submit_for_review(s, world.user("maria"), d.id)
            approve(
                s,
                rita,
                d.id,
                password="rita-demo-pass",
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(d.findings),
                expected_content_hash=d.content_hash,
            )
        exp = publish(s, rita, camp.id)
        s.commit()
        camp_id = camp.id
    at = app("rita", page=EXPORTS)
    assert any("Nothing of this campaign was recalled" in c.value for c in at.caption)
    at.text_area(key="withdraw_campaign_comment").input("The regulator asked us to stop this mailing.")
    at.button(key="withdraw_campaign_btn").click().run()
    assert not at.exception
    with world.session() as s:
        (rec,) = s.exec(select(Recall).where(Recall.campaign_id == camp_id)).all()
    assert rec.export_ids == [exp.id] and rec.recipient_count == exp.row_count
    assert any(f"recall #{rec.id} lists {rec.recipient_count} recipient(s)" in s.value for s in at.success)
    assert any(f"**Recall #{rec.id}**" in m.value for m in at.markdown)
    keys = {b.key for b in at.get("download_button")}
    assert {f"recall_dl_{rec.id}_json", f"recall_dl_{rec.id}_csv"} <= keys
    assert all(d.status == Status.WITHDRAWN for d in world.drafts() if d.campaign_id == camp_id)


def test_the_draft_page_says_how_long_its_approval_holds(app, world) -> None:  # type: ignore[no-untyped-def]
    valid, lapsed = [d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count][:2]
    for d in (valid, lapsed):
        _approve(world, d)
    _age(world, lapsed.id, 400)
    at = app("rita", page="ui/pages/draft.py", query={"draft": str(valid.id)})
    assert not at.exception
    assert any("Approval valid until" in c.value and "approvals last 365 days" in c.value for c in at.caption)
    assert not [e for e in at.error if "expired" in e.value]
    at = app("rita", page="ui/pages/draft.py", query={"draft": str(lapsed.id)})
    (error,) = [e.value for e in at.error if "approval expired on" in e.value]
    assert "cannot be exported until re-approved" in error
