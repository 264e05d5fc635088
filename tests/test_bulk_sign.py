"""Bulk signing (review.bulk_sign.approve_shown): each draft signed only as it was shown, one
refusal never stops the others, and every draft gets an outcome."""

from __future__ import annotations

import pytest
from sqlmodel import select

from review import audit
from review.bulk_sign import approve_shown, drafts_without_findings
from review.errors import AuthenticationError, PermissionDenied
from review.generation import generate_campaign
from review.models import Approval, Draft, Status
from review.workflow import SIGNATURE_MEANINGS, submit_for_review

MEANING = SIGNATURE_MEANINGS[0]


@pytest.fixture
def clean(world, fake_filler):  # type: ignore[no-untyped-def]
    """Three drafts in review with no findings (the brand needs two signatures)."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    ids = []
    for d in world.session.exec(select(Draft).where(Draft.campaign_id == world.campaign_id).order_by(Draft.id)).all()[:3]:
        d.findings, d.error_count, d.warning_count = [], 0, 0
        world.session.add(d)
        world.session.flush()
        submit_for_review(world.session, world.marketer, d.id)
        ids.append(d.id)
    world.session.commit()
    return ids


def _hashes(w, ids):  # type: ignore[no-untyped-def]
    return {i: w.session.get(Draft, i).content_hash for i in ids}


def test_each_draft_gets_an_outcome_and_a_stale_one_never_stops_the_rest(world, clean) -> None:  # type: ignore[no-untyped-def]
    shown = _hashes(world, clean)
    shown[clean[0]] = "0" * 64  # the sheet showed another text than the draft has now
    out = approve_shown(world.session, world.reviewer, shown, password=world.PASSWORDS["rita"], meaning=MEANING)
    world.session.commit()
    assert [(o.draft_id, o.signed) for o in out] == [(clean[0], False), (clean[1], True), (clean[2], True)]
    assert "changed while you were reviewing" in out[0].detail
    assert [o.detail for o in out[1:]] == ["signed (1 of 2 signatures)"] * 2
    signed = world.session.exec(select(Approval.draft_id).order_by(Approval.draft_id)).all()
    assert signed == clean[1:]
    assert audit.verify_chain(world.session).ok
    # Signing again: refused per draft (a refusal for the caller to record), the second reviewer completes them.
    again = approve_shown(world.session, world.reviewer, _hashes(world, clean[1:]), password=world.PASSWORDS["rita"], meaning=MEANING)
    assert all(not o.signed and isinstance(o.error, PermissionDenied) for o in again)
    done = approve_shown(world.session, world.reviewer2, _hashes(world, clean[1:]), password=world.PASSWORDS["rob"], meaning=MEANING)
    world.session.commit()
    assert [o.detail for o in done] == ["approved", "approved"]
    assert [world.session.get(Draft, i).status for i in clean] == [Status.IN_REVIEW, Status.APPROVED, Status.APPROVED]
    assert drafts_without_findings(world.session, world.reviewer, clean) == [clean[0]]


def test_wrong_password_or_role_refuses_the_whole_batch(world, clean) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthenticationError):
        approve_shown(world.session, world.reviewer, _hashes(world, clean), password="nope", meaning=MEANING)
    world.session.rollback()
    with pytest.raises(PermissionDenied, match="reviewer role"):
        approve_shown(world.session, world.admin, _hashes(world, clean), password=world.PASSWORDS["admin"], meaning=MEANING)
    world.session.rollback()
    assert not world.session.exec(select(Approval)).all()


def test_a_crash_mid_batch_undoes_the_whole_batch(world, clean, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Savepoints nest inside one real transaction (SQLite too): nothing is half-signed."""
    from review import bulk_sign

    real = bulk_sign.approve
    calls = []

    def flaky(session, actor, draft_id, **kw):  # type: ignore[no-untyped-def]
        calls.append(draft_id)
        if len(calls) == 2:
            raise RuntimeError("the machine fell over")
        return real(session, actor, draft_id, **kw)

    monkeypatch.setattr(bulk_sign, "approve", flaky)
    with pytest.raises(RuntimeError):
        approve_shown(world.session, world.reviewer, _hashes(world, clean), password=world.PASSWORDS["rita"], meaning=MEANING)
    world.session.rollback()
    assert world.session.exec(select(Approval)).all() == []
    assert all(world.session.get(Draft, i).status == Status.IN_REVIEW for i in clean)
    assert audit.verify_chain(world.session).ok


def test_a_draft_with_any_finding_is_never_signed_in_bulk(world, clean) -> None:  # type: ignore[no-untyped-def]
    from review.errors import NotReady

    flagged = world.session.get(Draft, clean[0])
    flagged.findings = [{"rule": "x.tone", "level": "suggestion", "message": "Consider a warmer tone."}]
    world.session.add(flagged)
    world.session.commit()
    assert drafts_without_findings(world.session, world.reviewer, clean) == clean[1:]
    out = approve_shown(world.session, world.reviewer, _hashes(world, clean), password=world.PASSWORDS["rita"], meaning=MEANING)
    world.session.commit()
    assert [(o.draft_id, o.signed) for o in out] == [(clean[0], False), (clean[1], True), (clean[2], True)]
    assert isinstance(out[0].error, NotReady) and out[0].detail == f"draft {clean[0]} has 1 finding(s); open it and approve it on its own"
    assert not world.session.exec(select(Approval).where(Approval.draft_id == clean[0])).all()
