"""The draft page's read-only panels: findings, slots and inputs, history, held-back recipients.

They draw what review.views.draft_view returned and decide nothing; the page's actions are in
ui/pages/draft.py.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from review.guidelines.rule import word_count
from review.views import DraftView, HeldBack
from ui import common, labels
from ui.highlight import LEVEL_ICON, esc, number_findings


def findings_list(findings: list[dict[str, Any]]) -> None:
    if not findings:
        st.success("No findings: the brand guidelines raise nothing on this draft.", icon=":material/check_circle:")
        return
    for n, f in number_findings(findings):
        where = f"slot **{esc(f['slot'])}**" if f.get("scope") == "slot" and f.get("slot") else esc(f.get("scope") or "message")
        icon = LEVEL_ICON.get(f.get("level", ""), "•")
        text = f"{icon} **[{n}] {esc(f.get('level', ''))}** · {where}: {esc(f.get('message', ''))}"
        if f.get("match"):
            text += f" — “{esc(f['match'])}”"
        text += f" <small>(rule <code>{esc(f.get('rule', ''))}</code>)</small>"
        if f.get("suggestion"):
            text += f"  \n&nbsp;&nbsp;&nbsp;&nbsp;Suggestion: {esc(f['suggestion'])}"
        if f.get("link"):
            text += f"  \n&nbsp;&nbsp;&nbsp;&nbsp;Guideline: {esc(f['link'])}"
        st.markdown(text, unsafe_allow_html=True)


def slots_table(v: DraftView) -> None:
    rows = []
    for name, spec in v.spec.slots.items():
        meta = v.draft.slot_meta.get(name, {})
        rows.append(
            {
                "Slot": name,
                "Text": v.draft.slots.get(name, ""),
                "Written by": labels.source(meta.get("source", "?")),
                "Mode": labels.MODE.get(spec.mode, spec.mode),
                "Inputs the model saw": ", ".join(f"{k}={val}" for k, val in (meta.get("inputs") or {}).items())
                or ("none (no consent)" if not v.variant.personalized else "none"),
                "Max words": spec.max_words,
                "Words": word_count(v.draft.slots.get(name, "")),
                "Human-written fallback": spec.fallback,
            }
        )
    st.dataframe(rows, hide_index=True, key="draft_slots_table")
    st.markdown("**Why each slot reads as it does**")
    for name, spec in v.spec.slots.items():
        lines = labels.provenance(v.draft.slot_meta.get(name, {}), len(spec.alternatives))
        st.markdown(f"**{esc(name)}**: " + "  \n".join(esc(line) for line in lines), unsafe_allow_html=True)
    st.markdown("**Audience group inputs** (what every recipient of this audience group shares)")
    inputs = [{"Field": k, "Value": val} for k, val in v.variant.inputs.items()]
    st.dataframe(inputs or [{"Field": "(none)", "Value": "no personalization consent"}], hide_index=True)
    st.markdown(f"**Sample recipient {esc(v.recipient.external_id)}** (sensitive fields withheld)", unsafe_allow_html=True)
    st.dataframe([{"Field": k, "Value": val} for k, val in v.recipient_shown.items()], hide_index=True)


def provenance_banner(v: DraftView) -> None:
    """Say plainly, at the top, when no slot holds model-written text."""
    if v.no_model_text:
        st.success("No model-written text: every slot is approved or human-written.", icon=":material/verified:")


def history(v: DraftView) -> None:
    st.markdown("**Revisions**")
    st.dataframe(
        [
            {
                "Revision": r["revision"],
                "By": r["by"],
                "Note": r["note"],
                "When": common.fmt_ts(r["at"]),
                "Errors": r["errors"],
                "Warnings": r["warnings"],
                "Text fingerprint": r["content_hash"],
            }
            for r in v.revisions
        ],
        hide_index=True,
        key="draft_revisions",
    )
    for title, diff in v.history_diffs:
        with st.expander(f"Diff: {title}"):
            st.code(diff or "(no slot text changed)", language="diff")
    st.markdown("**Decisions and signatures**")
    if v.approvals:
        st.dataframe(
            [
                {
                    "Revision": a["revision"],
                    "Reviewer": a["reviewer"],
                    "Step": a["step"],
                    "Meaning": a["meaning"],
                    "Signed": common.fmt_ts(a["signed_at"]),
                    "Counts": "yes" if a["valid"] else f"no ({a['void_reason']})",
                    "Signature fingerprint": a["manifest_hash"],
                }
                for a in v.approvals
            ],
            hide_index=True,
            key="draft_approvals",
        )
    else:
        st.caption("No signatures yet.")
    st.markdown("**Comments**")
    if v.comments:
        for c in v.comments:
            st.markdown(
                f"**{esc(c['by'])}** · {esc(COMMENT_KIND.get(c['kind'], c['kind'].replace('_', ' ')))} · revision {c['revision']} · "
                f"{common.fmt_ts(c['at'])}  \n{esc(c['text'])}",
                unsafe_allow_html=True,
            )
    else:
        st.caption("No comments yet.")


COMMENT_KIND = {"request_changes": "asked for changes", "reject": "rejected", "withdraw": "withdrew", "note": "note", "reply": "replied"}


def md(text: str) -> str:
    """Text for a Markdown-only element (st.warning): escaped like everywhere, line breaks kept."""
    return "  \n".join(esc(line) for line in text.splitlines())


def held_back(held: HeldBack) -> None:
    """Recipients of this audience group whose own field values break the rules: their messages
    do not ship, whatever the reviewer decides; the reviewer sees it before signing."""
    if not held.count:
        return
    st.warning(
        f"**{held.count} recipient(s) of this audience group held back**: their own field values (printed into the message) "
        f"break the brand's rules, so their messages will not be exported. {md(held.summary())}",
        icon=":material/person_off:",
    )
    with st.expander(f"Held-back recipients (first {len(held.examples)} of {held.count})"):
        st.dataframe(held.examples, hide_index=True, key="draft_held_back")
