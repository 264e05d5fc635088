"""Assignments and due dates: round-robin by load, never an author, reassign on absence, manual
assignment with its refusals, completion on signatures and on leaving review, My work's order,
the CLI, and the m010 upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlmodel import Session, col, select

from review import db
from review.assignments import assign, loads, set_away, sweep
from review.auth import create_user
from review.checks import warning_ids
from review.due_dates import set_due_date
from review.errors import Conflict, InvalidInput, NotReady, PermissionDenied
from review.generation import generate_campaign
from review.models import Assignment, AssignmentState, AuditEvent, Campaign, Draft, Notification, Role, Status, User, Variant
from review.my_work import my_work
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, reject, request_changes, submit_for_review

A = AssignmentState


@pytest.fixture
def team(world, fake_filler):  # type: ignore[no-untyped-def]
    """The world with its four drafts generated and two more reviewers (four in all)."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    s = world.session
    world.vera = create_user(s, world.admin, username="vera", full_name="Vera Verifier", role=Role.REVIEWER, password="vera-pass-1")
    world.victor = create_user(s, world.admin, username="victor", full_name="Victor Vetter", role=Role.REVIEWER, password="victor-pass-1")
    world.PASSWORDS = {**world.PASSWORDS, "vera": "vera-pass-1", "victor": "victor-pass-1"}
    s.commit()
    s.expire_all()
    return world


def drafts(w) -> list[Draft]:  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).all())


def open_for(w, draft_id: int) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """step → usernames with an open assignment on the draft."""
    out: dict[str, set[str]] = {}
    for a in w.session.exec(select(Assignment).where(Assignment.draft_id == draft_id, Assignment.state == A.OPEN)).all():
        out.setdefault(a.step, set()).add(w.session.get(User, a.reviewer_id).username)
    return out


def submit(w, d: Draft) -> None:  # type: ignore[no-untyped-def]
    submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()


def sign(w, who, d: Draft) -> None:  # type: ignore[no-untyped-def]
    w.session.refresh(d)
    approve(
        w.session,
        who,
        d.id,
        password=w.PASSWORDS[who.username],
        meaning=SIGNATURE_MEANINGS[0],
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
    )
    w.session.commit()


def load_of(w, *users) -> list[int]:  # type: ignore[no-untyped-def]
    counts = loads(w.session, [u.id for u in users])
    return [counts[u.id] for u in users]


# ------------------------------------------------------------------------- automatic assignment


