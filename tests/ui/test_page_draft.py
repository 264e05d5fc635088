"""Draft page: the message with slots and findings marked, history, and each decision."""

from __future__ import annotations

import html
import json
import re
import string
from pathlib import Path

from sqlmodel import select
from ui_helpers import PASSWORDS, errors, html_text, texts

from review.checks import warning_ids
from review.models import Approval, Comment, Draft, Export, Status
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, request_changes, submit_for_review

DRAFT_PAGE = "ui/pages/draft.py"


def _in_review(world, *, with_warnings: bool | None = None):
    drafts = world.drafts(Status.IN_REVIEW)
    if with_warnings is not None:
        drafts = [d for d in drafts if bool(d.warning_count) == with_warnings] or drafts
    assert drafts, "the demo seeds drafts in review"
    return drafts[0]


def open_draft(app, username, draft_id):
    at = app(username, page=DRAFT_PAGE, query={"draft": str(draft_id)})
    assert at.title[0].value == f"Draft #{draft_id}"
    return at


def test_reviewer_sees_message_findings_inputs_and_history(app, world):
    d = _in_review(world, with_warnings=True)
    at = open_draft(app, "rita", d.id)
    html = "\n".join(m.value for m in at.markdown)
    assert "<mark" in html  # slot text highlighted
    for text in d.slots.values():
        assert text.split()[0][:4] in html
    assert at.button(key="approve_btn") and at.button(key="reject_btn") and at.button(key="request_changes_btn")
    assert not [b for b in at.button if b.key == "edit_save"]  # reviewers do not edit
    shown = texts(at)
    assert "Rendered for sample recipient" in shown
    assert any("Inputs the model saw" in df.value.columns for df in at.dataframe)
    assert any("slots." in c.value for c in at.code)  # the template's fixed copy


def test_approve_with_signature(app, world):
    d = _in_review(world, with_warnings=True)
    at = open_draft(app, "rita", d.id)
    n_warn = d.warning_count
    # Wrong password: refused in plain words, nothing signed.
    at.selectbox(key="approve_meaning").select(SIGNATURE_MEANINGS[2])
    for i in range(n_warn):
        at.checkbox(key=f"ack_{i}").check()
    at.text_input(key="approve_password").input("wrong-password")
    at.button(key="approve_btn").click().run()
    assert not at.exception
    assert errors(at) == ["Signature refused: the password does not match."]
    assert world.draft(d.id).status == Status.IN_REVIEW
    assert [(e.actor, e.entity_id, e.after["attempted"]) for e in world.events("refused")] == [("rita", str(d.id), "sign")]
    if n_warn:
        # Warnings not acknowledged: refused.
        at.text_input(key="approve_password").input(PASSWORDS["rita"])
        at.button(key="approve_btn").click().run()
        assert not at.exception
        assert any("acknowledge each warning" in e for e in errors(at))
        assert world.draft(d.id).status == Status.IN_REVIEW
    # Everything right: signed.
    at.selectbox(key="approve_meaning").select(SIGNATURE_MEANINGS[2])
    for i in range(n_warn):
        at.checkbox(key=f"ack_{i}").check()
    at.text_input(key="approve_password").input(PASSWORDS["rita"])
    at.button(key="approve_btn").click().run()
    assert not at.exception, at.exception
    assert not errors(at)
    assert any("signed by Rita Reviewer" in s.value for s in at.success)
    assert world.draft(d.id).status == Status.APPROVED
    with world.session() as s:
        appr = s.exec(select(Approval).where(Approval.draft_id == d.id)).one()
    assert appr.meaning == SIGNATURE_MEANINGS[2] and appr.full_name == "Rita Reviewer" and appr.valid
    assert len(appr.acknowledged) == n_warn
    assert [e.entity_id for e in world.events("draft_signed")] == [str(d.id)]
    assert not [b for b in at.button if b.key == "approve_btn"]  # nothing left to sign


def test_approve_refused_when_draft_changed_meanwhile(app, world):
    d = _in_review(world, with_warnings=False)
    at = open_draft(app, "rita", d.id)
    with world.session() as s:  # maria edits while rita reads
        name = next(iter(d.slots))
        edit_draft(s, world.user("maria"), d.id, slots={name: "Thanks for staying with Harbor Mutual."}, note="tweak")
        s.commit()
    for i in range(d.warning_count):
        at.checkbox(key=f"ack_{i}").check()
    at.text_input(key="approve_password").input(PASSWORDS["rita"])
    at.button(key="approve_btn").click().run()
    assert not at.exception
    assert errors(at), "a stale signature must be refused"
    assert not world.events("draft_signed")


