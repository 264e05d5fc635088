"""Two processes acting on the same draft or campaign at the same moment get one outcome.

Each case starts two real processes (spawned, each with its own engine, like two app replicas),
releases both actions together with a barrier, then checks the database: one consistent
outcome, a clear domain error for the loser (never a traceback), one audit story per draft
whose statuses follow the workflow, and an audit chain that verifies.

SQLite (a file in WAL mode) always; PostgreSQL when COUNTERSIGN_TEST_DATABASE_URL is set.
`COUNTERSIGN_RACE_ROUNDS` sets the rounds per case (default 12; the closing note's counts
were taken with 200 on PostgreSQL and 50 on SQLite).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

sys.path.insert(0, str(Path(__file__).parent))
import race_worker  # noqa: E402

from review import audit  # noqa: E402
from review.db import migrate  # noqa: E402
from review.models import Approval, AuditEvent, Draft, Export, GenerationJob, Status, User, Variant  # noqa: E402
from review.workflow import TRANSITIONS  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("COUNTERSIGN_TEST_DATABASE_URL")
ROUNDS = int(os.environ.get("COUNTERSIGN_RACE_ROUNDS", "12"))
CITIES = [
    f"{a}{b}{c}"
    for c in ("", " Dale", " Moor", " Field", " Gate")
    for a in ("Ash", "Bar", "Cal", "Dun", "Elm", "Fen", "Gar", "Hol")
    for b in ("ford", "ton", "bury", "wick", "by", "ham")
]  # 240 audience groups: one draft per round
LOSER_ERRORS = {"InvalidTransition", "WorkflowError", "Conflict", "NotReady", "ExportRefused"}  # WorkflowError and its subclasses


@dataclass
class Shared:
    engine: Engine
    url: str
    schema: str | None
    tmp: Path
    versions: dict[str, int]  # brand slug -> template version id
    audiences: dict[str, int]  # "<brand>:big" | "<brand>:one" -> audience id
    made: int = 0

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def user(self, s: Session, name: str) -> User:
        return s.exec(select(User).where(User.username == name)).one()


def _audience_csv(cities: list[str], rows_per_city: int = 1) -> bytes:
    lines = ["id,first_name,city,age_band,personalization_consent"]
    n = 0
    for city in cities:
        for _ in range(rows_per_city):
            n += 1
            lines.append(f"R{n},Sam,{city},35-54,yes")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def shared(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shared]:
    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.models import Role
    from review.template_versions import save_template

    # Two brands: acme-pharma needs two signatures, acme-solo one.
    brands = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", brands)
    shutil.copytree(brands / "acme-pharma", brands / "acme-solo")
    solo = brands / "acme-solo" / "brand.yaml"
    solo.write_text(solo.read_text().replace("approvals_required: 2", "approvals_required: 1").replace("name: Acme Pharma", "name: Acme Solo"))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(brands))
    schema = None
    if request.param == "postgresql":
        assert PG_URL
        url, schema = PG_URL, f"race_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{tmp_path / 'race.db'}"
    engine = race_worker.connect(url, schema)
    migrate(engine)
    with Session(engine, expire_on_commit=False) as s:
        sync_brands(s)
        admin_user = create_user(s, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password=race_worker.PASSWORDS["admin"])
        people = {"maria": Role.MARKETER, "rita": Role.REVIEWER, "rob": Role.REVIEWER}
        users = {n: create_user(s, admin_user, username=n, full_name=n.title(), role=r, password=race_worker.PASSWORDS[n]) for n, r in people.items()}
        source = (FIXTURES / "templates" / "acme-newsletter.j2").read_text()
        versions = {slug: save_template(s, users["maria"], brand_slug=slug, source=source).id for slug in ("acme-pharma", "acme-solo")}
        audiences = {}
        for slug in versions:  # audiences are bound to a brand
            big = import_audience(s, users["maria"], name=f"race big {slug}", brand_slug=slug, data=_audience_csv(CITIES[: max(ROUNDS, 4)]))
            one = import_audience(s, users["maria"], name=f"race one {slug}", brand_slug=slug, data=_audience_csv(["Leeds"], 2))
            audiences |= {f"{slug}:big": big.id, f"{slug}:one": one.id}
        s.commit()
        yield Shared(engine, url, schema, tmp_path, versions, audiences)  # type: ignore[arg-type]
    engine.dispose()
    if schema:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class Racers:
    """Two spawned processes; `go(a, b)` releases action a in one and b in the other together."""

    def __init__(self, shared: Shared) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier = ctx.Barrier(2)
        self.inboxes = [ctx.Queue(), ctx.Queue()]
        self.outboxes = [ctx.Queue(), ctx.Queue()]
        self.procs = [
            ctx.Process(target=race_worker.racer, args=(shared.url, shared.schema, self.barrier, self.inboxes[i], self.outboxes[i]), daemon=True)
            for i in range(2)
        ]
        for p in self.procs:
            p.start()

    def go(self, a: tuple[str, dict[str, Any]], b: tuple[str, dict[str, Any]]) -> list[tuple[str, str]]:
        self.inboxes[0].put(a)
        self.inboxes[1].put(b)
        out = [box.get(timeout=120) for box in self.outboxes]
        crashes = [msg for kind, msg in out if kind == "CRASH"]
        assert not crashes, f"a racer crashed instead of getting a clear answer:\n{crashes[0]}"
        return out

    def close(self) -> None:
        for box in self.inboxes:
            box.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover
                p.kill()


@pytest.fixture
def racers(shared: Shared) -> Iterator[Racers]:
    r = Racers(shared)
    yield r
    r.close()


# ------------------------------------------------------------------------------ set-ups


def campaign(shared: Shared, brand: str, audience: str, *, submit: bool = True, approve_by: tuple[str, ...] = ()) -> tuple[int, list[Draft]]:
    from review.campaigns import create_campaign
    from review.checks import warning_ids
    from review.filling import FakeFiller
    from review.generation import generate_campaign
    from review.workflow import SIGNATURE_MEANINGS, approve, submit_ready

    shared.made += 1
    with shared.session() as s:
        maria = shared.user(s, "maria")
        camp = create_campaign(
            s, maria, name=f"race {shared.made}", template_version_id=shared.versions[brand], audience_id=shared.audiences[f"{brand}:{audience}"]
        )
        s.commit()
        camp_id = camp.id
    assert camp_id is not None
    if not submit:
        return camp_id, []
    generate_campaign(shared.engine, maria, camp_id, FakeFiller())
    with shared.session() as s:
        report = submit_ready(s, shared.user(s, "maria"), camp_id)
        assert not report.skipped, report.skipped
        s.commit()
        for d in drafts_of(s, camp_id):
            for name in approve_by:
                approve(
                    s,
                    shared.user(s, name),
                    d.id,  # type: ignore[arg-type]
                    password=race_worker.PASSWORDS[name],
                    meaning=SIGNATURE_MEANINGS[0],
                    acknowledged=warning_ids(d.findings),
                    expected_content_hash=d.content_hash,
                )
        s.commit()
        return camp_id, drafts_of(s, camp_id)


def drafts_of(s: Session, camp_id: int) -> list[Draft]:
    return list(s.exec(select(Draft).where(Draft.campaign_id == camp_id).order_by(col(Draft.id))).all())


def fresh(shared: Shared, draft_id: int) -> tuple[Draft, list[Approval], list[AuditEvent]]:
    with shared.session() as s:
        d = s.get(Draft, draft_id)
        assert d is not None
        valid = list(s.exec(select(Approval).where(Approval.draft_id == draft_id, Approval.valid == True)).all())  # noqa: E712
        events = list(s.exec(select(AuditEvent).where(AuditEvent.entity == "draft", AuditEvent.entity_id == str(draft_id)).order_by(col(AuditEvent.seq))).all())
        return d, valid, events


def assert_one_story(d: Draft, events: list[AuditEvent]) -> None:
    """The draft's status events chain: each starts where the last ended, along TRANSITIONS."""
    status = Status.CHECKED
    for ev in events:
        if ev.action in ("draft_generated", "draft_signed", "draft_edited", "draft_rechecked") or ev.action.startswith("assignment_"):
            continue  # (review assignments are recorded on the draft's trail too: review/assignments.py)
        before, after = (ev.before or {}).get("status"), (ev.after or {}).get("status")
        assert before == status, f"draft {d.id}: {ev.action} by {ev.actor} starts from {before}, but the draft was {status}"
        assert after in TRANSITIONS[status], f"draft {d.id}: {status} -> {after} is not a workflow step"
        status = after
    assert status == d.status, f"draft {d.id} is {d.status} but its audit story ends at {status}"


