"""The draft page renders exactly the actions `workflow.get_actions` offers, for each role and
status, with their labels; and each goes through `workflow.perform`."""

from __future__ import annotations

import pytest
from ui_helpers import texts

from review.checks import warning_ids
from review.models import Draft, Status
from review.workflow import SIGNATURE_MEANINGS, approve, get_actions, request_changes, transition

DRAFT_PAGE = "ui/pages/draft.py"
# The widget that takes each action on the page.
ACTION_KEYS = {
    "approve": "approve_btn",
    "request_changes": "request_changes_btn",
    "reject": "reject_btn",
    "withdraw": "withdraw_btn",
    "submit": "submit_btn",
    "edit": "edit_save",
}
VIEW_TABS = {"Slots and inputs", "Template fixed copy", "History"}


def _sign(world, username: str, d: Draft) -> None:
    with world.session() as s:
        approve(
            s,
            world.user(username),
            d.id,
            password=f"{username}-demo-pass",
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )
        s.commit()


def _send_back(world, d: Draft) -> None:
    with world.session() as s:
        request_changes(s, world.user("rita"), d.id, comment="Warmer, please.")
        s.commit()


def _out_of_review(world, d: Draft) -> None:
    """Back to generated-not-submitted (as an edit that adds an error does), without errors."""
    with world.session() as s:
        transition(s, s.get(Draft, d.id), Status.CHECKED, world.user("maria"), reason="moved out of review")
        s.commit()


SCENARIOS = {
    # name: (who looks, what happened to the draft first)
    "reviewer, in review": ("rita", None),
    "author, generated": ("maria", "checked"),
    "author, in review": ("maria", None),
    "admin, in review": ("admin", None),
    "author, sent back": ("maria", "sent back"),
    "reviewer, sent back": ("rita", "sent back"),
    "admin, approved": ("admin", "approved"),
    "reviewer, approved": ("rob", "approved"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_page_shows_exactly_the_offered_actions(app, world, scenario: str) -> None:
    username, before = SCENARIOS[scenario]
    d = next(d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count)
    if before == "checked":
        _out_of_review(world, d)
    elif before == "sent back":
        _send_back(world, d)
    elif before == "approved":
        _sign(world, "rita", d)
    d = world.draft(d.id)
    with world.session() as s:
        offered = get_actions(s, s.get(Draft, d.id), world.user(username))
    at = app(username, page=DRAFT_PAGE, query={"draft": str(d.id)})
    shown_keys = {b.key for b in at.button} & set(ACTION_KEYS.values())
    assert shown_keys == {ACTION_KEYS[a.name] for a in offered}, scenario
    # Decisions are tabs named by the action's label; the author's submit is a button with its label.
    decisions = [a.label for a in offered if a.name not in ("submit", "edit")]
    assert [t.label for t in at.tabs if t.label not in VIEW_TABS] == decisions
    for a in offered:
        if a.name == "submit":
            assert at.button(key="submit_btn").label == a.label and at.button(key="submit_btn").proto.type == a.style
    if not offered:
        assert "Nothing for you to do on this draft" in texts(at)


def test_the_offer_follows_the_draft_and_the_user(world) -> None:
    """The scenarios above are not all alike: what is offered differs by role and status."""
    d = next(d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count)
    with world.session() as s:
        draft = s.get(Draft, d.id)
        names = {u: [a.name for a in get_actions(s, draft, world.user(u))] for u in ("rita", "maria", "admin")}
    assert names == {"rita": ["approve", "request_changes", "reject"], "maria": ["edit"], "admin": []}


def test_a_withdrawal_from_the_page_goes_through_perform(app, world, monkeypatch: pytest.MonkeyPatch) -> None:
    from review import workflow

    d = next(d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count)
    _sign(world, "rita", d)
    taken: list[tuple[str, int, str]] = []
    real = workflow.perform

    def spy(session, actor, draft_id, action, **inputs):  # type: ignore[no-untyped-def]
        taken.append((actor.username, draft_id, action))
        return real(session, actor, draft_id, action, **inputs)

    monkeypatch.setattr(workflow, "perform", spy)
    at = app("admin", page=DRAFT_PAGE, query={"draft": str(d.id)})
    at.text_area(key="withdraw_comment").input("Recalled: the offer ended.")
    at.button(key="withdraw_btn").click().run()
    assert not at.exception
    assert taken == [("admin", d.id, "withdraw")]
    assert world.draft(d.id).status == Status.WITHDRAWN
    assert any("withdraw recorded" in s.value for s in at.success)
