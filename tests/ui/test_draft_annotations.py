"""Draft page, annotations: a reviewer annotates words in a slot (picking the occurrence when they
repeat), the author sees them highlighted beside the comment, replies and resolves, and every
piece of text is escaped exactly once."""

from __future__ import annotations

from sqlmodel import col, select
from ui_helpers import errors, html_text, texts

from review.annotations import annotate
from review.models import Annotation, AnnotationReply, Status
from review.workflow import edit_draft, request_changes
from ui.annotation_panel import annotated_html

DRAFT_PAGE = "ui/pages/draft.py"
TEXT = "Thanks for being with us. We are glad you chose us, and we hope you stay."


def _prepared(world):  # type: ignore[no-untyped-def]
    """A draft in review whose first slot reads TEXT (edited by maria), and that slot's name."""
    d = world.drafts(Status.IN_REVIEW)[0]
    slot = next(iter(d.slots))
    with world.session() as s:
        edit_draft(s, world.user("maria"), d.id, slots={slot: TEXT}, note="known text")
        s.commit()
    d = world.draft(d.id)
    assert d.status == Status.IN_REVIEW and d.error_count == 0, d.findings
    return d, slot


def _open(app, username, draft_id):  # type: ignore[no-untyped-def]
    at = app(username, page=DRAFT_PAGE, query={"draft": str(draft_id)})
    assert at.title[0].value == f"Draft #{draft_id}"
    return at


