"""The draft page's side-by-side diffs: the text as it was last approved against the text now
and, for a reviewer, the text they last signed against the text now; one row per slot, changed
words marked. It draws what review.diffs.draft_diffs returned and decides nothing."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from review.diffs import DraftDiffs, RevisionDiff, Segment, draft_diffs
from review.models import User
from review.views import DraftView
from ui import common
from ui.highlight import esc

SIDE_STYLE = "border:1px solid #d0d7de;border-radius:6px;padding:0.5em 0.8em;background:#ffffff;color:#1f2328;line-height:1.6;white-space:pre-wrap"
REMOVED_STYLE = "background:#ffebe9;color:#82071e;text-decoration:line-through;"
ADDED_STYLE = "background:#dafbe1;color:#116329;text-decoration:none;"


def side_html(segments: Sequence[Segment]) -> str:
    """One side of a slot's diff as HTML: removed words struck through, added words marked."""
    parts = []
    for s in segments:
        if s.kind == "removed":
            parts.append(f'<del style="{REMOVED_STYLE}">{esc(s.text)}</del>')
        elif s.kind == "added":
            parts.append(f'<ins style="{ADDED_STYLE}">{esc(s.text)}</ins>')
        else:
            parts.append(esc(s.text))
    return f'<div class="cs-diff" style="{SIDE_STYLE}">{"".join(parts) or "<em>(empty)</em>"}</div>'


def render(user: User, v: DraftView) -> None:
    out = common.call(draft_diffs, user, v.draft.id)
    if not out.ok:
        return
    diffs: DraftDiffs = out.value
    approved = diffs.since_approved
    if approved is None:
        st.caption("Changes since last approved: none to show, no revision of this draft has been approved yet.")
    else:
        _section(f"Changes since last approved (revision {approved.base_revision})", approved, "approved", signers=True)
    if diffs.viewer_reviews:
        signed = diffs.since_signed
        if signed is None:
            st.caption("Changes since you last signed: none to show, you have not signed this draft.")
        else:
            _section(f"Changes since you last signed (revision {signed.base_revision})", signed, "you signed", signers=False)


def _section(title: str, diff: RevisionDiff, what: str, *, signers: bool) -> None:
    st.subheader(title)
    who = f" (signed by {', '.join(diff.signed_by)})" if diff.signed_by and signers else ""
    if not diff.changed:
        st.success(f"No changes: revision {diff.revision} is the text {what}{esc(who)}.", icon=":material/check_circle:")
        return
    changed = [s for s in diff.slots if s.changed]
    st.caption(f"Revision {diff.base_revision}{esc(who)} on the left, revision {diff.revision} (now) on the right; {len(changed)} slot(s) changed.")
    for slot in changed:
        st.markdown(f"**Slot {esc(slot.slot)}**", unsafe_allow_html=True)
        left, right = st.columns(2, gap="medium")
        left.markdown(side_html(slot.old_segments), unsafe_allow_html=True)
        right.markdown(side_html(slot.new_segments), unsafe_allow_html=True)
    same = [s.slot for s in diff.slots if not s.changed]
    if same:
        st.caption("Unchanged: " + ", ".join(esc(name) for name in same))