def test_request_changes_needs_a_comment(app, world):
    d = _in_review(world)
    at = open_draft(app, "rita", d.id)
    at.button(key="request_changes_btn").click().run()
    assert not at.exception
    assert errors(at) == ["Requesting changes needs a comment saying why"]
    assert world.draft(d.id).status == Status.IN_REVIEW
    at.text_area(key="request_changes_comment").input("Please make the opening less effusive.")
    at.button(key="request_changes_btn").click().run()
    assert not at.exception
    assert world.draft(d.id).status == Status.NEEDS_CHANGES
    with world.session() as s:
        c = s.exec(select(Comment).where(Comment.draft_id == d.id)).one()
    assert c.kind == "request_changes" and "effusive" in c.text
    assert [e.entity_id for e in world.events("draft_needs_changes")] == [str(d.id)]
    assert "effusive" in texts(at)  # shown in the draft's history


def test_reject_with_comment(app, world):
    d = _in_review(world)
    at = open_draft(app, "rita", d.id)
    at.text_area(key="reject_comment").input("Off-brand: not salvageable.")
    at.button(key="reject_btn").click().run()
    assert not at.exception
    assert world.draft(d.id).status == Status.REJECTED
    assert world.events("draft_rejected")
    assert not [b for b in at.button if b.key in ("approve_btn", "reject_btn")]


def test_marketer_edits_with_live_check_and_resubmits(app, world):
    d = _in_review(world)
    with world.session() as s:
        request_changes(s, world.user("rita"), d.id, comment="Shorter, please.")
        s.commit()
    at = open_draft(app, "maria", d.id)
    assert not [b for b in at.button if b.key == "approve_btn"]
    name = next(iter(d.slots))
    _editor(at, name).input("Thank you for being with us.").run()
    assert not at.exception
    assert "Live check of your edit" in texts(at)
    next(t for t in at.text_input if t.label.startswith("Note for the history")).input("shorter opening")
    at.button(key="edit_save").click().run()
    assert not at.exception, at.exception
    after = world.draft(d.id)
    assert after.revision == d.revision + 1 and after.slots[name] == "Thank you for being with us."
    assert world.events("draft_edited")
    if after.error_count == 0:
        at.button(key="submit_btn").click().run()
        assert not at.exception
        assert world.draft(d.id).status == Status.IN_REVIEW
    shown = texts(at)
    assert "revision" in shown


def test_hostile_slot_text_is_escaped(app, world):
    d = _in_review(world)
    with world.session() as s:
        draft = s.get(type(d), d.id)
        name = next(iter(draft.slots))
        draft.slots = {**draft.slots, name: '<script>alert("x")</script> <img src=x onerror=alert(1)> **bold** [link](http://evil)'}
        s.add(draft)
        s.commit()
    at = open_draft(app, "rita", d.id)
    html = "\n".join(m.value for m in at.markdown)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    assert "**bold**" not in html  # markdown syntax neutralised too


def test_unknown_draft_is_a_plain_error(app, world):
    at = app("rita", page=DRAFT_PAGE, query={"draft": "99999"})
    assert errors(at) == ["draft 99999 not found"]


def test_findings_are_marked_on_their_span():
    from ui.highlight import message_html

    findings = [
        {
            "rule": "r.slot",
            "level": "warning",
            "message": "Avoid <hype>",
            "match": "best",
            "span": [4, 8],
            "scope": "slot",
            "slot": "opening",
            "suggestion": "good",
        },
        {"rule": "r.msg", "level": "error", "message": "No promises", "match": "Dear", "span": [0, 4], "scope": "message", "slot": None},
    ]
    out = message_html("Hi", ("Dear A,\n", "\nBye"), ("opening",), {"opening": "the best cover"}, findings)  # fmt: skip
    assert out.count("<mark") == 3  # the slot, split around its finding
    warning = out.split('title="2. Avoid &lt;hype&gt; — try: good">', 1)[1]
    assert warning.startswith("<mark") and warning.split("</span>", 1)[0].endswith(">best</mark>")  # on the slot's own span
    assert 'title="1. No promises">Dear</span>' in out  # error on message coordinates
    assert "<br>" in out and "<hype>" not in out


# ' " & < > and non-ASCII, markup and Markdown: all must reach the reviewer exactly as they ship.
SHIPPING_SLOT = 'The UK\'s "home" plan & more, <b>not bold</b> *as is* [x](y) :red[z] — café ✓ a > b.'
SHIPPING_COMMENT = "Don't say \"home\" & <i>mind</i> the UK's rules: **no** hype — merci, José."


