"""The whole path with the real bundled model: campaign → generate → check → two approvals → export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from review import audit
from review.checks import warning_ids
from review.export import publish
from review.generation import generate_campaign, regenerate_verify
from review.models import Draft, Status, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, submit_for_review

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real_filler():  # type: ignore[no-untyped-def]
    from review.filling import load_filler

    return load_filler(None)


def test_real_model_campaign_to_export(world, real_filler, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = world
    result = generate_campaign(w.engine, w.marketer, w.campaign_id, real_filler)
    assert result.status == "done" and result.done == result.total == 4
    w.session.expire_all()
    drafts = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all()
    model_slots = 0
    for d in drafts:
        v = w.session.get(Variant, d.variant_id)
        assert d.model_fingerprint == real_filler.fingerprint and len(d.model_fingerprint) == 64
        for name, text in d.slots.items():
            assert text.strip()
            assert len(text.split()) <= 15  # the fixture template's max_words
            if v.personalized:
                assert d.slot_meta[name]["source"] in ("model", "fallback")
                model_slots += d.slot_meta[name]["source"] == "model"
            else:
                assert d.slot_meta[name]["source"] == "no_consent"
        if d.error_count:
            # A human fixes what the model got wrong; the model never gets the last word.
            fixes = {k: f"Hello from all of us, {v.inputs.get('city', 'friends')}." if k == "greeting" else "With best wishes from Acme." for k in d.slots}
            edit_draft(w.session, w.marketer, d.id, slots=fixes)
            w.session.commit()
        assert d.error_count == 0, d.findings
        submit_for_review(w.session, w.marketer, d.id)
        w.session.commit()
        for reviewer in (w.reviewer, w.reviewer2):
            approve(
                w.session,
                reviewer,
                d.id,
                password=w.PASSWORDS[reviewer.username],
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(d.findings),
                expected_content_hash=d.content_hash,
            )
            w.session.commit()
        assert d.status == Status.APPROVED
    assert model_slots > 0, "the real model should fill at least one slot"
    exp = publish(w.session, w.reviewer, w.campaign_id, tmp_path)
    w.session.commit()
    rows = [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 5 and all(len(r["approvals"]) == 2 for r in rows)
    assert audit.verify_chain(w.session).ok

    # An examiner can reproduce a generated draft from what was recorded.
    unedited = [d for d in drafts if d.revision == 1 and any(m.get("source") == "model" for m in d.slot_meta.values())]
    if unedited:
        report = regenerate_verify(w.session, unedited[0].id, real_filler)
        assert report.matches, str(report)