def assert_signed_what_it_shows(shared: Shared, d: Draft, valid: list[Approval]) -> None:
    """Approved means: enough valid signatures, all for this very revision and content."""
    if d.status != Status.APPROVED:
        return
    needed = 2 if d.campaign_id and _brand_of(shared, d) == "acme-pharma" else 1
    assert len({a.reviewer_id for a in valid}) >= needed
    for a in valid:
        assert a.revision == d.revision and a.manifest["content_hash"] == d.content_hash


def _brand_of(shared: Shared, d: Draft) -> str:
    from review.models import Brand, Campaign

    with shared.session() as s:
        camp = s.get(Campaign, d.campaign_id)
        assert camp is not None
        brand = s.get(Brand, camp.brand_id)
        assert brand is not None
        return brand.slug


def loser(outcomes: list[tuple[str, str]]) -> tuple[str, str]:
    kinds = [k for k, _ in outcomes]
    assert kinds.count("ok") == 1, f"expected exactly one winner, got {outcomes}"
    lost = outcomes[kinds.index("ok") ^ 1]
    assert lost[0] in LOSER_ERRORS, f"the loser got {lost}"
    return lost


def finish(shared: Shared) -> None:
    with shared.session() as s:
        report = audit.verify_chain(s)
    assert report.ok, str(report)


