"""The settings around review work on existing pages: an admin edits a user's email address and
marks a reviewer away (their assignments move), a marketer sets and clears a campaign's due date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from ui_helpers import errors

from review.models import Assignment, AssignmentState, Campaign


def open_count(world, username: str) -> int:  # type: ignore[no-untyped-def]
    uid = world.user(username).id
    with world.session() as s:
        return len(s.exec(select(Assignment).where(Assignment.reviewer_id == uid, Assignment.state == AssignmentState.OPEN)).all())


def test_admin_edits_an_email_address_and_a_bad_one_is_refused(app, world):
    at = app("admin", page="ui/pages/users.py")
    rita = world.user("rita")
    assert rita.email == "rita@example.com"  # the demo's address
    at.selectbox(key="user_pick").set_value(rita.id).run()
    at.text_input(key=f"user_email_{rita.id}").input("rita.reviewer@harbor.example")
    at.button(key=f"user_email_save_{rita.id}").click().run()
    assert not at.exception and not errors(at)
    assert world.user("rita").email == "rita.reviewer@harbor.example"
    assert world.events("user_email_set")[-1].after == {"email": "rita.reviewer@harbor.example"}
    at.text_input(key=f"user_email_{rita.id}").input("not an address")
    at.button(key=f"user_email_save_{rita.id}").click().run()
    assert errors(at) == ["'not an address' is not an email address (name@example.com)"]


def test_admin_marks_a_reviewer_away_and_back(app, world):
    before = open_count(world, "rita")
    assert before > 0
    at = app("admin", page="ui/pages/users.py")
    rita = world.user("rita")
    at.selectbox(key="user_pick").set_value(rita.id).run()
    at.text_input(key=f"user_away_note_{rita.id}").input("parental leave")
    at.button(key="user_away").click().run()
    assert not at.exception and not errors(at)
    assert open_count(world, "rita") == 0
    assert any("rita is away" in s.value for s in [*at.success, *at.warning])
    at.selectbox(key="user_pick").set_value(rita.id).run()
    assert any("rita is away since" in i.value and "parental leave" in i.value for i in at.info)
    at.button(key="user_back").click().run()
    assert not errors(at)
    assert world.events("user_back")[-1].entity_id == str(rita.id)


def test_marketer_changes_and_clears_the_due_date(app, world):
    at = app("maria", page="ui/pages/campaigns.py")
    with world.session() as s:
        camp = s.exec(select(Campaign)).first()
    assert camp is not None and camp.due_at is not None  # the demo campaign is due two days after seeding
    target = (datetime.now(UTC) + timedelta(days=10)).date()
    at.date_input(key=f"camp_{camp.id}_edit_date").set_value(target)
    at.button(key=f"camp_{camp.id}_edit_save").click().run()
    assert not at.exception and not errors(at)
    with world.session() as s:
        due = s.get(Campaign, camp.id).due_at
    assert due is not None and due.date() == target
    at.button(key=f"camp_{camp.id}_edit_clear").click().run()
    assert not errors(at)
    with world.session() as s:
        assert s.get(Campaign, camp.id).due_at is None
    assert [e.action for e in world.events("campaign_due_set")] == ["campaign_due_set", "campaign_due_set"]
