"""Retiring a claim re-checks the drafts that used it and sends approved ones back to review."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from review import claims
from review.checks import warning_ids
from review.claims import Claim, read_claims, retire_claim
from review.errors import ConfigError, Conflict, InvalidTransition, NotFound, PermissionDenied, WorkflowError
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, Comment, Draft, Status, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, recheck_drafts, submit_for_review

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


def test_the_file_changes_only_when_the_retirement_commits(claims_world) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    path = root / "acme-pharma" / "claims.yaml"
    before = path.read_bytes()
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert path.read_bytes() == before  # staged in the transaction, not yet written
    w.session.rollback()
    assert path.read_bytes() == before
    assert not w.session.exec(select(AuditEvent).where(AuditEvent.action == "claim_retired")).all()
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    w.session.commit()
    w.session.rollback()  # a later rollback does not undo a committed retirement
    assert path.read_text() == before.decode().replace("status: active   #", "status: retired   #")


def test_a_rollback_after_a_retirement_that_rechecked_drafts_leaves_file_and_drafts_as_they_were(claims_world, fake_filler) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    path = root / "acme-pharma" / "claims.yaml"
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    w.session.expire_all()
    draft = next(d for d in w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id)).all() if w.session.get(Variant, d.variant_id).personalized)
    edit_draft(w.session, w.marketer, draft.id, slots={"closing": "Trusted by 2 million patients."})
    w.session.commit()
    before, findings = path.read_bytes(), list(draft.findings)
    result = retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert result.drafts_changed == [draft.id] and draft.error_count == 1  # re-checked against the staged file
    w.session.rollback()
    assert path.read_bytes() == before
    w.session.expire_all()
    assert w.session.get(Draft, draft.id).findings == findings
    # the rules in use are the file's again: a fresh check still finds the claim active
    assert w.session.get(Draft, draft.id).error_count == 0
    assert recheck_drafts(w.session, w.reviewer, [draft.id], reason="nothing changed") == []


def test_two_retirements_in_one_transaction_are_written_together(claims_world) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    path = root / "acme-pharma" / "claims.yaml"
    path.write_text(CLAIMS + '- id: AC-3\n  wording: "Pharmacists on call"\n  status: active\n', encoding="utf-8")
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-3", reason="service ended")
    with pytest.raises(Conflict, match="already retired"):  # the second sees the first, staged
        retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="again")
    w.session.commit()
    text = path.read_text()
    assert text.count("status: retired") == 3 and "status: active" not in text


def test_the_brand_folder_stays_locked_until_the_file_is_written(claims_world) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    folder = root / "acme-pharma"

    def try_lock() -> bool:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(fd)

    before = (folder / "claims.yaml").read_bytes()
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert not try_lock()
    w.session.close()  # a session closed without committing lets go, and writes nothing
    assert try_lock() and (folder / "claims.yaml").read_bytes() == before
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert not try_lock()  # another process's retirement would wait, then read the written file
    w.session.commit()
    assert try_lock() and "status: retired   #" in (folder / "claims.yaml").read_text()


def test_a_file_write_that_fails_after_the_commit_is_reported(claims_world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    path = root / "acme-pharma" / "claims.yaml"
    before = path.read_bytes()

    def full_disk(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(claims.os, "replace", full_disk)
        retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")
        with pytest.raises(ConfigError, match="committed .* could not be written .*No space left on device") as e:
            w.session.commit()
    assert str(path) in str(e.value)
    assert path.read_bytes() == before and not list(path.parent.glob(".claims-*"))
    w.session.rollback()
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "claim_retired")).one().entity_id == "acme-pharma/AC-1"
    retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="written by hand failed; again")  # the folder was let go
    w.session.commit()
    assert "status: retired   #" in path.read_text()


def test_a_broken_claims_file_is_named_with_its_line(claims_world) -> None:  # type: ignore[no-untyped-def]
    w, root = claims_world
    (root / "acme-pharma" / "claims.yaml").write_text(CLAIMS + "- id: AC-3\n  wording: x\n  status: paused\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"claims.yaml:11: status of claim 3 must be active or retired"):
        retire_claim(w.session, w.reviewer, "acme-pharma", "AC-1", reason="survey older than 12 months")


def test_claims_parse_into_typed_claims_and_problems_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(CLAIMS, encoding="utf-8")
    claims_, problems = read_claims(path)
    assert problems == [] and claims_ == (
        Claim("AC-1", "Trusted by 2 million patients", "Patient survey 2024", "active"),
        Claim("AC-2", "Rated best pharmacy app 2023", "", "retired"),
    )
    path.write_text("claims:\n  - id: A\n    wording: w\n    refrence: r\n  - id: B\n    wording: v\n  - id: B\n    wording: u\n", encoding="utf-8")
    claims_, problems = read_claims(path)
    assert [(p.line, p.reason) for p in problems] == [
        (4, "unknown key 'refrence' in claim 1 (did you mean 'reference'?)"),
        (7, "duplicate claim id 'B'"),
    ]


def test_session_scope_reports_a_failed_write_instead_of_masking_it(claims_world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review.auth import authenticate
    from review.db import session_scope

    w, root = claims_world
    w.session.close()
    monkeypatch.setattr(claims.os, "replace", lambda *_a: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(ConfigError, match="could not be written .*Permission denied"), session_scope(w.engine) as s:
        retire_claim(s, authenticate(s, "rita", w.PASSWORDS["rita"]), "acme-pharma", "AC-1", reason="survey older than 12 months")
    assert "status: active" in (root / "acme-pharma" / "claims.yaml").read_text()