def test_escape_is_one_pass_and_round_trips():
    from ui.highlight import esc

    for text in (SHIPPING_SLOT, SHIPPING_COMMENT, string.printable, "&#x27; &amp; $x$ :smile: <script>alert(1)</script>", "Zürich – “quoted” ✓ 漢字"):
        out = esc(text)
        assert html.unescape(out.replace("<br>", "\n")) == text.replace("\r\n", "\n").replace("\r", "\n")
        bare = re.sub(r"&(#\d+|[a-z]+);|<br>", "", out)  # nothing but entities may carry a special character
        assert not set(bare) & set("<>&\"'\\`*_{}[]()#+-.!|~$:"), (text, out)


def test_message_pane_text_is_the_shipping_text():
    from ui.highlight import message_html

    finding = {"rule": "r", "level": "warning", "message": "names 'UK's'", "match": "UK's", "scope": "slot", "slot": "opening"}
    finding["span"] = [SHIPPING_SLOT.index("UK's"), SHIPPING_SLOT.index("UK's") + 4]
    out = message_html("Hi & <b>you</b>", ("Dear A'b,\n\n", "\nBye."), ("opening",), {"opening": SHIPPING_SLOT}, [finding])
    assert html_text(out) == "Subject: Hi & <b>you</b>" + "Dear A'b,\n\n" + SHIPPING_SLOT + "\nBye."
    assert "<b>" not in out and "<i>" not in out  # markup in a slot stays text
    assert "UK&#39;s</mark></span>" in out  # the finding still marks its own span


def _publish_with(world, draft_id: int, slot_text: str, comment: str) -> dict:
    """rita asks for changes, maria writes `slot_text`, every draft is signed and the campaign
    published: returns the export's row for the draft's sample recipient."""
    rita, maria = world.user("rita"), world.user("maria")
    with world.session() as s:
        request_changes(s, rita, draft_id, comment=comment)
        d = s.get(Draft, draft_id)
        edit_draft(s, maria, draft_id, slots={next(iter(d.slots)): slot_text}, note="as asked")
        submit_for_review(s, maria, draft_id)
        for other in s.exec(select(Draft).where(Draft.campaign_id == d.campaign_id)).all():
            if other.status == Status.CHECKED:  # the demo's rules may block a draft; clear it so the campaign can ship
                other.findings, other.error_count, other.warning_count = [], 0, 0
                s.add(other)
                s.flush()
                submit_for_review(s, maria, other.id)
            approve(
                s,
                rita,
                other.id,
                password=PASSWORDS["rita"],
                meaning=SIGNATURE_MEANINGS[0],
                acknowledged=warning_ids(other.findings),
                expected_content_hash=other.content_hash,
            )
        s.commit()
        from review.export import publish

        exp = publish(s, maria, d.campaign_id, export_dir=world.path.parent / "exports")
        s.commit()
        exp = s.get(Export, exp.id)
        from review.models import Recipient, Variant

        sample = s.get(Recipient, s.get(Variant, d.variant_id).sample_recipient_id).external_id
    rows = [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]
    return next(r for r in rows if r["recipient_id"] == sample)


def test_signed_pane_shows_exactly_the_exported_characters(app, world):
    d = _in_review(world)
    row = _publish_with(world, d.id, SHIPPING_SLOT, SHIPPING_COMMENT)
    assert SHIPPING_SLOT in row["body"]
    at = open_draft(app, "rita", d.id)
    [pane] = [m.value for m in at.markdown if 'class="cs-message"' in m.value]
    assert html_text(pane) == f"Subject: {row['subject']}" + row["body"]
    shown = [html_text(m.value) for m in at.markdown]
    assert any(SHIPPING_COMMENT in t for t in shown)  # the reviewer's comment, as written
    assert any("UK's" in t and "grounding" in t for t in shown)  # a finding quoting the text
    assert not [t for t in shown if "&#" in t or "&amp;" in t]
    assert "<b>" not in pane and "<i>" not in "\n".join(m.value for m in at.markdown)  # still inert


def _editor(at, slot: str):
    """The edit box of one slot (its key names the revision it was filled from)."""
    return next(t for t in at.text_area if t.label.startswith(f"{slot} ("))


def _regenerate(at, world, monkeypatch, draft_id: int, slot: str, text: str) -> str:
    from review.filling import FakeFiller
    from ui import common

    monkeypatch.setattr(common, "get_filler", lambda: FakeFiller([text] * 16))  # the model's every candidate
    at.selectbox(key="regen_slot").select(slot)
    at.button(key="regen_btn").click().run()
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    return world.draft(draft_id).slots[slot]