# --------------------------------------------------------------------------------- cases


@pytest.mark.parametrize("other", ["reject", "request_changes"])
def test_approve_racing_a_decision_has_one_outcome(shared: Shared, racers: Racers, other: str) -> None:
    _, drafts = campaign(shared, "acme-solo", "big")
    wins = {"approve": 0, other: 0}
    for d in drafts[:ROUNDS]:
        out = racers.go(("approve", {"draft": d.id, "user": "rita", "hash": d.content_hash}), (other, {"draft": d.id, "user": "rob"}))
        kind, msg = loser(out)
        won = "approve" if out[0][0] == "ok" else other
        wins[won] += 1
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert_one_story(after, events)
        if won == "approve":
            assert after.status == Status.APPROVED and len(valid) == 1 and "approved by rita" in msg
        else:
            assert after.status in (Status.REJECTED, Status.NEEDS_CHANGES) and valid == [] and "by rob" in msg
        assert_signed_what_it_shows(shared, after, valid)
    finish(shared)


@pytest.mark.parametrize("brand,signers", [("acme-pharma", 2), ("acme-solo", 1)])
def test_two_approvals_at_once(shared: Shared, racers: Racers, brand: str, signers: int) -> None:
    _, drafts = campaign(shared, brand, "big")
    for d in drafts[:ROUNDS]:
        out = racers.go(
            ("approve", {"draft": d.id, "user": "rita", "hash": d.content_hash}), ("approve", {"draft": d.id, "user": "rob", "hash": d.content_hash})
        )
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert after.status == Status.APPROVED, f"two valid signatures on a {signers}-signature brand left draft {d.id} {after.status}"
        assert sum(ev.action == "draft_approved" for ev in events) == 1
        if signers == 2:
            assert [k for k, _ in out] == ["ok", "ok"] and len(valid) == 2
        else:
            kind, msg = loser(out)
            assert len(valid) == 1 and "approved by" in msg
        assert_one_story(after, events)
        assert_signed_what_it_shows(shared, after, valid)
    finish(shared)


