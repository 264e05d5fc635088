"""Shared by tests/test_routing.py and tests/test_cli_review.py: the acme-pharma fixture brand with
a review plan, reviewers holding review roles, and one draft in review."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from review.auth import create_user
from review.checks import warning_ids
from review.generation import generate_campaign
from review.models import Approval, Draft, Role, Variant
from review.routing import set_review_roles
from review.workflow import SIGNATURE_MEANINGS, approve, submit_for_review

FIXTURES = Path(__file__).parent / "fixtures"
MEANING = SIGNATURE_MEANINGS[1]
SEQUENTIAL = """review:
  order: sequential
  steps:
    - {name: medical, role: medical, count: 1}
    - {name: legal, role: legal, count: 1}
    - {name: regulatory, role: regulatory, count: 1}
"""
PARALLEL = """review:
  order: parallel
  steps:
    - {name: compliance, role: compliance, count: 1}
    - {name: legal, role: legal, count: 1}
"""
PASSWORDS = {"vera": "vera-pass-1", "una": "una-pass-1"}


def brand_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, review_yaml: str | None) -> Path:
    """The fixture brands, copied, with acme-pharma's `approvals_required: 2` replaced by `review_yaml`."""
    brands = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", brands)
    if review_yaml is not None:
        path = brands / "acme-pharma" / "brand.yaml"
        source = path.read_text()
        assert "approvals_required: 2\n" in source
        path.write_text(source.replace("approvals_required: 2\n", review_yaml))
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(brands))
    return brands


def routed_world(build_world, fake_filler, roles: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """The conftest world plus reviewers vera and una (una holds no review role), the campaign
    generated, review roles given as `roles` says, and one personalized draft in review."""
    w = build_world()
    s = w.session
    w.vera = create_user(s, w.admin, username="vera", full_name="Vera Reviewer", role=Role.REVIEWER, password=PASSWORDS["vera"])
    w.una = create_user(s, w.admin, username="una", full_name="Una Reviewer", role=Role.REVIEWER, password=PASSWORDS["una"])
    s.commit()
    w.PASSWORDS = {**w.PASSWORDS, **PASSWORDS}
    people = {u.username: u for u in (w.reviewer, w.reviewer2, w.vera, w.una)}
    for name, held in roles.items():
        set_review_roles(s, w.admin, people[name].id, held)
    s.commit()
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    s.expire_all()
    drafts = s.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all()
    w.draft = next(d for d in drafts if s.get(Variant, d.variant_id).personalized)
    submit_for_review(s, w.marketer, w.draft.id)
    s.commit()
    return w


def sign(w, who, d: Draft, **kw) -> Approval:  # type: ignore[no-untyped-def]
    w.session.refresh(d)
    a = approve(
        w.session,
        who,
        d.id,
        password=w.PASSWORDS[who.username],
        meaning=MEANING,
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
        **kw,
    )
    w.session.commit()
    return a


def status(w) -> str:  # type: ignore[no-untyped-def]
    w.session.expire_all()
    return w.session.get(Draft, w.draft.id).status