def _markdown(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(m.value for m in at.markdown)


def _annotations(world, draft_id):  # type: ignore[no-untyped-def]
    with world.session() as s:
        return list(s.exec(select(Annotation).where(Annotation.draft_id == draft_id).order_by(col(Annotation.id))).all())


def test_a_reviewer_annotates_the_occurrence_they_pick(app, world) -> None:  # type: ignore[no-untyped-def]
    d, slot = _prepared(world)
    at = _open(app, "rita", d.id)
    assert "Annotations" in texts(at)
    at.selectbox(key="ann_new_slot_0").select(slot).run()
    assert TEXT in html_text(_markdown(at))  # the slot's text is shown above the box
    at.text_input(key="ann_new_words_0").input("  you ").run()  # pasted with stray spaces
    assert not at.exception, at.exception
    radio = at.radio(key="ann_new_occurrence_0")
    assert "occur 2 times" in radio.label and len(radio.options) == 2  # each occurrence shown in its context
    assert "glad \\[you\\] chose" in radio.options[0] and "hope \\[you\\] stay" in radio.options[1]
    radio.set_value(2)
    at.text_area(key="ann_new_comment_0").input("Say who 'you' <means> & why.")
    at.button(key="ann_add").click().run()
    assert not at.exception, at.exception
    assert not errors(at)
    (ann,) = _annotations(world, d.id)
    assert (ann.slot, ann.quote, ann.start_offset, ann.state) == (slot, "you", TEXT.rindex("you"), "open")
    assert [e.entity_id for e in world.events("annotation_created")] == [str(d.id)]
    shown = _markdown(at)
    assert 'title="annotation 1 (open)"' in shown
    assert "Requesting changes sends the 1 open annotation(s) to the author with your comment" in texts(at)
    # The comment reads exactly as typed: escaped once, never shown as entities or markup.
    assert "Say who 'you' <means> & why." in html_text(shown)
    assert "<means>" not in shown and "&#x27;" not in html_text(shown)
    # The form starts again from empty boxes for the next annotation.
    assert at.text_input(key="ann_new_words_1").value == ""


def test_words_not_in_the_slot_are_a_plain_error_and_nothing_is_added(app, world) -> None:  # type: ignore[no-untyped-def]
    d, slot = _prepared(world)
    at = _open(app, "rita", d.id)
    at.selectbox(key="ann_new_slot_0").select(slot).run()
    at.text_input(key="ann_new_words_0").input("leaving us").run()
    assert not at.exception
    assert errors(at) == [f"the words 'leaving us' do not occur in slot '{slot}'; copy them exactly from the slot text shown"]
    assert at.button(key="ann_add").disabled
    assert _annotations(world, d.id) == []


def test_the_author_sees_the_span_and_comment_then_replies_and_resolves(app, world) -> None:  # type: ignore[no-untyped-def]
    d, slot = _prepared(world)
    with world.session() as s:
        ann = annotate(s, world.user("rita"), d.id, slot=slot, words="glad", comment="Is 'glad' on-brand? <b>check</b>")
        request_changes(s, world.user("rita"), d.id, comment="See the annotation.")
        s.commit()
        ann_id = ann.id
    at = _open(app, "maria", d.id)
    assert not [b for b in at.button if b.key == "ann_add"]  # authors do not annotate
    shown = _markdown(at)
    at_glad = TEXT.index("glad")
    expected = annotated_html(TEXT, [(at_glad, at_glad + 4, 1, "open")])
    assert expected in shown  # the span highlighted in the slot text
    assert "Is 'glad' on-brand? <b>check</b>" in html_text(shown) and "<b>check</b>" not in shown
    assert {b.key for b in at.button if b.key and b.key.startswith("ann_")} == {f"ann_reply_{ann_id}", f"ann_resolve_{ann_id}"}
    at.button(key=f"ann_reply_{ann_id}").click().run()  # an empty reply is refused in plain words
    assert errors(at) == ["A reply cannot be empty"]
    at.text_area(key=f"ann_text_{ann_id}_0").input("Yes: the brand voice allows it.")
    at.button(key=f"ann_reply_{ann_id}").click().run()
    assert not at.exception, at.exception
    assert world.events("annotation_replied") and _annotations(world, d.id)[0].state == "answered"
    assert "Yes: the brand voice allows it." in html_text(_markdown(at))
    assert at.text_area(key=f"ann_text_{ann_id}_1").value == ""  # the box is empty again
    at.button(key=f"ann_resolve_{ann_id}").click().run()
    assert not at.exception, at.exception
    assert _annotations(world, d.id)[0].state == "resolved"
    with world.session() as s:
        kinds = s.exec(select(AnnotationReply.kind).where(AnnotationReply.annotation_id == ann_id).order_by(col(AnnotationReply.id))).all()
    assert kinds == ["reply", "resolve"]
    assert 'title="annotation 1 (resolved)"' in _markdown(at)


def test_a_stale_page_is_told_who_acted_first(app, world) -> None:  # type: ignore[no-untyped-def]
    d, slot = _prepared(world)
    with world.session() as s:
        ann = annotate(s, world.user("rita"), d.id, slot=slot, words="glad", comment="Too casual?")
        s.commit()
        ann_id = ann.id
    at = _open(app, "rob", d.id)  # rob reads it open; maria answers meanwhile
    from review.annotations import reply

    with world.session() as s:
        reply(s, world.user("maria"), ann_id, text="It is the brand's word.")
        s.commit()
    at.text_area(key=f"ann_text_{ann_id}_0").input("Agree with Rita.")
    at.button(key=f"ann_reply_{ann_id}").click().run()
    assert not at.exception
    (msg,) = errors(at)
    assert "was answered by maria a moment ago and is answered now (you saw it open); reload to see it" in msg
    assert _annotations(world, d.id)[0].state == "answered" and len(world.events("annotation_replied")) == 1
    assert at.text_area(key=f"ann_text_{ann_id}_0").value == "Agree with Rita."  # what rob typed is kept
    at.button(key=f"ann_reply_{ann_id}").click().run()  # now he has seen the answer: his reply goes through
    assert not errors(at) and len(world.events("annotation_replied")) == 2


def test_annotated_html_escapes_once_and_numbers_overlapping_spans() -> None:
    markup = annotated_html("a <b> & 'c' d", [(0, 7, 1, "open"), (4, 13, 2, "resolved")])
    assert html_text(markup) == "a <b> & 'c' d"
    assert "<b>" not in markup and "&#x27;" not in html_text(markup)
    assert markup.count("<sup") == 2 and markup.index("[1]") < markup.index("[2]")
    assert markup.count('title="annotation 2 (resolved)"') == 2  # the overlap is wrapped in both marks


def test_an_annotation_on_text_edited_meanwhile_is_refused(app, world) -> None:  # type: ignore[no-untyped-def]
    d, slot = _prepared(world)
    at = _open(app, "rita", d.id)
    at.selectbox(key="ann_new_slot_0").select(slot).run()
    at.text_input(key="ann_new_words_0").input("glad").run()
    at.text_area(key="ann_new_comment_0").input("Too casual for us.")
    with world.session() as s:  # maria edits while rita reads
        edit_draft(s, world.user("maria"), d.id, slots={slot: TEXT.replace("glad", "very glad")}, note="warmer")
        s.commit()
    at.button(key="ann_add").click().run()
    assert not at.exception
    (msg,) = errors(at)
    assert f"edited by maria a moment ago and is in_review (now revision {d.revision + 1}, you read revision {d.revision})" in msg
    assert _annotations(world, d.id) == []
