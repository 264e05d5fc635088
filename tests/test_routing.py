"""Routed review steps: brand.yaml's `review:` plan, review roles, and signatures routed onto steps.

The acme-pharma fixture brand is copied and given a plan per test (sequential medical → legal →
regulatory, or parallel compliance + legal); its legacy `approvals_required: 2` is covered too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from review import audit, db
from review.brands import BrandFileError, load_brand
from review.checks import warning_ids
from review.db import session_scope
from review.errors import Conflict, InvalidInput, NotFound, NotReady, PermissionDenied
from review.export import readiness, verify_campaign
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, Campaign, Draft, Status, User, UserReviewRole
from review.routing import (
    ReviewStep,
    eligible_reviewers,
    known_review_roles,
    open_steps,
    review_roles,
    set_review_roles,
    signable_steps,
    step_state,
    steps_for,
)
from review.workflow import approve, brand_policy, edit_draft, get_actions

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from routing_helpers import MEANING, PARALLEL, PASSWORDS, SEQUENTIAL, brand_with, routed_world, sign, status  # noqa: E402

# ------------------------------------------------------------------ brand.yaml


def _brand_dir(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "b"
    d.mkdir(parents=True, exist_ok=True)
    (d / "brand.yaml").write_text("name: B\nindustry: x\n" + body)
    return d


def test_the_plan_is_read_from_brand_yaml_and_the_legacy_key_is_one_step(tmp_path: Path) -> None:
    policy = load_brand(_brand_dir(tmp_path, SEQUENTIAL))
    assert policy.review_order == "sequential"
    assert steps_for(policy) == (ReviewStep("medical", "medical", 1, 0), ReviewStep("legal", "legal", 1, 1), ReviewStep("regulatory", "regulatory", 1, 2))
    assert policy.approvals_required == 3  # distinct signers in all
    legacy = load_brand(_brand_dir(tmp_path / "l", "approvals_required: 2\n"))
    assert steps_for(legacy) == (ReviewStep("review", "reviewer", 2, 0),)
    bare = load_brand(_brand_dir(tmp_path / "n", ""))
    assert steps_for(bare) == (ReviewStep("review", "reviewer", 1, 0),)


@pytest.mark.parametrize(
    "body,line,reason",
    [
        ("approvals_required: 2\n" + PARALLEL, 3, "give 'review' (steps) or 'approvals_required'"),
        ("review:\n  order: random\n  steps: [{name: a, role: a}]\n", 4, "'order' must be sequential or parallel"),
        ("review:\n  steps: []\n", 4, "'steps' must be a list"),
        ("review:\n  steps:\n    - {name: a, role: a}\n    - {name: a, role: b}\n", 6, "step name 'a' is used twice"),
        ("review:\n  steps:\n    - {name: a, role: a}\n    - {name: b, role: b, count: 9}\n", 6, "'count' must be a whole number from 1 to 5"),
        ("review:\n  steps:\n    - {name: a, role: Legal Team}\n", 5, "'role' must be a lower-case name"),
        ("review:\n  steps:\n    - {name: a, roles: a}\n", 5, "unknown key 'roles'"),
        ("review:\n  who: everyone\n  steps: [{name: a}]\n", 4, "unknown review key 'who'"),
        ("review: medical\n", 3, "'review' must be a mapping"),
    ],
)
def test_a_wrong_plan_names_the_file_and_line(tmp_path: Path, body: str, line: int, reason: str) -> None:
    d = _brand_dir(tmp_path, body)
    with pytest.raises(BrandFileError) as e:
        load_brand(d)
    assert e.value.line == line and reason in e.value.reason
    assert str(e.value).startswith(f"{d / 'brand.yaml'}:{line}: ")


def test_the_demo_brands_route_as_documented() -> None:
    root = Path(__file__).parent.parent / "brand_guidelines"
    pharma, bank, insurer = (load_brand(root / n) for n in ("vitalis-pharma", "northbank", "harbor-mutual"))
    assert (pharma.review_order, [(s.name, s.role) for s in steps_for(pharma)]) == (
        "sequential",
        [("medical", "medical"), ("legal", "legal"), ("regulatory", "regulatory")],
    )
    assert (bank.review_order, [(s.name, s.role) for s in steps_for(bank)]) == ("parallel", [("compliance", "compliance"), ("legal", "legal")])
    assert steps_for(insurer) == (ReviewStep("review", "reviewer", 1, 0),)


# ------------------------------------------------------------------ sequential


def test_a_sequential_pharma_draft_needs_medical_then_legal_then_regulatory(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    w = routed_world(build_world, fake_filler, {"rita": ["medical"], "rob": ["legal"], "vera": ["regulatory"]})
    s, d = w.session, w.draft
    assert [st.name for st in open_steps(s, d)] == ["medical"]
    assert [a.steps for a in get_actions(s, d, w.reviewer2) if a.name == "approve"] == []  # legal is not offered yet
    with pytest.raises(NotReady, match=f"draft {d.id} waits for the medical step; you hold legal"):
        sign(w, w.reviewer2, d)
    s.rollback()
    with pytest.raises(NotReady, match="waits for the medical step; the legal step comes after it"):
        sign(w, w.reviewer2, d, step="legal")
    s.rollback()
    assert [a.steps for a in get_actions(s, d, w.reviewer) if a.name == "approve"] == [("medical",)]
    first = sign(w, w.reviewer, d)
    assert first.step == "medical" and first.manifest["policy"]["step"] == {"name": "medical", "role": "medical", "count": 1}
    assert first.manifest["policy"]["review"]["order"] == "sequential"
    assert [x["name"] for x in first.manifest["policy"]["review"]["steps"]] == ["medical", "legal", "regulatory"]
    assert status(w) == Status.IN_REVIEW
    # The same person never signs a second step of the revision (even holding its role).
    set_review_roles(s, w.admin, w.reviewer.id, ["medical", "legal"])
    s.commit()
    with pytest.raises(PermissionDenied, match="already approved this revision \\(the medical step\\)"):
        sign(w, w.reviewer, d, step="legal")
    s.rollback()
    assert signable_steps(s, d, w.reviewer) == []
    sign(w, w.reviewer2, d)
    assert status(w) == Status.IN_REVIEW
    assert [st.name for st in open_steps(s, d)] == ["regulatory"]
    assert [(st.step.name, st.satisfied, st.open, [a.full_name for a in st.signers]) for st in step_state(s, d)] == [
        ("medical", True, False, ["Rita Reviewer"]),
        ("legal", True, False, ["Rob Reviewer"]),
        ("regulatory", False, True, []),
    ]
    sign(w, w.vera, d)
    assert status(w) == Status.APPROVED
    assert open_steps(s, d) == []
    events = s.exec(select(AuditEvent).where(AuditEvent.entity == "draft", AuditEvent.entity_id == str(d.id)).order_by(AuditEvent.seq)).all()
    assert [e.after.get("step") for e in events if e.action == "draft_signed"] == ["medical", "legal", "regulatory"]
    approved = [e for e in events if e.action == "draft_approved"]
    assert len(approved) == 1 and approved[0].actor == "vera" and "medical 1/1, legal 1/1, regulatory 1/1" in approved[0].after["reason"]
    assert audit.verify_chain(s).ok


def test_a_reviewer_without_the_role_is_refused_and_the_refusal_is_recorded(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    w = routed_world(build_world, fake_filler, {"rita": ["medical"], "rob": ["legal"]})
    d = w.draft
    assert signable_steps(w.session, d, w.una) == [] and "approve" not in {a.name for a in get_actions(w.session, d, w.una)}
    with pytest.raises(PermissionDenied, match="waits for the medical step; you hold no review role"), session_scope(w.engine) as s:
        approve(
            s,
            s.get(User, w.una.id),
            d.id,
            password=PASSWORDS["una"],
            meaning=MEANING,
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )
    with pytest.raises(PermissionDenied, match="the medical step of draft .* needs the medical review role; you hold legal"), session_scope(w.engine) as s:
        approve(
            s,
            s.get(User, w.reviewer2.id),
            d.id,
            password=w.PASSWORDS["rob"],
            meaning=MEANING,
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
            step="medical",
        )
    w.session.expire_all()
    refused = w.session.exec(select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.seq)).all()
    assert [(e.actor, e.entity, e.entity_id, e.after["attempted"]) for e in refused] == [
        ("una", "draft", str(d.id), "sign"),
        ("rob", "draft", str(d.id), "sign"),
    ]
    assert w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all() == []
    with pytest.raises(InvalidInput, match="has no review step 'finance'"):
        sign(w, w.reviewer, d, step="finance")


def test_an_edit_voids_every_step_and_the_plan_starts_again(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    w = routed_world(build_world, fake_filler, {"rita": ["medical"], "rob": ["legal"], "vera": ["regulatory"]})
    d = w.draft
    sign(w, w.reviewer, d)
    sign(w, w.reviewer2, d)
    slot = next(iter(d.slots))
    edit_draft(w.session, w.marketer, d.id, slots={slot: "We are here to help you plan your next visit."})
    w.session.commit()
    assert status(w) == Status.IN_REVIEW
    assert [(st.step.name, len(st.signers), st.open) for st in step_state(w.session, d)] == [
        ("medical", 0, True),
        ("legal", 0, False),
        ("regulatory", 0, False),
    ]


# ------------------------------------------------------------------ parallel


@pytest.mark.parametrize("first,second", [("rita", "rob"), ("rob", "rita")])
def test_parallel_steps_are_signed_in_any_order(build_world, fake_filler, tmp_path, monkeypatch, first: str, second: str) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, PARALLEL)
    w = routed_world(build_world, fake_filler, {"rita": ["compliance"], "rob": ["legal"]})
    who = {"rita": w.reviewer, "rob": w.reviewer2}
    assert [st.name for st in open_steps(w.session, w.draft)] == ["compliance", "legal"]
    sign(w, who[first], w.draft)
    assert status(w) == Status.IN_REVIEW
    sign(w, who[second], w.draft)
    assert status(w) == Status.APPROVED
    steps = {a.reviewer_id: a.step for a in w.session.exec(select(Approval).where(Approval.draft_id == w.draft.id)).all()}
    assert steps == {w.reviewer.id: "compliance", w.reviewer2.id: "legal"}


def test_a_reviewer_holding_both_parallel_roles_chooses_one_step_and_signs_only_one(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, PARALLEL)
    w = routed_world(build_world, fake_filler, {"rita": ["compliance", "legal"], "rob": ["legal"]})
    d = w.draft
    assert [a.steps for a in get_actions(w.session, d, w.reviewer) if a.name == "approve"] == [("compliance", "legal")]
    with pytest.raises(InvalidInput, match="may sign more than one step .*\\(compliance, legal\\); choose the step you sign"):
        sign(w, w.reviewer, d)
    w.session.rollback()
    sign(w, w.reviewer, d, step="legal")
    with pytest.raises(Conflict, match="the legal step of draft .* is already signed \\(1 of 1\\); draft .* waits for the compliance step"):
        sign(w, w.reviewer2, d, step="legal")
    w.session.rollback()
    with pytest.raises(PermissionDenied, match="already approved this revision"):
        sign(w, w.reviewer, d, step="compliance")
    w.session.rollback()
    # rob holds only legal, which is done: the draft waits for compliance, which nobody else holds.
    assert signable_steps(w.session, d, w.reviewer2) == []
    assert [u.username for u in eligible_reviewers(w.session, brand_policy_brand_id(w), ReviewStep("compliance", "compliance", 1, 0))] == ["rita"]
    set_review_roles(w.session, w.admin, w.vera.id, ["compliance"])
    w.session.commit()
    sign(w, w.vera, d)
    assert status(w) == Status.APPROVED


def brand_policy_brand_id(w) -> int:  # type: ignore[no-untyped-def]
    return w.session.get(Campaign, w.campaign_id).brand_id


# ------------------------------------------------------------------ legacy approvals_required


def test_legacy_approvals_required_is_one_step_of_any_reviewers(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, None)  # acme-pharma as shipped: approvals_required: 2
    w = routed_world(build_world, fake_filler, {})
    d = w.draft
    assert steps_for(brand_policy(w.session, d)) == (ReviewStep("review", "reviewer", 2, 0),)
    assert [a.steps for a in get_actions(w.session, d, w.una) if a.name == "approve"] == [("review",)]  # no review role needed
    sign(w, w.una, d)
    assert status(w) == Status.IN_REVIEW
    with pytest.raises(PermissionDenied, match="already approved"):
        sign(w, w.una, d)
    w.session.rollback()
    sign(w, w.reviewer, d)
    assert status(w) == Status.APPROVED
    assert {a.step for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all()} == {"review"}


# ------------------------------------------------------------------ roles


def test_review_roles_are_set_by_admins_only_and_every_change_is_audited(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    w = build_world()
    s = w.session
    with pytest.raises(PermissionDenied, match="needs the admin role"), session_scope(w.engine) as t:
        set_review_roles(t, t.get(User, w.reviewer.id), w.reviewer.id, ["medical"])
    assert review_roles(s, w.reviewer.id) == ()
    refused = s.exec(select(AuditEvent).where(AuditEvent.action == "refused")).all()
    assert [(e.actor, e.after["refusal"]) for e in refused] == [("rita", "PermissionDenied")]
    assert set_review_roles(s, w.admin, w.reviewer.id, [" Medical", "legal", "medical"]) == ("legal", "medical")
    s.commit()
    assert set_review_roles(s, w.admin, w.reviewer.id, ["medical", "legal"]) == ("legal", "medical")  # nothing changed, nothing recorded
    assert set_review_roles(s, w.admin, w.reviewer.id, ["regulatory", "medical"]) == ("medical", "regulatory")
    s.commit()
    events = s.exec(select(AuditEvent).where(AuditEvent.action == "review_roles_changed").order_by(AuditEvent.seq)).all()
    assert [(e.actor, e.entity_id, e.before["review_roles"], e.after["review_roles"], e.after["added"], e.after["removed"]) for e in events] == [
        ("admin", str(w.reviewer.id), [], ["legal", "medical"], ["legal", "medical"], []),
        ("admin", str(w.reviewer.id), ["legal", "medical"], ["medical", "regulatory"], ["regulatory"], ["legal"]),
    ]
    assert review_roles(s, w.reviewer.id) == ("medical", "regulatory")
    assert sorted(r.role for r in s.exec(select(UserReviewRole)).all()) == ["medical", "regulatory"]
    with pytest.raises(InvalidInput, match="only reviewers hold review roles"):
        set_review_roles(s, w.admin, w.marketer.id, ["legal"])
    with pytest.raises(InvalidInput, match="'reviewer' is not a review role to hold"):
        set_review_roles(s, w.admin, w.reviewer.id, ["reviewer"])
    with pytest.raises(InvalidInput, match="must be a lower-case name"):
        set_review_roles(s, w.admin, w.reviewer.id, ["legal; drop"])
    with pytest.raises(NotFound, match="user 999 not found"):
        set_review_roles(s, w.admin, 999, ["legal"])
    s.rollback()
    assert set_review_roles(s, w.admin, w.reviewer.id, []) == ()
    s.commit()
    assert audit.verify_chain(s).ok
    assert known_review_roles(s) == ("legal", "medical", "regulatory")


def test_eligible_reviewers_are_the_active_reviewers_holding_the_role(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review.auth import set_active

    brand_with(tmp_path, monkeypatch, SEQUENTIAL)
    w = routed_world(build_world, fake_filler, {"rita": ["legal"], "rob": ["legal"], "vera": ["medical"]})
    s = w.session
    brand_id = brand_policy_brand_id(w)
    legal = ReviewStep("legal", "legal", 1, 1)
    assert [u.username for u in eligible_reviewers(s, brand_id, legal)] == ["rita", "rob"]
    assert [u.username for u in eligible_reviewers(s, brand_id, ReviewStep("review", "reviewer", 1, 0))] == ["rita", "rob", "una", "vera"]
    set_active(s, w.admin, w.reviewer2.id, False)
    s.commit()
    assert [u.username for u in eligible_reviewers(s, brand_id, legal)] == ["rita"]
    with pytest.raises(NotFound, match="brand 999 not found"):
        eligible_reviewers(s, 999, legal)


def test_a_signer_who_loses_the_role_no_longer_counts_and_export_refuses(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, PARALLEL)
    w = routed_world(build_world, fake_filler, {"rita": ["compliance"], "rob": ["legal"]})
    s, d = w.session, w.draft
    sign(w, w.reviewer, d)
    sign(w, w.reviewer2, d)
    assert status(w) == Status.APPROVED
    camp = s.get(Campaign, w.campaign_id)
    this = [f for f in verify_campaign(s, camp, [s.get(Draft, d.id)]) if f"draft {d.id}" in f]
    assert this == []  # every step satisfied at the signed revision
    set_review_roles(s, w.admin, w.reviewer2.id, [])
    s.commit()
    states = step_state(s, d)
    assert [(st.step.name, st.satisfied) for st in states] == [("compliance", True), ("legal", False)]
    problems = verify_campaign(s, camp, [s.get(Draft, d.id)])
    assert f"draft {d.id}: the legal step has 0 of 1 valid signature(s) (review plan: compliance + legal)" in problems
    assert f"draft {d.id}: the legal step has 0 of 1 valid signature(s) (review plan: compliance + legal)" in readiness(s, w.campaign_id)


# ------------------------------------------------------------------ migration


def test_m009_upgrades_a_database_built_without_steps(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as c:  # approval as it was before m009, and no review roles
        c.execute(text("DROP TABLE userreviewrole"))
        c.execute(text("ALTER TABLE approval DROP COLUMN step"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm009_review_steps'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old', 'reviewer', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
    assert "step" not in {col["name"] for col in inspect(engine).get_columns("approval")}
    assert db.migrate(engine) == ["m009_review_steps"]
    assert "step" in {col["name"] for col in inspect(engine).get_columns("approval")}
    assert inspect(engine).has_table("userreviewrole")
    assert db.migrate(engine) == []
    from sqlmodel import Session

    with Session(engine) as s:  # the kept user can be given review roles in the new table
        old = s.exec(select(User).where(User.username == "old")).one()
        s.add(UserReviewRole(user_id=old.id, role="legal", granted_by=old.id))
        s.commit()
        assert review_roles(s, old.id) == ("legal",)


def test_m009_names_the_step_of_existing_signatures_review(world, fake_filler, sign_all) -> None:  # type: ignore[no-untyped-def]
    """Signatures given before steps existed satisfied the one-step plan: they become step 'review'."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    sign_all(world)
    engine = world.engine
    world.session.close()
    with engine.begin() as c:
        c.execute(text("ALTER TABLE approval DROP COLUMN step"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm009_review_steps'"))
        before = c.execute(text("SELECT COUNT(*) FROM approval")).scalar_one()
    assert before > 0
    assert db.migrate(engine) == ["m009_review_steps"]
    with engine.connect() as c:
        assert c.execute(text("SELECT DISTINCT step FROM approval")).scalars().all() == ["review"]
        assert c.execute(text("SELECT COUNT(*) FROM approval")).scalar_one() == before
    from sqlmodel import Session

    from review.models import Campaign as Camp

    with Session(engine) as s:  # the legacy plan still counts them: the campaign can ship
        camp = s.get(Camp, world.campaign_id)
        assert readiness(s, world.campaign_id) == []
        assert verify_campaign(s, camp, list(s.exec(select(Draft).where(Draft.campaign_id == world.campaign_id)).all())) == []


# ------------------------------------------------------------------ bulk signing


def test_bulk_signing_signs_the_one_step_each_reviewer_may_sign_and_skips_a_choice(build_world, fake_filler, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review.bulk_sign import approve_shown, drafts_without_findings
    from review.workflow import submit_for_review

    brand_with(tmp_path, monkeypatch, PARALLEL)
    w = routed_world(build_world, fake_filler, {"rita": ["compliance"], "vera": ["compliance", "legal"]})
    s = w.session
    ids = []
    for d in s.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all()[:3]:
        d.findings, d.error_count, d.warning_count = [], 0, 0
        s.add(d)
        s.flush()
        if d.status != Status.IN_REVIEW:
            submit_for_review(s, w.marketer, d.id)
        ids.append(d.id)
    s.commit()
    hashes = {i: s.get(Draft, i).content_hash for i in ids}
    out = approve_shown(s, w.reviewer, {i: hashes[i] for i in ids[:2]}, password=w.PASSWORDS["rita"], meaning=MEANING)
    s.commit()
    assert [(o.draft_id, o.signed, o.detail) for o in out] == [(i, True, "signed the compliance step (compliance 1/1, legal 0/1)") for i in ids[:2]]
    # vera holds both roles: on the first two only legal is open (she signs it), on the third she must choose.
    assert drafts_without_findings(s, w.vera, ids) == ids[:2]
    out = approve_shown(s, w.vera, hashes, password=w.PASSWORDS["vera"], meaning=MEANING)
    s.commit()
    assert [(o.signed, o.detail) for o in out[:2]] == [(True, "approved"), (True, "approved")]
    assert not out[2].signed and out[2].detail == f"you may sign more than one step of draft {ids[2]} (compliance, legal); open it and choose the step you sign"
    assert [s.get(Draft, i).status for i in ids] == [Status.APPROVED, Status.APPROVED, Status.IN_REVIEW]
    assert {a.step for a in s.exec(select(Approval).where(Approval.reviewer_id == w.vera.id)).all()} == {"legal"}