def test_entering_review_assigns_as_many_reviewers_as_the_step_needs_round_robin_by_load(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    reviewers = [w.reviewer, w.reviewer2, w.vera, w.victor]
    ds = drafts(w)
    assigned: list[set[str]] = []
    for d in ds:
        submit(w, d)
        got = open_for(w, d.id)
        assert set(got) == {"review"}  # acme-pharma: approvals_required 2 is the one step "review"
        assert len(got["review"]) == 2  # two distinct reviewers, one per signature still needed
        assigned.append(got["review"])
    # Four drafts x two signatures over four reviewers: everyone carries the same load, and the
    # second draft went to the two the first one left idle.
    assert load_of(w, *reviewers) == [2, 2, 2, 2]
    assert assigned[0].isdisjoint(assigned[1])
    events = w.session.exec(select(AuditEvent).where(AuditEvent.action == "assignment_created")).all()
    assert len(events) == 8 and {e.actor for e in events} == {"system"} and {e.after["triggered_by"] for e in events} == {"maria"}


def test_the_least_loaded_reviewer_is_picked_then_the_least_recently_assigned(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    first, second, third = drafts(w)[:3]
    # Existing load: rita three open assignments, rob one (on a draft that is not in review: load
    # counts open assignments wherever they are).
    for reviewer, n in ((w.reviewer, 3), (w.reviewer2, 1)):
        for _ in range(n):
            w.session.add(Assignment(draft_id=third.id, step="review", reviewer_id=reviewer.id))
    w.session.commit()
    submit(w, first)
    assert open_for(w, first.id)["review"] == {"vera", "victor"}  # load 0 each
    assert load_of(w, w.reviewer, w.reviewer2, w.vera, w.victor) == [3, 1, 1, 1]
    submit(w, second)
    # rob, vera and victor tie on load 1; rob was assigned longest ago, so he goes first.
    picked = open_for(w, second.id)["review"]
    assert "rita" not in picked and "rob" in picked and len(picked) == 2


def test_never_assigns_an_author_of_the_draft(team) -> None:  # type: ignore[no-untyped-def]
    """A marketer who edited a draft and later became a reviewer is one of its authors: never
    picked for it, and refused when assigned by hand."""
    w = team
    d = drafts(w)[0]
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Hello from the whole Acme team."})
    w.session.commit()
    maria = w.session.get(User, w.marketer.id)
    maria.role = Role.REVIEWER  # promoted after editing the draft
    w.session.add(maria)
    w.session.commit()
    submit_for_review(w.session, w.admin, d.id)
    w.session.commit()
    assert "maria" not in open_for(w, d.id)["review"]
    for other in drafts(w)[1:]:
        submit_for_review(w.session, w.admin, other.id)
    w.session.commit()
    # She generated every draft of the campaign (its author) and carries no load, so round-robin
    # by load would have picked her first each time: the author rule alone keeps her off.
    assert loads(w.session, [maria.id])[maria.id] == 0
    assert sum(load_of(w, w.reviewer, w.reviewer2, w.vera, w.victor)) == 8
    with pytest.raises(PermissionDenied, match="wrote or edited draft"):
        assign(w.session, w.admin, d.id, step="review", to_user_id=maria.id, replace_user_id=w.reviewer.id)
    w.session.rollback()


def test_a_step_nobody_can_take_waits_unassigned_and_sweep_fills_it_later(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    for u in (w.reviewer2, w.vera, w.victor):
        set_away(w.session, w.admin, u.id, away=True)
    w.session.commit()
    d = drafts(w)[0]
    submit(w, d)
    assert open_for(w, d.id) == {"review": {"rita"}}  # one of the two signatures has nobody
    work = my_work(w.session, w.admin)
    assert [(g.draft_id, g.step, g.short) for g in work.unassigned] == [(d.id, "review", 1)]  # two signatures needed, one reviewer
    set_away(w.session, w.admin, w.vera.id, away=False)
    w.session.commit()
    made = sweep(w.session)
    w.session.commit()
    assert [w.session.get(User, a.reviewer_id).username for a in made] == ["vera"]
    assert open_for(w, d.id) == {"review": {"rita", "vera"}}
    assert sweep(w.session) == []  # nothing short any more


# ------------------------------------------------------------------------- completion


def test_signing_completes_the_signers_assignment_and_approval_completes_the_rest(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    d = drafts(w)[0]
    submit(w, d)
    first, second = sorted(open_for(w, d.id)["review"])
    users = {u.username: u for u in (w.reviewer, w.reviewer2, w.vera, w.victor)}
    sign(w, users[first], d)
    rows = w.session.exec(select(Assignment).where(Assignment.draft_id == d.id)).all()
    assert {(w.session.get(User, a.reviewer_id).username, a.state, a.close_reason) for a in rows} == {(first, A.DONE, "signed"), (second, A.OPEN, "")}
    sign(w, users[second], d)
    w.session.refresh(d)
    assert d.status == Status.APPROVED
    assert {a.state for a in w.session.exec(select(Assignment).where(Assignment.draft_id == d.id)).all()} == {A.DONE}
    assert load_of(w, users[first], users[second]) == [0, 0]


def test_leaving_review_closes_open_assignments_and_resubmitting_assigns_again(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    d = drafts(w)[0]
    submit(w, d)
    reviewer = next(u for u in (w.reviewer, w.reviewer2, w.vera, w.victor) if u.username in open_for(w, d.id)["review"])
    request_changes(w.session, reviewer, d.id, comment="Please soften the greeting.")
    w.session.commit()
    closed = w.session.exec(select(Assignment).where(Assignment.draft_id == d.id)).all()
    assert {(a.state, a.close_reason) for a in closed} == {(A.CLOSED, "draft needs_changes")}
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Hello from everyone at Acme."})
    w.session.commit()
    submit(w, d)
    assert len(open_for(w, d.id)["review"]) == 2
    other = next(u for u in (w.reviewer, w.reviewer2, w.vera, w.victor) if u.username in open_for(w, d.id)["review"])
    reject(w.session, other, d.id, comment="Off-brand, start again.")
    w.session.commit()
    assert open_for(w, d.id) == {}


# ------------------------------------------------------------------------- by hand and on absence


def test_manual_assignment_and_its_refusals(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    d, idle = drafts(w)[:2]
    with pytest.raises(NotReady, match="only drafts in review are assigned"):
        assign(w.session, w.admin, idle.id, step="review", to_user_id=w.vera.id)
    w.session.rollback()
    submit(w, d)
    holders = open_for(w, d.id)["review"]
    newcomer = next(u for u in (w.reviewer, w.reviewer2, w.vera, w.victor) if u.username not in holders)
    with pytest.raises(Conflict, match="already has the reviewers it needs"):
        assign(w.session, w.admin, d.id, step="review", to_user_id=newcomer.id)  # two holders: say whom it replaces
    w.session.rollback()
    with pytest.raises(InvalidInput, match="no review step 'legal'"):
        assign(w.session, w.admin, d.id, step="legal", to_user_id=newcomer.id)
    w.session.rollback()
    with pytest.raises(InvalidInput, match="may not sign the review step"):
        assign(w.session, w.admin, d.id, step="review", to_user_id=w.admin.id)  # an admin is no reviewer
    w.session.rollback()
    with pytest.raises(PermissionDenied, match="needs the admin or reviewer role"):
        assign(w.session, w.marketer, d.id, step="review", to_user_id=newcomer.id)
    w.session.rollback()
    leaving = sorted(holders)[0]
    leaving_id = w.session.exec(select(User.id).where(User.username == leaving)).one()
    a = assign(w.session, newcomer, d.id, step="review", to_user_id=newcomer.id, replace_user_id=leaving_id)  # a reviewer takes it
    w.session.commit()
    assert a.method == "manual" and a.assigned_by == newcomer.username
    assert open_for(w, d.id)["review"] == (holders - {leaving}) | {newcomer.username}
    moved = w.session.exec(select(Assignment).where(Assignment.draft_id == d.id, Assignment.state == A.MOVED)).one()
    assert moved.reviewer_id == leaving_id and f"reassigned to {newcomer.username}" in moved.close_reason
    with pytest.raises(Conflict, match="already assigned"):
        assign(w.session, w.admin, d.id, step="review", to_user_id=newcomer.id, replace_user_id=newcomer.id)
    w.session.rollback()


def test_marking_a_reviewer_away_moves_their_open_assignments_to_others(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    for d in drafts(w):
        submit(w, d)
    rita = w.reviewer
    mine = [a.draft_id for a in w.session.exec(select(Assignment).where(Assignment.reviewer_id == rita.id, Assignment.state == A.OPEN)).all()]
    assert mine
    report = set_away(w.session, w.admin, rita.id, away=True, note="on leave")
    w.session.commit()
    assert report.away and report.unassigned == [] and sorted(m[0] for m in report.moved) == sorted(mine)
    assert load_of(w, rita) == [0]
    for draft_id in mine:
        holders = open_for(w, draft_id)["review"]
        assert "rita" not in holders and len(holders) == 2  # moved to someone not already on it
    audit_actions = {e.action for e in w.session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(["user_away", "assignment_moved"]))).all()}
    assert audit_actions == {"user_away", "assignment_moved"}
    with pytest.raises(Conflict, match="already marked away"):
        set_away(w.session, w.admin, rita.id, away=True)
    w.session.rollback()
    with pytest.raises(Conflict, match="marked away"):
        assign(w.session, w.admin, mine[0], step="review", to_user_id=rita.id, replace_user_id=report_holder(w, mine[0]))
    w.session.rollback()
    with pytest.raises(PermissionDenied):
        set_away(w.session, w.reviewer2, rita.id, away=False)
    w.session.rollback()
    set_away(w.session, w.admin, rita.id, away=False)
    w.session.commit()
    assign(w.session, w.admin, mine[0], step="review", to_user_id=rita.id, replace_user_id=report_holder(w, mine[0]))
    w.session.commit()
    assert "rita" in open_for(w, mine[0])["review"]


def report_holder(w, draft_id: int) -> int:  # type: ignore[no-untyped-def]
    return w.session.exec(
        select(Assignment.reviewer_id).where(Assignment.draft_id == draft_id, Assignment.state == A.OPEN).order_by(col(Assignment.id))
    ).first()


# ------------------------------------------------------------------------- due dates and My work


def test_due_dates_are_validated_audited_and_inherited_by_my_work_overdue_first(team, fake_filler) -> None:  # type: ignore[no-untyped-def]
    w = team
    with pytest.raises(InvalidInput, match="in the past"):
        set_due_date(w.session, w.marketer, w.campaign_id, datetime.now(UTC) - timedelta(hours=1))
    w.session.rollback()
    with pytest.raises(PermissionDenied):
        set_due_date(w.session, w.reviewer, w.campaign_id, datetime.now(UTC) + timedelta(days=1))
    w.session.rollback()
    due = datetime.now(UTC) + timedelta(days=2)
    set_due_date(w.session, w.marketer, w.campaign_id, due)
    w.session.commit()
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "campaign_due_set")).one()
    assert ev.before == {"due_at": None} and ev.after["due_at"].startswith(due.strftime("%Y-%m-%dT%H:%M"))
    # A second campaign, already overdue (its due date passed while its drafts waited).
    from review.campaigns import create_campaign

    late = create_campaign(w.session, w.marketer, name="Late campaign", template_version_id=w.template_version_id, audience_id=w.audience_id)
    w.session.commit()
    generate_campaign(w.engine, w.marketer, late.id, fake_filler)
    w.session.expire_all()
    for camp_id in (w.campaign_id, late.id):
        for d in w.session.exec(select(Draft).where(Draft.campaign_id == camp_id)).all():
            submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()
    with w.engine.begin() as c:
        c.execute(text("UPDATE campaign SET due_at = :t WHERE id = :i"), {"t": datetime.now(UTC) - timedelta(hours=3), "i": late.id})
    w.session.expire_all()
    work = my_work(w.session, w.reviewer)
    assert work.assigned and work.overdue > 0
    flags = [item.overdue for item in work.assigned]
    assert flags == sorted(flags, reverse=True)  # every overdue item before every other
    assert {item.campaign for item in work.assigned if item.overdue} == {"Late campaign"}
    assert all(item.due == "due" for item in work.assigned if not item.overdue)


def test_my_work_for_an_author_shows_changes_requested_with_the_comment(team) -> None:  # type: ignore[no-untyped-def]
    w = team
    ds = drafts(w)
    for d in ds:
        submit(w, d)
    holder = next(u for u in (w.reviewer, w.reviewer2, w.vera, w.victor) if u.username in open_for(w, ds[0].id)["review"])
    request_changes(w.session, holder, ds[0].id, comment="The closing line promises too much.")
    w.session.commit()
    work = my_work(w.session, w.marketer)
    assert [(c.draft_id, c.comment, c.comment_by) for c in work.changes_requested] == [(ds[0].id, "The closing line promises too much.", holder.username)]
    standing = {i.draft_id: i for i in work.in_progress}
    assert set(standing) == {d.id for d in ds[1:]}
    assert all(i.open_steps == ("review",) and len(i.assigned) == 2 for i in standing.values())
    assert work.status_counts == {Status.NEEDS_CHANGES: 1, Status.IN_REVIEW: 3}
    assert work.assigned == []  # a marketer has no review assignments


# ------------------------------------------------------------------------- CLI


def test_cli_assign_and_my_work(team, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review import cli as cli_module

    w = team
    d = drafts(w)[0]
    submit(w, d)
    holders = open_for(w, d.id)["review"]
    newcomer = next(u for u in (w.reviewer, w.reviewer2, w.vera, w.victor) if u.username not in holders)
    leaving = sorted(holders)[0]
    monkeypatch.setattr(cli_module, "_engine", lambda: w.engine)
    runner = CliRunner()
    env = {"COUNTERSIGN_PASSWORD": w.PASSWORDS["admin"]}
    out = runner.invoke(cli_module.cli, ["assign", str(d.id), "--to", newcomer.username, "--as", "admin"], env=env)
    assert out.exit_code == 1 and "say whom the new reviewer replaces" in out.output
    out = runner.invoke(cli_module.cli, ["assign", str(d.id), "--to", newcomer.username, "--replace", leaving, "--step", "review", "--as", "admin"], env=env)
    assert out.exit_code == 0, out.output
    assert f"review step assigned to {newcomer.username}" in out.output
    out = runner.invoke(cli_module.cli, ["my-work", "--as", newcomer.username], env={"COUNTERSIGN_PASSWORD": w.PASSWORDS[newcomer.username]})
    assert out.exit_code == 0, out.output
    assert f"#{d.id}\treview\tAcme test campaign" in out.output and "1 assigned (0 overdue)" in out.output
    out = runner.invoke(cli_module.cli, ["set-due", str(w.campaign_id), "2999-01-31", "--as", "maria"], env={"COUNTERSIGN_PASSWORD": w.PASSWORDS["maria"]})
    assert out.exit_code == 0 and "due 2999-01-31 23:59 UTC" in out.output
    out = runner.invoke(cli_module.cli, ["away", "rob", "--as", "admin", "--note", "holiday"], env=env)
    assert out.exit_code == 0 and "rob is away" in out.output


# ------------------------------------------------------------------------- migration


def test_m010_upgrades_a_database_built_without_it(engine) -> None:  # type: ignore[no-untyped-def]
    """A database from before m010 (no due dates, no email, no assignment tables) gains them and
    keeps its rows; the new columns start empty."""
    with engine.begin() as c:
        for table in ("notification", "assignment", "absence"):
            c.execute(text(f'DROP TABLE "{table}"'))
        c.execute(text('ALTER TABLE "user" DROP COLUMN email'))
        c.execute(text("ALTER TABLE campaign DROP COLUMN due_at"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm010_assignments_notifications'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old Timer', 'reviewer', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
    assert "email" not in {c["name"] for c in inspect(engine).get_columns("user")}
    assert db.migrate(engine) == ["m010_assignments_notifications"]
    assert db.migrate(engine) == []
    insp = inspect(engine)
    assert {"email"} <= {c["name"] for c in insp.get_columns("user")}
    assert {"due_at"} <= {c["name"] for c in insp.get_columns("campaign")}
    assert {"assignment", "absence", "notification"} <= set(insp.get_table_names())
    with Session(engine) as s:
        old = s.exec(select(User).where(User.username == "old")).one()
        assert old.email is None and old.full_name == "Old Timer"
        assert s.exec(select(Campaign)).all() == []
        assert s.exec(select(Notification)).all() == [] and s.exec(select(Variant)).all() == []


# ------------------------------------------------------------------------- routed steps (brand.yaml review:)

ROUTED = {
    "sequential": """review:
  order: sequential
  steps:
    - {name: medical, role: medical, count: 1}
    - {name: legal, role: legal, count: 1}
    - {name: regulatory, role: regulatory, count: 1}
""",
    "parallel": """review:
  order: parallel
  steps:
    - {name: compliance, role: compliance, count: 1}
    - {name: legal, role: legal, count: 1}
""",
}


def routed_team(build_world, fake_filler, tmp_path, monkeypatch, plan: str, roles: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """acme-pharma with a routed plan, reviewers rita, rob, vera and victor holding `roles`."""
    import shutil
    from pathlib import Path

    from review.routing import set_review_roles

    brands = tmp_path / "brands"
    shutil.copytree(Path(__file__).parent / "fixtures" / "brands", brands)
    path = brands / "acme-pharma" / "brand.yaml"
    path.write_text(path.read_text().replace("approvals_required: 2\n", ROUTED[plan]))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(brands))
    w = build_world()
    s = w.session
    w.vera = create_user(s, w.admin, username="vera", full_name="Vera Verifier", role=Role.REVIEWER, password="vera-pass-1")
    w.victor = create_user(s, w.admin, username="victor", full_name="Victor Vetter", role=Role.REVIEWER, password="victor-pass-1")
    w.PASSWORDS = {**w.PASSWORDS, "vera": "vera-pass-1", "victor": "victor-pass-1"}
    people = {u.username: u for u in (w.reviewer, w.reviewer2, w.vera, w.victor)}
    for name, held in roles.items():
        set_review_roles(s, w.admin, people[name].id, held)
    s.commit()
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    s.expire_all()
    return w, people


def test_a_sequential_plan_assigns_each_step_as_it_opens_to_a_holder_of_its_role(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, people = routed_team(
        build_world, fake_filler, tmp_path, monkeypatch, "sequential", {"rita": ["medical"], "vera": ["medical"], "rob": ["legal"], "victor": ["regulatory"]}
    )
    first, second = drafts(w)[:2]
    submit(w, first)
    submit(w, second)
    # Only the open step is assigned; the two medical reviewers share the two drafts.
    assert set(open_for(w, first.id)) == {"medical"} and set(open_for(w, second.id)) == {"medical"}
    assert open_for(w, first.id)["medical"] | open_for(w, second.id)["medical"] == {"rita", "vera"}
    with pytest.raises(NotReady, match="step 'legal' of draft .* is not open for signing now \\(open: medical\\)"):
        assign(w.session, w.admin, first.id, step="legal", to_user_id=people["rob"].id)
    w.session.rollback()
    with pytest.raises(InvalidInput, match="rob may not sign the medical step \\(it needs the medical review role\\)"):
        assign(w.session, w.admin, first.id, step="medical", to_user_id=people["rob"].id)
    w.session.rollback()
    medic = people[next(iter(open_for(w, first.id)["medical"]))]
    sign(w, medic, first)
    assert open_for(w, first.id) == {"legal": {"rob"}}  # the legal step opened and was assigned at once
    rob_note = w.session.exec(select(Notification).where(Notification.user_id == people["rob"].id, Notification.draft_id == first.id)).one()
    assert rob_note.kind == "assigned" and "legal step" in rob_note.title
    sign(w, people["rob"], first)
    assert open_for(w, first.id) == {"regulatory": {"victor"}}
    sign(w, people["victor"], first)
    w.session.refresh(first)
    assert first.status == Status.APPROVED and open_for(w, first.id) == {}
    done = w.session.exec(select(Assignment).where(Assignment.draft_id == first.id).order_by(col(Assignment.id))).all()
    assert [(a.step, a.state, a.close_reason) for a in done] == [
        ("medical", A.DONE, "signed"),
        ("legal", A.DONE, "signed"),
        ("regulatory", A.DONE, "signed"),
    ]


def test_a_parallel_plan_assigns_every_step_at_once_and_a_step_signed_by_someone_else_completes(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, people = routed_team(build_world, fake_filler, tmp_path, monkeypatch, "parallel", {"rita": ["compliance"], "vera": ["compliance"], "rob": ["legal"]})
    d = drafts(w)[0]
    submit(w, d)
    got = open_for(w, d.id)
    assert set(got) == {"compliance", "legal"} and got["legal"] == {"rob"} and len(got["compliance"]) == 1
    assigned = next(iter(got["compliance"]))
    other = people["vera" if assigned == "rita" else "rita"]
    from review.workflow import approve as approve_step

    w.session.refresh(d)
    approve_step(
        w.session,
        other,
        d.id,
        password=w.PASSWORDS[other.username],
        meaning=SIGNATURE_MEANINGS[0],
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
        step="compliance",
    )
    w.session.commit()
    assert open_for(w, d.id) == {"legal": {"rob"}}
    closed = w.session.exec(select(Assignment).where(Assignment.draft_id == d.id, Assignment.step == "compliance")).one()
    assert closed.state == A.DONE and closed.close_reason == f"step satisfied by {other.username}"


def test_deactivating_a_reviewer_moves_their_open_assignments(team) -> None:  # type: ignore[no-untyped-def]
    from review.auth import set_active

    w = team
    for d in drafts(w)[:2]:
        submit(w, d)
    rob = w.reviewer2
    held = sorted(a.draft_id for a in w.session.exec(select(Assignment).where(Assignment.reviewer_id == rob.id, Assignment.state == A.OPEN)).all())
    assert held
    set_active(w.session, w.admin, rob.id, False)
    w.session.commit()
    assert load_of(w, rob) == [0]
    for draft_id in held:
        assert "rob" not in open_for(w, draft_id)["review"] and len(open_for(w, draft_id)["review"]) == 2
    reasons = {a.close_reason for a in w.session.exec(select(Assignment).where(Assignment.reviewer_id == rob.id, Assignment.state == A.MOVED)).all()}
    assert reasons == {"rob was deactivated"}