def test_approve_racing_an_edit_never_approves_unsigned_text(shared: Shared, racers: Racers) -> None:
    _, drafts = campaign(shared, "acme-solo", "big")
    for i, d in enumerate(drafts[:ROUNDS]):
        edit = ("edit", {"draft": d.id, "user": "maria", "slot": "closing", "text": f"Warm wishes from all of us, number {i}.", "revision": d.revision})
        out = racers.go(("approve", {"draft": d.id, "user": "rita", "hash": d.content_hash}), edit)
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert after.revision == d.revision + 1, "the edit must land whichever came first"
        if out[0][0] == "ok":  # signed first; the edit then voided it and sent the draft back
            assert after.status == Status.IN_REVIEW and valid == []
        else:  # edited first: the signature over the old text is refused
            assert out[0][0] == "Conflict" and "edited by maria" in out[0][1]
        assert_one_story(after, events)
        assert_signed_what_it_shows(shared, after, valid)
    finish(shared)


def test_reject_racing_request_changes(shared: Shared, racers: Racers) -> None:
    _, drafts = campaign(shared, "acme-solo", "big")
    for d in drafts[:ROUNDS]:
        out = racers.go(("reject", {"draft": d.id, "user": "rita"}), ("request_changes", {"draft": d.id, "user": "rob"}))
        loser(out)
        after, valid, events = fresh(shared, d.id)  # type: ignore[arg-type]
        assert after.status == (Status.REJECTED if out[0][0] == "ok" else Status.NEEDS_CHANGES)
        assert_one_story(after, events)
    finish(shared)


def test_edit_racing_edit(shared: Shared, racers: Racers) -> None:
    _, drafts = campaign(shared, "acme-solo", "big")
    for d in drafts[:ROUNDS]:
        mine = {"draft": d.id, "user": "maria", "slot": "closing", "revision": d.revision}
        out = racers.go(("edit", {**mine, "text": "Wishing you a calm season."}), ("edit", {**mine, "text": "With warm regards from the team."}))
        kind, msg = loser(out)
        assert "edited by maria" in msg
        after, _, events = fresh(shared, d.id)  # type: ignore[arg-type]
        won = "Wishing you a calm season." if out[0][0] == "ok" else "With warm regards from the team."
        assert after.revision == d.revision + 1 and after.slots["closing"] == won
        assert_one_story(after, events)
    finish(shared)


def test_two_exports_publish_once(shared: Shared, racers: Racers) -> None:
    for _ in range(ROUNDS):
        camp_id, drafts = campaign(shared, "acme-solo", "one", approve_by=("rita",))
        args = {"campaign": camp_id, "export_dir": str(shared.tmp / "exports")}
        out = racers.go(("publish", {**args, "user": "maria"}), ("publish", {**args, "user": "rita"}))
        kind, msg = loser(out)
        assert "already published" in msg
        with shared.session() as s:
            assert len(s.exec(select(Export).where(Export.campaign_id == camp_id)).all()) == 1
        for d in drafts:
            after, _, events = fresh(shared, d.id)  # type: ignore[arg-type]
            assert after.status == Status.PUBLISHED and sum(ev.action == "draft_published" for ev in events) == 1
            assert_one_story(after, events)
    finish(shared)


def test_two_generations_draft_each_variant_once(shared: Shared, racers: Racers) -> None:
    for _ in range(max(ROUNDS // 2, 3)):
        camp_id, _ = campaign(shared, "acme-solo", "big", submit=False)
        out = racers.go(("generate", {"campaign": camp_id, "user": "maria"}), ("generate", {"campaign": camp_id, "user": "maria"}))
        # Both join one job, or the later one finds nothing left to generate.
        assert "ok" in [k for k, _ in out] and all(k == "ok" or (k == "Conflict" and "nothing to generate" in m) for k, m in out), out
        with shared.session() as s:
            variants = s.exec(select(Variant.id).where(Variant.campaign_id == camp_id)).all()
            drafted = s.exec(select(Draft.variant_id).where(Draft.campaign_id == camp_id)).all()
            jobs = s.exec(select(GenerationJob).where(GenerationJob.campaign_id == camp_id)).all()
            finished = s.exec(select(AuditEvent).where(AuditEvent.action == "generation_finished", AuditEvent.entity_id == str(camp_id))).all()
        assert sorted(drafted) == sorted(variants), "every variant drafted exactly once"
        assert [(j.status, j.done, j.total) for j in jobs] == [("done", len(variants), len(variants))]
        assert len(finished) == 1
    finish(shared)
