"""Two processes at once on review work (the harness is tests/test_races.py's: spawned processes
released together by a barrier; SQLite in a file always, PostgreSQL when
COUNTERSIGN_TEST_DATABASE_URL is set).

- Two `remind` runs at the same moment (cron overlapping itself, two hosts): one overdue reminder
  per open assignment per day, never two, and neither run crashes on the other's rows.
- Two people assigning the same step to the same reviewer at once: one assignment; the other is
  told it is already there.
- The same company account signing in for the first time from two places at once: one user,
  linked once; the other sign-in lands on it or is told to reload, never a second account.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).parent))
import test_races  # noqa: E402
from test_races import ROUNDS, Racers, Shared, campaign, finish  # noqa: E402

from review.models import Assignment, AssignmentState, Notification, NotificationKind, User  # noqa: E402

shared = test_races.shared  # the fixtures: a world in a file (or a PostgreSQL schema), two racers
racers = test_races.racers


def _overdue(shared: Shared, camp_id: int) -> None:
    with shared.engine.begin() as c:
        c.execute(text("UPDATE campaign SET due_at = :t WHERE id = :i"), {"t": datetime.now(UTC) - timedelta(hours=2), "i": camp_id})


def test_two_remind_runs_at_once_remind_each_assignment_once_a_day(shared: Shared, racers: Racers) -> None:
    camp_id, drafts = campaign(shared, "acme-solo", "big")
    ids = [d.id for d in drafts]
    _overdue(shared, camp_id)
    with shared.session() as s:
        open_ids = set(s.exec(select(Assignment.id).where(col(Assignment.draft_id).in_(ids), Assignment.state == AssignmentState.OPEN)).all())
    assert len(open_ids) == len(ids) >= 4  # one reviewer per draft (one signature each)
    start = datetime.now(UTC)
    for day in range(ROUNDS):
        now = (start + timedelta(days=day)).isoformat()
        out = racers.go(("remind", {"user": "admin", "now": now}), ("remind", {"user": "admin", "now": now}))
        assert [kind for kind, _ in out] == ["ok", "ok"], out
    with shared.session() as s:
        sent = s.exec(select(Notification).where(Notification.kind == NotificationKind.OVERDUE)).all()
    per_day = Counter((n.dedupe_key or "").rsplit(":", 1)[0] for n in sent)
    assert set(per_day) == {f"{NotificationKind.OVERDUE}:{i}" for i in open_ids}
    assert set(per_day.values()) == {ROUNDS}, per_day  # one per assignment per day, over every day
    assert len({n.dedupe_key for n in sent}) == len(sent)
    finish(shared)


def test_two_people_assigning_the_same_reviewer_at_once_make_one_assignment(shared: Shared, racers: Racers) -> None:
    _, drafts = campaign(shared, "acme-solo", "big")
    moved = 0
    for d in drafts[:ROUNDS]:
        with shared.session() as s:
            [current] = s.exec(select(Assignment).where(Assignment.draft_id == d.id, Assignment.state == AssignmentState.OPEN)).all()
            holder = s.get(User, current.reviewer_id)
            assert holder is not None
        other = "rob" if holder.username == "rita" else "rita"
        out = racers.go(("assign", {"user": "admin", "draft": d.id, "to": other}), ("assign", {"user": holder.username, "draft": d.id, "to": other}))
        kinds = sorted(kind for kind, _ in out)
        assert kinds == ["Conflict", "ok"], out
        assert f"{other} is already assigned the review step of draft {d.id}" in next(msg for kind, msg in out if kind == "Conflict")
        with shared.session() as s:
            now_open = s.exec(select(Assignment).where(Assignment.draft_id == d.id, Assignment.state == AssignmentState.OPEN)).all()
            assert [s.get(User, a.reviewer_id).username for a in now_open] == [other]  # type: ignore[union-attr]
        moved += 1
    assert moved == min(ROUNDS, len(drafts))
    finish(shared)


@pytest.fixture
def company_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the racers are spawned: they inherit it."""
    monkeypatch.setenv("COUNTERSIGN_OIDC_ROLES", "cs-reviewers=reviewer")


def test_one_company_account_signing_in_twice_at_once_makes_one_user(company_roles: None, shared: Shared, racers: Racers) -> None:
    for i in range(ROUNDS):
        claims = {"iss": "https://login.example.com", "sub": f"00u-{i}", "preferred_username": f"sam{i}", "name": "Sam", "groups": ["cs-reviewers"]}
        out = racers.go(("sso_sign_in", {"user": "admin", "claims": claims}), ("sso_sign_in", {"user": "admin", "claims": claims}))
        kinds = sorted(kind for kind, _ in out)
        assert kinds in (["Conflict", "ok"], ["ok", "ok"]), out
        assert all(msg == f"ok sam{i}" for kind, msg in out if kind == "ok")
        assert all("reload the page" in msg for kind, msg in out if kind == "Conflict")
        with shared.session() as s:
            linked = s.exec(select(User).where(User.oidc_subject == f"00u-{i}")).all()
            assert [u.username for u in linked] == [f"sam{i}"]
            assert len(s.exec(select(User).where(col(User.username).like(f"sam{i}%"))).all()) == 1
    finish(shared)
