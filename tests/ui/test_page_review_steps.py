"""Routed review steps on the pages: the draft page shows the plan with who signed what and
offers a step picker when the reviewer may sign several; the Users page shows and edits review
roles. The demo's Harbor Mutual is given a parallel compliance + legal plan here (a copy of the
guidelines), so its seeded drafts in review are routed."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
from sqlmodel import select
from ui_helpers import PASSWORDS, ROOT, errors, texts

from review.models import Approval, Draft, Status
from review.routing import review_roles, set_review_roles

DRAFT_PAGE = "ui/pages/draft.py"
USERS_PAGE = "ui/pages/users.py"
PARALLEL = "review:\n  order: parallel\n  steps:\n    - {name: compliance, role: compliance}\n    - {name: legal, role: legal}\n"


@pytest.fixture
def routed(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    guidelines = tmp_path / "guidelines"
    shutil.copytree(ROOT / "brand_guidelines", guidelines)
    path = guidelines / "harbor-mutual" / "brand.yaml"
    source = path.read_text()
    assert "approvals_required: 1\n" in source
    path.write_text(source.replace("approvals_required: 1\n", PARALLEL))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(guidelines))
    return world


def shown(at) -> str:  # type: ignore[no-untyped-def]
    """Every visible text, with the HTML entities that escape user-written names decoded."""
    return html.unescape(texts(at))


def _in_review(world) -> Draft:
    drafts = world.drafts(Status.IN_REVIEW)
    assert drafts, "the demo seeds drafts in review"
    return drafts[0]


def _open(app, username: str, draft_id: int):  # type: ignore[no-untyped-def]
    at = app(username, page=DRAFT_PAGE, query={"draft": str(draft_id)})
    assert at.title[0].value == f"Draft #{draft_id}"
    return at


def _sign_form(at, d: Draft, username: str) -> None:  # type: ignore[no-untyped-def]
    for i in range(d.warning_count):
        at.checkbox(key=f"ack_{i}").check()
    at.text_input(key="approve_password").input(PASSWORDS[username])
    at.button(key="approve_btn").click().run()
    assert not at.exception, at.exception


def test_the_draft_page_shows_the_plan_and_signs_the_one_step_the_reviewer_holds(app, routed) -> None:  # type: ignore[no-untyped-def]
    d = _in_review(routed)
    at = _open(app, "rita", d.id)  # the demo gives rita medical and compliance
    seen = shown(at)
    assert "Review steps** (in any order): compliance + legal" in seen
    assert "**compliance** (role *compliance*, 0/1) · open now · no signature yet · may sign: rita" in seen
    assert "**legal** (role *legal*, 0/1) · open now · no signature yet · may sign: rob" in seen
    assert "You sign the **compliance** step." in seen
    assert not [r for r in at.radio if r.key == "approve_step"]  # one step: nothing to choose
    _sign_form(at, d, "rita")
    assert not errors(at)
    with routed.session() as s:
        [a] = s.exec(select(Approval).where(Approval.draft_id == d.id)).all()
    assert (a.step, a.full_name) == ("compliance", "Rita Reviewer")
    assert routed.draft(d.id).status == Status.IN_REVIEW
    at = _open(app, "rob", d.id)
    assert "**compliance** (role *compliance*, 1/1) · signed · Rita Reviewer (rita)" in shown(at)
    _sign_form(at, d, "rob")
    assert routed.draft(d.id).status == Status.APPROVED


def test_a_reviewer_holding_both_roles_picks_the_step(app, routed) -> None:  # type: ignore[no-untyped-def]
    d = _in_review(routed)
    with routed.session() as s:
        set_review_roles(s, routed.user("admin"), routed.user("vera").id, ["compliance", "legal"])
        s.commit()
    at = _open(app, "vera", d.id)
    assert at.radio(key="approve_step").options == ["compliance", "legal"]
    _sign_form(at, d, "vera")  # no step chosen yet: refused, nothing signed
    assert any("choose the step you sign" in e for e in errors(at))
    assert not routed.events("draft_signed")
    at.radio(key="approve_step").set_value("legal")
    _sign_form(at, d, "vera")
    assert not errors(at)
    with routed.session() as s:
        assert [a.step for a in s.exec(select(Approval).where(Approval.draft_id == d.id)).all()] == ["legal"]
    at = _open(app, "rob", d.id)  # rob holds only legal, which vera signed
    assert not [b for b in at.button if b.key == "approve_btn"]
    assert "**legal** (role *legal*, 1/1) · signed · Vera Reviewer (vera)" in shown(at)


def test_the_users_page_shows_and_edits_review_roles(app, world) -> None:  # type: ignore[no-untyped-def]
    at = app("admin", page=USERS_PAGE)
    table = next(df for df in at.dataframe if "Username" in df.value.columns).value
    roles = dict(zip(table["Username"], table["Review roles"], strict=True))
    assert (roles["rita"], roles["rob"], roles["vera"], roles["maria"]) == ("compliance, medical", "legal", "regulatory", "")
    assert "Roles the brands ask for now: compliance, legal, medical, regulatory." in shown(at)
    rob = world.user("rob")
    at.selectbox(key="roles_user").set_value(rob.id).run()
    at.multiselect(key=f"roles_pick_{rob.id}").set_value(["legal", "compliance"])
    at.button(key="roles_save").click().run()
    assert not at.exception, at.exception
    assert not errors(at)
    assert any("rob now holds: compliance, legal." in m.value for m in at.success)
    with world.session() as s:
        assert review_roles(s, rob.id) == ("compliance", "legal")
    [event] = world.events("review_roles_changed")[-1:]
    assert (event.actor, event.entity_id, event.after["added"]) == ("admin", str(rob.id), ["compliance"])


def test_only_admins_reach_review_roles(app, world) -> None:  # type: ignore[no-untyped-def]
    """The Users page is not in a reviewer's navigation (the service refuses them too: tests/test_routing.py)."""
    at = app("rita")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(USERS_PAGE)
