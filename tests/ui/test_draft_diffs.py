"""Draft page, diffs: side by side against the last approved revision and, for a reviewer, the
revision they last signed; said plainly when there is none."""

from __future__ import annotations

import html

from ui_helpers import html_text, texts

from review.checks import warning_ids
from review.models import Status
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft
from ui.diff_panel import side_html

DRAFT_PAGE = "ui/pages/draft.py"
PASSWORD = {"rita": "rita-demo-pass", "rob": "rob-demo-pass"}


def shown_text(at) -> str:  # type: ignore[no-untyped-def]
    """Every visible text, as the browser shows it (escaped characters decoded)."""
    return html.unescape(texts(at))


def _open(app, username, draft_id):  # type: ignore[no-untyped-def]
    at = app(username, page=DRAFT_PAGE, query={"draft": str(draft_id)})
    assert at.title[0].value == f"Draft #{draft_id}" and not at.exception
    return at


def _sign(world, who: str, draft_id: int) -> None:  # type: ignore[no-untyped-def]
    d = world.draft(draft_id)
    with world.session() as s:
        approve(
            s,
            world.user(who),
            draft_id,
            password=PASSWORD[who],
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )
        s.commit()


def _edit(world, draft_id: int, slot: str, text: str) -> None:  # type: ignore[no-untyped-def]
    with world.session() as s:
        edit_draft(s, world.user("maria"), draft_id, slots={slot: text}, note="after approval")
        s.commit()


def test_no_approval_and_no_signature_are_said_plainly(app, world) -> None:  # type: ignore[no-untyped-def]
    d = world.drafts(Status.IN_REVIEW)[0]
    shown = shown_text(_open(app, "rita", d.id))
    assert "Changes since last approved: none to show, no revision of this draft has been approved yet." in shown
    assert "Changes since you last signed: none to show, you have not signed this draft." in shown
    assert "Changes since you last signed" not in texts(_open(app, "maria", d.id))  # authors do not sign


def test_changes_since_last_approved_and_since_you_signed_side_by_side(app, world) -> None:  # type: ignore[no-untyped-def]
    d = world.drafts(Status.IN_REVIEW)[0]
    slot = next(iter(d.slots))
    old_text = d.slots[slot]
    _sign(world, "rita", d.id)  # harbor-mutual needs one signature: approved at this revision
    approved_at = world.draft(d.id)
    assert approved_at.status == Status.APPROVED
    at = _open(app, "rita", d.id)
    assert f"No changes: revision {d.revision} is the text approved (signed by Rita Reviewer)." in shown_text(at)
    assert f"No changes: revision {d.revision} is the text you signed." in shown_text(at)
    new_text = "Thank you for being with us <all> of you & your family."
    _edit(world, d.id, slot, new_text)  # voids the approval, back to review
    at = _open(app, "rita", d.id)
    shown = shown_text(at)
    assert f"Changes since last approved (revision {d.revision})" in shown
    assert f"Changes since you last signed (revision {d.revision})" in shown
    assert f"Revision {d.revision} (signed by Rita Reviewer) on the left, revision {d.revision + 1} (now) on the right; 1 slot(s) changed." in shown
    sides = [m.value for m in at.markdown if 'class="cs-diff"' in m.value]
    assert len(sides) == 4  # old | new, for each of the two sections
    assert html_text(sides[0]) == old_text and html_text(sides[1]) == new_text  # each side reads exactly as its text
    assert "<ins" in sides[1] and "<all>" not in sides[1]
    rob = shown_text(_open(app, "rob", d.id))
    assert f"Changes since last approved (revision {d.revision})" in rob and "you have not signed this draft" in rob


def test_side_html_escapes_and_marks() -> None:
    from review.diffs import word_diff

    old, new = word_diff("Call *now* & save", "Call <b>today</b> & save")
    left, right = side_html(old), side_html(new)
    assert html_text(left) == "Call *now* & save" and html_text(right) == "Call <b>today</b> & save"
    assert "<b>" not in right and "<del" in left and "<ins" in right
    assert side_html([]).endswith("<em>(empty)</em></div>")
