"""Retiring a claim re-checks the drafts that used it and sends approved ones back to review."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from review.checks import warning_ids
from review.claims import retire_claim
from review.errors import InvalidTransition, NotFound, PermissionDenied, WorkflowError
from review.generation import generate_campaign
from review.models import Approval, Comment, Draft, Status, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, submit_for_review

FIXTURES = Path(__file__).parent / "fixtures"
CLAIMS = """# Approved claims (test copy)
- id: AC-1
  wording: "Trusted by 2 million patients"
  reference: "Patient survey 2024"
  status: active   # reviewed yearly
- id: AC-2
  wording: "Rated best pharmacy app 2023"
  status: retired
"""


@pytest.fixture
def claims_world(tmp_path, monkeypatch, build_world):  # type: ignore[no-untyped-def]
    root = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", root)
    (root / "acme-pharma" / "claims.yaml").write_text(CLAIMS, encoding="utf-8")
    (root / "acme-pharma" / "rules" / "claims.yaml").write_text("extends: claims\nlevel: error\nscope: slot\n", encoding="utf-8")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    return build_world(), root


def test_retiring_a_used_claim_sends_approved_drafts_back(claims_world, fake_filler) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    w.session.expire_all()
    drafts = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all()
    user, other = [d for d in drafts if w.session.get(Variant, d.variant_id).personalized][:2]
    edit_draft(w.session, w.marketer, user.id, slots={"closing": "Trusted by 2 million patients."})
    assert any(f.get("claim_id") == "AC-1" and f["level"] == "suggestion" for f in user.findings)
    assert user.error_count == 0
    for d in (user, other):
        submit_for_review(w.session, w.marketer, d.id)
        for r in (w.reviewer, w.reviewer2):
            approve(
                w.session,
                r,
                d.id,
                password=w.PASSWORDS[r.username],
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(d.findings),
                expected_content_hash=d.content_hash,
            )
    w.session.commit()
    assert user.status == other.status == Status.APPROVED

    with pytest.raises(PermissionDenied):
        retire_claim(w.session, w.marketer, "acme-pharma", "AC-1", reason="evidence expired")
    with pytest.raises(NotFound):
        retire_claim(w.session, w.reviewer, "acme-pharma", "AC-9", reason="evidence expired")
    with pytest.raises(WorkflowError, match="already retired"):
        retire_claim(w.session, w.reviewer, "acme-pharma", "AC-2", reason="evidence expired")
    result = retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    w.session.commit()

    assert result.drafts_rechecked == 1 and result.drafts_changed == [user.id]
    text = (root / "acme-pharma" / "claims.yaml").read_text()
    assert "status: retired   # reviewed yearly" in text and text.startswith("# Approved claims")
    # An error may never sit in review: the draft goes back to its author with a system comment.
    assert user.status == Status.NEEDS_CHANGES and user.error_count == 1
    assert any(f.get("claim_id") == "AC-1" and f["level"] == "error" for f in user.findings)
    assert all(not a.valid for a in w.session.exec(select(Approval).where(Approval.draft_id == user.id)).all())
    note = w.session.exec(select(Comment).where(Comment.draft_id == user.id, Comment.kind == "system")).one()
    assert "claim AC-1 retired" in note.text and "error" in note.text
    assert other.status == Status.APPROVED  # never used the claim
    with pytest.raises(InvalidTransition, match="sent back for changes by rita"):
        approve(
            w.session,
            w.reviewer,
            user.id,
            password=w.PASSWORDS["rita"],
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(user.findings),
            expected_content_hash=user.content_hash,
        )


def test_a_rolled_back_retirement_leaves_the_claims_file_as_it_was(claims_world) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    path = root / "acme-pharma" / "claims.yaml"
    before = path.read_text()
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert path.read_text() != before
    w.session.rollback()
    assert path.read_text() == before
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    w.session.commit()
    w.session.rollback()  # a later rollback does not undo a committed retirement
    assert "retired" in path.read_text() and path.read_text() != before