def test_regenerate_then_edit_another_slot_keeps_the_regenerated_text(app, world, monkeypatch):
    d = _in_review(world)
    first, second = list(d.slots)
    at = open_draft(app, "maria", d.id)
    regenerated = _regenerate(at, world, monkeypatch, d.id, first, "We are glad you chose Harbor Mutual.")
    assert regenerated == "We are glad you chose Harbor Mutual."
    assert _editor(at, first).value == regenerated  # the editor shows the current revision
    _editor(at, second).input("Keep receipts for valuable items somewhere safe.").run()
    assert not at.exception
    at.button(key="edit_save").click().run()
    assert not at.exception, at.exception
    after = world.draft(d.id)
    assert after.slots == {first: regenerated, second: "Keep receipts for valuable items somewhere safe."}
    assert after.revision == d.revision + 2
    assert _editor(at, first).value == regenerated and _editor(at, second).value == after.slots[second]


def test_editor_follows_an_edit_made_elsewhere(app, world):
    d = _in_review(world)
    first, second = list(d.slots)
    at = open_draft(app, "maria", d.id)
    with world.session() as s:  # someone else saves a new revision while the page is open
        edit_draft(s, world.user("admin"), d.id, slots={first: "Thanks for staying with Harbor Mutual."}, note="elsewhere")
        s.commit()
    at.run()
    assert _editor(at, first).value == "Thanks for staying with Harbor Mutual."
    _editor(at, second).input("Keep receipts for valuable items somewhere safe.").run()
    at.button(key="edit_save").click().run()
    assert not at.exception, at.exception
    assert world.draft(d.id).slots[first] == "Thanks for staying with Harbor Mutual."


def test_needs_changes_shows_the_request_first_and_resubmitting_is_the_quiet_action(app, world):
    d = _in_review(world)
    with world.session() as s:
        request_changes(s, world.user("rita"), d.id, comment=SHIPPING_COMMENT)
        s.commit()
    at = open_draft(app, "maria", d.id)
    banner = at.warning[0].value  # the first thing under the title
    assert html.unescape(banner).count(SHIPPING_COMMENT) == 1 and "rita asked for changes" in banner
    assert "Not changed since" in banner
    submit = at.button(key="submit_btn")
    assert submit.label == "Resubmit unchanged" and submit.proto.type == "secondary"
    assert at.button(key="edit_save").proto.type == "primary"
    # The editor comes before the resubmit button.
    keys = [b.key for b in at.button]
    assert keys.index("edit_save") < keys.index("submit_btn")
    first = next(iter(d.slots))
    _editor(at, first).input("Thank you for being with us.").run()
    at.button(key="edit_save").click().run()
    assert not at.exception, at.exception
    assert "Changed since (now revision" in at.warning[0].value
    assert at.button(key="submit_btn").label == "Resubmit for review"
    at.button(key="submit_btn").click().run()
    assert world.draft(d.id).status == Status.IN_REVIEW
    assert not [w for w in at.warning if "asked for changes" in w.value]  # back in review: no banner


def test_resubmitting_unchanged_needs_a_reply_to_the_reviewer(app, world):
    d = _in_review(world)
    with world.session() as s:
        request_changes(s, world.user("rita"), d.id, comment=SHIPPING_COMMENT)
        s.commit()
    at = open_draft(app, "maria", d.id)
    at.button(key="submit_btn").click().run()
    assert not at.exception
    assert any("has not changed since" in e for e in errors(at))
    assert world.draft(d.id).status == Status.NEEDS_CHANGES
    at.text_area(key=f"submit_reply_{d.id}_{d.revision}").input("The greeting already names the city; kept as is.").run()
    at.button(key="submit_btn").click().run()
    assert not at.exception, at.exception
    assert world.draft(d.id).status == Status.IN_REVIEW


def test_text_typed_over_a_revision_someone_else_replaced_is_not_lost(app, world):
    d = _in_review(world)
    at = open_draft(app, "maria", d.id)
    first = next(iter(d.slots))
    _editor(at, first).input("Thank you for being with us.").run()
    with world.session() as s:  # admin edits the same draft meanwhile
        edit_draft(s, world.user("admin"), d.id, slots={first: "Thanks for staying with us."})
        s.commit()
    at.button(key="edit_save").click().run()
    assert not at.exception
    assert world.draft(d.id).slots[first] == "Thanks for staying with us."  # nothing saved over it
    assert any("changed to revision 2 while you were editing" in w.value and "Thank you for being with us." in html_text(w.value) for w in at.warning), [
        w.value for w in at.warning
    ]
    assert _editor(at, first).value == "Thanks for staying with us."  # the editor shows the new text


