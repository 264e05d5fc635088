"""The draft page's annotations: each slot's text with the annotated words highlighted and the
comments beside it, each thread with the actions this user may take, and, for a reviewer of a
draft in review, the form that makes a new annotation.

Streamlit cannot report a text selection without a custom component, so the reviewer picks the
slot, sees its text, and types or pastes the exact words; the service finds them (and asks which
occurrence when they occur more than once). What may be done comes from
review.annotation_views (the services check it again under the draft's lock); this module only
draws it. Every piece of text is escaped once, by ui.highlight.esc, before any tag is added.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from review.annotation_views import AnnotationItem, AnnotationsView, draft_annotations
from review.annotations import annotate, find_words, reopen, reply, resolve, short
from review.models import User
from review.views import DraftView
from ui import common
from ui.highlight import esc

STATE_LABEL = {"open": "open", "answered": "answered", "resolved": "resolved"}
STATE_BADGE = {"open": "orange", "answered": "blue", "resolved": "green"}
STATE_STYLE = {
    "open": "background:#fff1cc;border-bottom:2px solid #b26a00;",
    "answered": "background:#e3f2fd;border-bottom:2px solid #1565c0;",
    "resolved": "background:#edf7ee;border-bottom:2px dotted #2e7d32;",
}
ACTION_LABEL = {"reply": "Reply", "resolve": "Resolve", "reopen": "Reopen"}
KIND_VERB = {"reply": "replied", "resolve": "resolved", "reopen": "reopened"}
TEXT_STYLE = "border:1px solid #d0d7de;border-radius:6px;padding:0.6em 0.9em;background:#ffffff;color:#1f2328;line-height:1.6;white-space:pre-wrap"
_LABEL_SPECIAL = "\\`*_{}[]()#+-.!|~$:<>"


def plain_label(text: str) -> str:
    """Text for a widget label (Markdown without HTML): every Markdown character kept literal."""
    return "".join(f"\\{c}" if c in _LABEL_SPECIAL else c for c in " ".join(text.split()))


def annotated_html(text: str, spans: Sequence[tuple[int, int, int, str]]) -> str:
    """A slot's text as HTML with each (start, end, number, state) span highlighted and numbered.
    Spans may overlap; text is escaped piece by piece, once, before any tag is added."""
    size = len(text)
    marks = [(max(0, min(a, size)), max(0, min(b, size)), n, state) for a, b, n, state in spans if a < b]
    points = sorted({0, size, *(p for a, b, _, _ in marks for p in (a, b))})
    out: list[str] = []
    for a, b in zip(points, points[1:], strict=False):
        piece = esc(text[a:b])
        for start, end, n, state in sorted(marks, key=lambda m: (m[0], -m[1])):
            if start <= a and b <= end:
                title = html.escape(f"annotation {n} ({STATE_LABEL.get(state, state)})", quote=True)
                piece = f'<mark style="{STATE_STYLE.get(state, "")}" title="{title}">{piece}</mark>'
        out.append(piece)
        out.extend(f'<sup style="color:#555;font-size:0.7em">[{n}]</sup>' for start, end, n, _ in marks if end == b)
    return f'<div class="cs-annotated" style="{TEXT_STYLE}">{"".join(out)}</div>'


def render(user: User, v: DraftView) -> None:
    """The annotations panel for one draft (nothing when there are none and none can be made)."""
    out = common.call(draft_annotations, user, v.draft.id)
    if not out.ok:
        return
    view: AnnotationsView = out.value
    if not view.items and not view.can_annotate:
        return
    st.subheader("Annotations")
    counts = {state: sum(1 for a in view.items if a.state == state) for state in STATE_LABEL}
    st.caption(
        " · ".join(f"{n} {STATE_LABEL[s]}" for s, n in counts.items()) + ". Open annotations must be answered or resolved before the draft can be resubmitted."
    )
    if view.can_annotate and view.open_count:
        st.caption(f"Requesting changes sends the {view.open_count} open annotation(s) to the author with your comment; approving does not resolve them.")
    for slot, text in view.slots.items():
        items = view.for_slot(slot)
        if not items:
            continue
        st.markdown(f"**Slot {esc(slot)}**", unsafe_allow_html=True)
        left, right = st.columns([3, 2], gap="medium")
        left.markdown(annotated_html(text, [(a.start, a.end, a.number, a.state) for a in items if not a.outdated]), unsafe_allow_html=True)
        with right:
            for item in items:
                _card(user, view, item)
    if view.can_annotate:
        _new_annotation(user, view)


def _card(user: User, view: AnnotationsView, a: AnnotationItem) -> None:
    with st.container(border=True, key=f"annotation_{a.id}"):
        st.markdown(
            f"**[{a.number}]** :{STATE_BADGE.get(a.state, 'gray')}-badge[{STATE_LABEL.get(a.state, a.state)}] “{esc(a.quote)}” · "
            f"{esc(a.by)} · revision {a.revision} · {common.fmt_ts(a.at)}  \n{esc(a.comment)}",
            unsafe_allow_html=True,
        )
        if a.outdated:
            gone = f"Outdated: the words “{esc(a.quote)}” are no longer in slot {esc(a.slot)}"
            st.caption(f"{gone}; it still needs an answer or a resolution.", unsafe_allow_html=True)
        for t in a.thread:
            body = f"  \n{esc(t.text)}" if t.text else ""
            st.markdown(f"↳ **{esc(t.by)}** {KIND_VERB.get(t.kind, esc(t.kind))} · revision {t.revision} · {common.fmt_ts(t.at)}{body}", unsafe_allow_html=True)
        if a.actions:
            _actions(user, view, a)


def _actions(user: User, view: AnnotationsView, a: AnnotationItem) -> None:
    """The actions offered on one annotation: one text box (the reply, or the note that goes with
    resolving or reopening) and a button each. Each carries the state the user saw on the run
    before the click (as the sign form does with the text fingerprint), so an action over a state
    someone changed meanwhile is refused with their name, never applied unseen."""
    seen_key, round_key = f"ann_seen_{a.id}", f"ann_round_{a.id}"
    seen = st.session_state.get(seen_key, a.state)
    st.session_state[seen_key] = a.state
    n = st.session_state.get(round_key, 0)
    needs = "required to reply or reopen" if {"reply", "reopen"} & set(a.actions) else "optional"
    label = f"Reply or note ({needs})"
    typed = st.text_area(label, key=f"ann_text_{a.id}_{n}", height=68, label_visibility="collapsed", placeholder=label)
    cols = st.columns(len(a.actions))
    for col, name in zip(cols, a.actions, strict=True):
        if col.button(ACTION_LABEL[name], key=f"ann_{name}_{a.id}", type="primary" if name == "resolve" else "secondary"):
            if name == "reply":
                out = common.call(reply, user, a.id, text=typed, expected_state=seen)
            elif name == "resolve":
                out = common.call(resolve, user, a.id, note=typed, expected_state=seen)
            else:
                out = common.call(reopen, user, a.id, comment=typed, expected_state=seen)
            if out.ok:
                st.session_state[round_key] = n + 1  # an empty box for the next entry
                common.flash(f"Annotation {a.number} on draft #{view.draft_id}: {KIND_VERB[name]} (now {out.value.state}).", "success")
                st.rerun()


def _new_annotation(user: User, view: AnnotationsView) -> None:
    """Pick a slot, see its text, type or paste the exact words, say which occurrence, comment."""
    round_key, seen_key = f"ann_new_round_{view.draft_id}", f"ann_new_seen_{view.draft_id}"
    n = st.session_state.get(round_key, 0)
    seen = st.session_state.get(seen_key, view.revision)  # the revision shown before the click
    st.session_state[seen_key] = view.revision
    with st.expander("Annotate words in a slot", expanded=not view.items, icon=":material/format_quote:"):
        slot = st.selectbox("Slot", list(view.slots), key=f"ann_new_slot_{n}")
        st.markdown(annotated_html(view.slots[slot], []), unsafe_allow_html=True)
        words = st.text_input("Words to annotate: type or paste them exactly as they read above", key=f"ann_new_words_{n}")
        occurrence: int | None = None
        found_ok = False
        if words.strip():
            found = common.call(find_words, user, view.draft_id, slot=slot, words=words)
            found_ok = found.ok
            if found.ok and len(found.value) > 1:
                options = {o.number: f"…{o.before}[{words.strip()}]{o.after}…" for o in found.value}
                occurrence = st.radio(
                    f"These words occur {len(options)} times in slot {plain_label(slot)}: which one do you mean?",
                    list(options),
                    format_func=lambda k: f"{k}. {plain_label(options[k])}",
                    key=f"ann_new_occurrence_{n}",
                )
            elif found.ok:
                st.caption("Found once in this slot.")
        comment = st.text_area("Comment for the author", key=f"ann_new_comment_{n}", height=80)
        if st.button("Add annotation", key="ann_add", type="primary", disabled=not found_ok, icon=":material/add_comment:"):
            kwargs = {"slot": slot, "words": words, "comment": comment, "occurrence": occurrence, "expected_revision": seen}
            out = common.call(annotate, user, view.draft_id, **kwargs)
            if out.ok:
                st.session_state[round_key] = n + 1  # the next annotation starts from empty boxes
                common.flash(f"Annotation added on “{short(out.value.quote)}” in slot {slot}.", "success")
                st.rerun()
