"""Review queue: sorted by risk, filters, pagination, opening a draft, bulk approval."""

from __future__ import annotations

from ui_helpers import PASSWORDS, errors, html_text

from review.models import Status
from review.workflow import SIGNATURE_MEANINGS, edit_draft


def _rows(at):
    table = next(df for df in at.dataframe if "Risk" in df.value.columns)
    return table.value


def test_queue_lists_pending_drafts_riskiest_first(app, world):
    at = app("rita")
    assert at.title[0].value == "Review queue"
    rows = _rows(at)
    pending = world.drafts(Status.IN_REVIEW)
    assert len(rows) == len(pending)
    assert set(rows["Draft"]) == {d.id for d in pending}
    by_id = {d.id: d for d in pending}
    risk = [(-by_id[i].error_count, -by_id[i].warning_count, -by_id[i].fallback_count) for i in rows["Draft"]]
    assert risk == sorted(risk)
    assert (rows["Recipients"] > 0).all()
    assert f"{len(pending)} draft(s)" in at.caption[0].value


def test_filters_by_status_and_campaign(app, world):
    at = app("rita")
    at.multiselect(key="queue_status").set_value([Status.APPROVED]).run()
    assert not at.exception
    assert not [df for df in at.dataframe if "Risk" in df.value.columns]
    assert any("Nothing waiting" in i.value for i in at.info)
    at.multiselect(key="queue_status").set_value([Status.IN_REVIEW])
    camp = at.selectbox(key="queue_campaign")
    camp.select(camp.options[1]).run()  # the demo campaign
    assert not at.exception
    assert len(_rows(at)) == len(world.drafts(Status.IN_REVIEW))


def test_open_draft_from_queue(app, world):
    at = app("rita")
    first = int(_rows(at)["Draft"].iloc[0])
    at.selectbox(key="queue_open_id").set_value(first)
    at.button(key="queue_open").click().run()
    assert not at.exception
    assert at.title[0].value == f"Draft #{first}"


def test_pagination(app, world):
    at = app("rita")
    at.selectbox(key="queue_page_size").set_value(10).run()
    page1 = list(_rows(at)["Draft"])
    assert len(page1) == 10
    at.button(key="queue_next").click().run()
    assert not at.exception
    page2 = list(_rows(at)["Draft"])
    assert page2 and not set(page1) & set(page2)
    at.button(key="queue_prev").click().run()
    assert list(_rows(at)["Draft"]) == page1


def _make_clean(world, n=2):
    """Make sure exactly n drafts in review have no findings at all (test set-up)."""
    ids = []
    with world.session() as s:
        for i, d in enumerate(world.drafts(Status.IN_REVIEW)):
            d = s.merge(d)
            if i < n:
                d.findings, d.error_count, d.warning_count = [], 0, 0
                ids.append(d.id)
            elif not d.findings:
                d.findings = [{"rule": "test.note", "level": "suggestion", "message": "a note", "match": "", "span": None, "scope": "message", "slot": None}]
            s.add(d)
        s.commit()
    return ids


def _open_sheet(at, ids):
    assert at.pills(key="bulk_ids").value == []  # nothing is chosen for the reviewer
    assert at.button(key="bulk_review").disabled
    at.pills(key="bulk_ids").set_value(ids).run()
    at.button(key="bulk_review").click().run()
    assert not at.exception, at.exception
    return at


def _sheet_messages(at):
    return [html_text(m.value) for m in at.markdown if 'class="cs-message"' in m.value]


def test_bulk_signing_starts_empty_and_shows_every_message_in_full(app, world):
    clean = _make_clean(world)
    at = app("rita")
    assert sorted(at.pills(key="bulk_ids").options) == sorted(f"#{i}" for i in clean)
    _open_sheet(at, clean)
    messages = _sheet_messages(at)
    assert len(messages) == len(clean)
    for draft_id, text in zip(clean, messages, strict=True):
        d = world.draft(draft_id)
        assert text.startswith("Subject: ") and all(slot in text for slot in d.slots.values())
        assert any(f"Draft #{draft_id}" in m.value for m in at.markdown)
    # A wrong password refuses the whole batch once, plainly; the sheet stays.
    at.selectbox(key="bulk_meaning").select(SIGNATURE_MEANINGS[0])
    at.text_input(key="bulk_password").input("wrong-password")
    at.button(key="bulk_submit").click().run()
    assert not at.exception
    assert errors(at) == ["Nothing was signed: Signature refused: the password does not match."]
    assert all(world.draft(i).status == Status.IN_REVIEW for i in clean)
    assert len(world.events("refused")) == 1
    assert len(_sheet_messages(at)) == len(clean)
    at.text_input(key="bulk_password").input(PASSWORDS["rita"])
    at.button(key="bulk_submit").click().run()
    assert not at.exception
    assert all(world.draft(i).status == Status.APPROVED for i in clean)
    signed = world.events("draft_signed")
    assert sorted(int(e.entity_id) for e in signed) == sorted(clean)  # one signature each
    assert [s.value for s in at.success] == ["Signed: " + "; ".join(f"#{i} (approved)" for i in clean)]
    assert not _sheet_messages(at)  # nothing left to decide: the sheet closed, the report stays


def test_bulk_signing_refuses_a_draft_edited_after_it_was_shown_and_signs_the_rest(app, world):
    clean = _make_clean(world, 3)
    at = app("rita")
    _open_sheet(at, clean)
    first = clean[0]
    before = _sheet_messages(at)[0]
    with world.session() as s:  # maria edits the first draft while rita reads the sheet
        d = world.draft(first)
        edit_draft(s, world.user("maria"), first, slots={next(iter(d.slots)): "Thanks for staying with Harbor Mutual."}, note="tweak")
        s.commit()
    at.text_input(key="bulk_password").input(PASSWORDS["rita"])
    at.button(key="bulk_submit").click().run()
    assert not at.exception
    assert sorted(int(e.entity_id) for e in world.events("draft_signed")) == sorted(clean[1:])  # continued past the failure
    assert world.draft(first).status == Status.IN_REVIEW
    assert errors(at) == [
        f"Draft #{first} not signed: draft {first} changed while you were reviewing it (last edited by maria a moment ago, now revision 2); "
        "review the new text before signing"
    ]
    assert any(all(f"#{i} (approved)" in s.value for i in clean[1:]) for s in at.success)
    [after] = _sheet_messages(at)  # only the refused draft is left on the sheet, with its new text
    assert after != before and "Thanks for staying with Harbor Mutual." in after
    with world.session() as s:
        from review.audit import verify_chain

        assert verify_chain(s).ok


def test_admin_sees_queue_but_cannot_sign(app, world):
    clean = _make_clean(world, 1)
    at = app("admin")
    assert at.title[0].value == "Review queue"
    _open_sheet(at, clean)
    at.text_input(key="bulk_password").input(PASSWORDS["admin"])
    at.button(key="bulk_submit").click().run()
    assert not at.exception
    assert errors(at) == ["Nothing was signed: admin is a admin; this needs the reviewer role."]
    assert world.draft(clean[0]).status == Status.IN_REVIEW


def test_marketer_is_refused_by_the_service(app, world):
    """A marketer has no queue page; the service refuses even if a page called it."""
    from review.dashboard import queue_page
    from review.errors import PermissionDenied
    from review.queue import QueueFilter

    with world.session() as s:
        try:
            queue_page(s, world.user("maria"), QueueFilter())
        except PermissionDenied as e:
            assert "reviewer or admin" in str(e)
        else:
            raise AssertionError("marketers must not read the review queue")