def _forms(node):
    """The form blocks of an AppTest element tree (their protos)."""
    from streamlit.testing.v1.element_tree import Block

    for child in getattr(node, "children", {}).values():
        if isinstance(child, Block) and child.type == "form":
            yield child.proto
        yield from _forms(child)


def test_sign_form_keeps_meaning_and_acknowledgements_after_an_error(app, world):
    """A refused signature (wrong password) leaves the chosen meaning and the ticked warnings as
    they were, so the reviewer retypes only the password; the password box starts empty."""
    d = _in_review(world)
    maria = world.user("maria")
    with world.session() as s:  # exclamation marks: a warning to acknowledge
        name = next(iter(d.slots))
        edit_draft(s, maria, d.id, slots={name: d.slots[name] + " Thanks! Truly! Yes!"}, expected_revision=d.revision)
        s.commit()
    d = world.draft(d.id)
    assert d.status == Status.IN_REVIEW and d.warning_count, d.findings
    at = open_draft(app, "rita", d.id)
    # A browser empties a clear_on_submit form after every submit, refused or not (AppTest does
    # not imitate that, so the flag itself is checked).
    assert [f.form.clear_on_submit for f in _forms(at._tree) if f.form.form_id.startswith("approve_form_")] == [False]
    at.selectbox(key="approve_meaning").select(SIGNATURE_MEANINGS[2])
    for i in range(d.warning_count):
        at.checkbox(key=f"ack_{i}").check()
    at.text_input(key="approve_password").input("wrong-password")
    at.button(key="approve_btn").click().run()
    assert not at.exception
    assert errors(at) == ["Signature refused: the password does not match."]
    assert at.selectbox(key="approve_meaning").value == SIGNATURE_MEANINGS[2]
    assert [at.checkbox(key=f"ack_{i}").value for i in range(d.warning_count)] == [True] * d.warning_count
    assert at.text_input(key="approve_password").value == ""
    # Only the password retyped: signed, with the meaning and acknowledgements kept from before.
    at.text_input(key="approve_password").input(PASSWORDS["rita"])
    at.button(key="approve_btn").click().run()
    assert not at.exception and not errors(at)
    assert world.draft(d.id).status == Status.APPROVED
    with world.session() as s:
        appr = s.exec(select(Approval).where(Approval.draft_id == d.id)).one()
    assert appr.meaning == SIGNATURE_MEANINGS[2] and len(appr.acknowledged) == d.warning_count


def test_sign_form_choices_do_not_carry_to_another_draft(app, world):
    """Choices kept after a refusal belong to that draft's text: the next draft's form starts empty."""
    first, second = world.drafts(Status.IN_REVIEW)[:2]
    at = open_draft(app, "rita", first.id)
    at.selectbox(key="approve_meaning").select(SIGNATURE_MEANINGS[2])
    at.text_input(key="approve_password").input("wrong-password")
    at.button(key="approve_btn").click().run()
    assert errors(at) and at.selectbox(key="approve_meaning").value == SIGNATURE_MEANINGS[2]
    at.query_params["draft"] = str(second.id)
    at.session_state["draft_id"] = second.id
    at.run()
    assert at.title[0].value == f"Draft #{second.id}"
    assert at.selectbox(key="approve_meaning").value == SIGNATURE_MEANINGS[0]
    assert not errors(at)


def test_each_slot_says_why_it_reads_as_it_does_and_an_all_approved_draft_says_so(app, world):
    drafts = world.drafts(Status.IN_REVIEW)
    sources = {d.id: {m.get("source") for m in d.slot_meta.values()} for d in drafts}
    approved = next(d for d in drafts if sources[d.id] <= {"alternative", "base", "fallback", "no_consent"} and "base" in sources[d.id])
    at = open_draft(app, "rita", approved.id)
    assert not at.exception
    assert "No model-written text: every slot is approved or human-written." in [s.value for s in at.success]
    shown = html.unescape("\n".join(m.value for m in at.markdown))
    # The tip is an approved alternative picked by policy type; the opening kept its approved base.
    assert "tip**: Approved alternative 1 of 4, no model text: the only alternative whose conditions hold." in shown
    assert "The approved base sentence, unchanged: none of the 4 candidates qualified" in shown
    assert "(rule adapt.new_fact)" in shown and "Dropped candidate 1" in shown
    assert any("Mode" in df.value.columns for df in at.dataframe)

    written = next(d for d in drafts if "model" in sources[d.id])
    at = open_draft(app, "rita", written.id)
    shown = html.unescape("\n".join(m.value for m in at.markdown))
    assert "The model wrote it: candidate" in shown and "won with score" in shown and "start +10.00" in shown
    assert "No model-written text" not in [s.value for s in at.success]
