"""Diffs: word by word, and against the last approved revision and the one the viewer last signed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select

from review.checks import warning_ids
from review.diffs import Segment, draft_diffs, last_approved_revision, slot_diff, word_diff
from review.errors import PermissionDenied
from review.generation import generate_campaign
from review.models import Draft, Status, User, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, submit_for_review

GREETING = "Hello to everyone in the north."


@pytest.fixture
def draft(world, fake_filler) -> Draft:  # type: ignore[no-untyped-def]
    """A personalized draft in review at revision 2 (known text)."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    s = world.session
    s.expire_all()
    drafts = s.exec(select(Draft).where(Draft.campaign_id == world.campaign_id).order_by(col(Draft.id))).all()
    d = next(d for d in drafts if s.get(Variant, d.variant_id).personalized)
    edit_draft(s, world.marketer, d.id, slots={"greeting": GREETING})  # type: ignore[arg-type]
    submit_for_review(s, world.marketer, d.id)  # type: ignore[arg-type]
    s.commit()
    return d


def sign(w, who: User, d: Draft) -> None:  # type: ignore[no-untyped-def]
    approve(
        w.session,
        who,
        d.id,  # type: ignore[arg-type]
        password=w.PASSWORDS[who.username],
        meaning=SIGNATURE_MEANINGS[0],
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
    )
    w.session.commit()


def edit(w, d: Draft, greeting: str) -> None:  # type: ignore[no-untyped-def]
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": greeting})  # type: ignore[arg-type]
    w.session.commit()


def marked(segments, kind: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.text for s in segments if s.kind == kind]


def test_word_diff_marks_changed_words_on_each_side() -> None:
    old, new = word_diff("Hello to the busiest city in Leeds.", "Hello to the largest town in Leeds!")
    assert marked(old, "removed") == ["busiest city", "."] and marked(new, "added") == ["largest town", "!"]
    assert marked(old, "same") == ["Hello to the ", " in Leeds"] == marked(new, "same")
    assert word_diff("same words", "same words") == ([Segment("same words", "same")], [Segment("same words", "same")])
    assert marked(word_diff("", "all new")[1], "added") == ["all new"] and word_diff("", "all new")[0] == []


@given(st.text(alphabet="ab .,\n", max_size=30), st.text(alphabet="ab .,\n", max_size=30))
def test_word_diff_sides_rebuild_each_text(old: str, new: str) -> None:
    left, right = word_diff(old, new)
    assert "".join(s.text for s in left) == old and "".join(s.text for s in right) == new
    assert {s.kind for s in left} <= {"same", "removed"} and {s.kind for s in right} <= {"same", "added"}
    assert "".join(s.text for s in left if s.kind == "same") == "".join(s.text for s in right if s.kind == "same")  # what both keep


def test_slot_diff_lists_only_changed_slots() -> None:
    diff = slot_diff({"a": "one", "b": "two"}, {"a": "one", "b": "three"})
    assert diff.splitlines()[:3] == ["@@ slot b @@", "- two", "+ three"] and "slot a" not in diff


def test_last_approved_revision_survives_an_edit_and_a_new_review(world, draft) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    assert last_approved_revision(s, draft) is None
    assert draft_diffs(s, world.marketer, draft.id).since_approved is None  # type: ignore[arg-type]
    sign(world, world.reviewer, draft)
    sign(world, world.reviewer2, draft)
    assert draft.status == Status.APPROVED and draft.revision == 2
    same = draft_diffs(s, world.marketer, draft.id).since_approved  # type: ignore[arg-type]
    assert same is not None and (same.base_revision, same.revision, same.changed) == (2, 2, False)
    edit(world, draft, "Hello to everyone in the sunny north.")  # voids both signatures, back to review
    assert draft.status == Status.IN_REVIEW and draft.revision == 3
    diffs = draft_diffs(s, world.marketer, draft.id)  # type: ignore[arg-type]
    since = diffs.since_approved
    assert since is not None and (since.base_revision, since.revision) == (2, 3)
    assert since.signed_by == ["Rita Reviewer", "Rob Reviewer"]  # voided since, still who approved it
    greeting = next(c for c in since.slots if c.slot == "greeting")
    assert (greeting.old, greeting.new, greeting.changed) == (GREETING, "Hello to everyone in the sunny north.", True)
    assert marked(greeting.new_segments, "added") == ["sunny "] and marked(greeting.old_segments, "removed") == []
    assert [c.slot for c in since.slots if not c.changed] == ["closing"]
    edit(world, draft, "Hello to everyone in the sunny north!")  # revision 4, still against revision 2
    since = draft_diffs(s, world.marketer, draft.id).since_approved  # type: ignore[arg-type]
    assert since is not None and (since.base_revision, since.revision) == (2, 4)
    sign(world, world.reviewer, draft)
    sign(world, world.reviewer2, draft)  # re-reviewed: revision 4 is now the approved one
    since = draft_diffs(s, world.marketer, draft.id).since_approved  # type: ignore[arg-type]
    assert since is not None and (since.base_revision, since.changed) == (4, False)


def test_since_you_last_signed_follows_each_reviewer(world, draft) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    assert draft_diffs(s, world.reviewer, draft.id).since_signed is None  # type: ignore[arg-type]
    sign(world, world.reviewer, draft)  # acme-pharma needs two: still in review
    edit(world, draft, "Hello, everyone in the north.")
    rita = draft_diffs(s, world.reviewer, draft.id)  # type: ignore[arg-type]
    assert rita.viewer_reviews and rita.since_approved is None
    assert rita.since_signed is not None and (rita.since_signed.base_revision, rita.since_signed.revision) == (2, 3)
    assert rita.since_signed.signed_by == ["Rita Reviewer"]
    greeting = next(c for c in rita.since_signed.slots if c.slot == "greeting")
    assert marked(greeting.old_segments, "removed") == [" to"] and marked(greeting.new_segments, "added") == [","]
    rob = draft_diffs(s, world.reviewer2, draft.id)  # type: ignore[arg-type]
    assert rob.viewer_reviews and rob.since_signed is None  # rob never signed it
    maria = draft_diffs(s, world.marketer, draft.id)  # type: ignore[arg-type]
    assert not maria.viewer_reviews and maria.since_signed is None
    sign(world, world.reviewer, draft)  # rita signs the new text: nothing since
    rita_now = draft_diffs(s, world.reviewer, draft.id).since_signed  # type: ignore[arg-type]
    assert rita_now is not None and (rita_now.base_revision, rita_now.changed) == (3, False)


def test_an_inactive_user_reads_no_diff(world, draft) -> None:  # type: ignore[no-untyped-def]
    world.reviewer.active = False
    with pytest.raises(PermissionDenied, match="deactivated"):
        draft_diffs(world.session, world.reviewer, draft.id)  # type: ignore[arg-type]
