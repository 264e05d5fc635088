"""Two processes signing the last review step of a routed draft at the same moment get one
approval transition (the harness is tests/test_races.py's: spawned processes, a barrier).

- parallel compliance + legal: rita signs compliance while rob signs legal. Each is the last
  step from where its signer stands; both signatures stand and exactly one of them approves.
- sequential medical → regulatory, medical signed: rita and rob (both regulatory) race for the
  one regulatory signature; one signs and approves, the other is told who approved it.

SQLite (a file in WAL mode) always; PostgreSQL when COUNTERSIGN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).parent))
import race_worker  # noqa: E402
from test_races import CITIES, Racers, Shared, _audience_csv, assert_one_story, finish, fresh, loser  # noqa: E402

from review.db import migrate  # noqa: E402
from review.models import Draft, Status  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
ROUNDS = int(os.environ.get("COUNTERSIGN_RACE_ROUNDS", "6"))
PLANS = {
    "routed-par": "review:\n  order: parallel\n  steps:\n    - {name: compliance, role: compliance}\n    - {name: legal, role: legal}\n",
    "routed-seq": "review:\n  order: sequential\n  steps:\n    - {name: medical, role: medical}\n    - {name: regulatory, role: regulatory}\n",
}
ROLES = {"rita": ["compliance", "regulatory"], "rob": ["legal", "regulatory"], "vera": ["medical"]}


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def shared(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shared]:
    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.models import Role
    from review.routing import set_review_roles
    from review.template_versions import save_template

    brands = tmp_path / "brands"
    for slug, plan in PLANS.items():
        shutil.copytree(FIXTURES / "brands" / "acme-pharma", brands / slug)
        path = brands / slug / "brand.yaml"
        path.write_text(path.read_text().replace("approvals_required: 2\n", plan).replace("name: Acme Pharma", f"name: Acme {slug}"))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(brands))
    schema = None
    if request.param == "postgresql":
        assert PG_URL
        url, schema = PG_URL, f"route_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{tmp_path / 'route-race.db'}"
    engine = race_worker.connect(url, schema)
    migrate(engine)
    with Session(engine, expire_on_commit=False) as s:
        sync_brands(s)
        boss = create_user(s, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password=race_worker.PASSWORDS["admin"])
        people = {"maria": Role.MARKETER, "rita": Role.REVIEWER, "rob": Role.REVIEWER, "vera": Role.REVIEWER}
        users = {n: create_user(s, boss, username=n, full_name=n.title(), role=r, password=race_worker.PASSWORDS[n]) for n, r in people.items()}
        for name, roles in ROLES.items():
            set_review_roles(s, boss, users[name].id, roles)  # type: ignore[arg-type]
        source = (FIXTURES / "templates" / "acme-newsletter.j2").read_text()
        versions = {slug: save_template(s, users["maria"], brand_slug=slug, source=source).id for slug in PLANS}
        audiences = {
            f"{slug}:big": import_audience(s, users["maria"], name=f"big {slug}", brand_slug=slug, data=_audience_csv(CITIES[: max(ROUNDS, 4)])).id
            for slug in PLANS
        }
        s.commit()
        yield Shared(engine, url, schema, tmp_path, versions, audiences)  # type: ignore[arg-type]
    engine.dispose()
    if schema:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def racers(shared: Shared) -> Iterator[Racers]:
    r = Racers(shared)
    yield r
    r.close()


def drafts_in_review(shared: Shared, brand: str, *, first_step_by: str | None = None) -> list[Draft]:
    """A campaign of the brand generated and submitted; its first step signed by `first_step_by`."""
    from review.campaigns import create_campaign
    from review.checks import warning_ids
    from review.filling import FakeFiller
    from review.generation import generate_campaign
    from review.workflow import SIGNATURE_MEANINGS, approve, submit_ready

    with shared.session() as s:
        maria = shared.user(s, "maria")
        camp = create_campaign(s, maria, name=f"race {brand}", template_version_id=shared.versions[brand], audience_id=shared.audiences[f"{brand}:big"])
        s.commit()
        camp_id = camp.id
    assert camp_id is not None
    generate_campaign(shared.engine, maria, camp_id, FakeFiller())
    with shared.session() as s:
        report = submit_ready(s, shared.user(s, "maria"), camp_id)
        assert not report.skipped, report.skipped
        drafts = list(s.exec(select(Draft).where(Draft.campaign_id == camp_id).order_by(col(Draft.id))).all())
        for d in drafts if first_step_by else []:
            signer = shared.user(s, first_step_by)  # type: ignore[arg-type]
            pw = race_worker.PASSWORDS[signer.username]
            approve(s, signer, d.id, password=pw, meaning=SIGNATURE_MEANINGS[0], acknowledged=warning_ids(d.findings), expected_content_hash=d.content_hash)  # type: ignore[arg-type]
        s.commit()
        return drafts[:ROUNDS]


def approvals_of(events: list) -> int:  # type: ignore[type-arg]
    return sum(ev.action == "draft_approved" for ev in events)


def test_the_two_last_parallel_steps_signed_at_once_approve_once(shared: Shared, racers: Racers) -> None:
    for d in drafts_in_review(shared, "routed-par"):
        out = racers.go(
            ("approve", {"draft": d.id, "user": "rita", "hash": d.content_hash}),
            ("approve", {"draft": d.id, "user": "rob", "hash": d.content_hash}),
        )
        assert [k for k, _ in out] == ["ok", "ok"], out
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert after.status == Status.APPROVED, f"both steps signed left draft {d.id} {after.status}"
        assert approvals_of(events) == 1
        assert sorted(a.step for a in valid) == ["compliance", "legal"]
        assert_one_story(after, events)
    finish(shared)


def test_two_reviewers_racing_for_the_last_sequential_step_give_one_approval(shared: Shared, racers: Racers) -> None:
    for d in drafts_in_review(shared, "routed-seq", first_step_by="vera"):
        out = racers.go(
            ("approve", {"draft": d.id, "user": "rita", "hash": d.content_hash, "step": "regulatory"}),
            ("approve", {"draft": d.id, "user": "rob", "hash": d.content_hash}),
        )
        kind, msg = loser(out)
        winner = "rita" if out[0][0] == "ok" else "rob"
        assert kind == "InvalidTransition" and f"approved by {winner}" in msg, out
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert after.status == Status.APPROVED and approvals_of(events) == 1
        assert sorted(a.step for a in valid) == ["medical", "regulatory"]
        assert_one_story(after, events)
    finish(shared)
