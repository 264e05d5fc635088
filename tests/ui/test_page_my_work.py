"""My work page: a reviewer's assigned drafts (overdue first and highlighted), an author's drafts
with changes requested (with the comment), an admin's team and assigning by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import col, select
from ui_helpers import errors, html_text, texts

from review.models import Assignment, AssignmentState, Status


def open_assignments(world, username: str) -> list[Assignment]:  # type: ignore[no-untyped-def]
    uid = world.user(username).id
    with world.session() as s:
        q = select(Assignment).where(Assignment.reviewer_id == uid, Assignment.state == AssignmentState.OPEN).order_by(col(Assignment.id))
        return list(s.exec(q).all())


def test_a_reviewer_sees_the_drafts_assigned_to_them_and_overdue_ones_highlighted(app, world):
    mine = open_assignments(world, "rita")
    assert mine  # the demo's drafts entered review and were shared out round-robin
    at = app("rita", page="ui/pages/my_work.py")
    assert at.title[0].value == "My work"
    table = next(df for df in at.dataframe if "Step" in df.value.columns).value
    assert sorted(table["Draft"]) == sorted(a.draft_id for a in mine)
    assert set(table["State"]) <= {"on time", "Due within 24 h"}  # due two days after seeding
    assert not at.error
    with world.engine.begin() as c:  # the demo campaign's due date passes
        c.execute(text("UPDATE campaign SET due_at = :t"), {"t": datetime.now(UTC) - timedelta(hours=2)})
    at.run()
    assert any(f"{len(mine)} overdue" in e.value for e in at.error)
    table = next(df for df in at.dataframe if "Step" in df.value.columns).value
    assert set(table["State"]) == {"Overdue"}
    first = int(table["Draft"].iloc[0])
    at.selectbox(key="mywork_assigned_pick").set_value(first).run()
    at.button(key="mywork_assigned_open").click().run()
    assert not at.exception
    assert at.title[0].value == f"Draft #{first}"


def test_an_author_sees_changes_requested_with_the_comment(app, world):
    from review.db import session_scope
    from review.workflow import request_changes

    draft_id = open_assignments(world, "rob")[0].draft_id
    with session_scope(world.engine) as s:
        request_changes(s, world.user("rob"), draft_id, comment="Please name the renewal date plainly.")
    at = app("maria", page="ui/pages/my_work.py")
    shown = html_text(texts(at))
    assert f"Draft #{draft_id}" in shown and "Please name the renewal date plainly." in shown
    assert "rob" in shown
    assert any(m.label == "Changes requested" and m.value == "1" for m in at.metric)
    table = next(df for df in at.dataframe if "Waiting for step" in df.value.columns).value
    assert draft_id not in set(table["Draft"]) and set(table["Status"]) == {"In review"}
    at.button(key=f"mywork_changes_{draft_id}").click().run()
    assert at.title[0].value == f"Draft #{draft_id}"


def test_an_admin_sees_the_team_and_assigns_a_draft_by_hand(app, world):
    draft_id = open_assignments(world, "rita")[0].draft_id
    at = app("admin", page="ui/pages/my_work.py")
    team = next(df for df in at.dataframe if "Open assignments" in df.value.columns).value
    loads = dict(zip(team["Reviewer"], team["Open assignments"], strict=True))
    assert loads["rita"] == len(open_assignments(world, "rita")) and loads["rob"] == len(open_assignments(world, "rob"))
    at.number_input(key="mywork_assign_draft").set_value(draft_id)
    at.selectbox(key="mywork_assign_to").set_value(world.user("rob").id)
    at.button(key="mywork_assign").click().run()
    assert not at.exception and not errors(at)
    assert draft_id in {a.draft_id for a in open_assignments(world, "rob")}
    assert draft_id not in {a.draft_id for a in open_assignments(world, "rita")}
    # Assigning it to rob again is refused in plain words.
    at.number_input(key="mywork_assign_draft").set_value(draft_id)
    at.selectbox(key="mywork_assign_to").set_value(world.user("rob").id)
    at.button(key="mywork_assign").click().run()
    assert errors(at) == [f"rob is already assigned the review step of draft {draft_id}"]


def test_a_draft_out_of_review_cannot_be_assigned(app, world):
    from review.db import session_scope
    from review.workflow import reject

    draft_id = open_assignments(world, "rob")[0].draft_id
    with session_scope(world.engine) as s:
        reject(s, world.user("rob"), draft_id, comment="Not for this audience.")
    assert world.draft(draft_id).status == Status.REJECTED
    at = app("rita", page="ui/pages/my_work.py")
    at.number_input(key="mywork_assign_draft").set_value(draft_id)
    at.button(key="mywork_assign").click().run()
    assert len(errors(at)) == 1 and "only drafts in review are assigned" in errors(at)[0]
