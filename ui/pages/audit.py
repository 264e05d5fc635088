"""Audit trail: searchable, paginated event list and a hash-chain verification."""

from __future__ import annotations

import json

import streamlit as st

from review.dashboard import audit_actions, audit_search, audit_verify
from ui import common

PAGE_SIZES = (20, 50, 100)


def render() -> None:
    user = common.require_user()
    st.title("Audit trail")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.caption("Every action is an event whose hash covers its content and the previous event's hash.")
    if c2.button("Verify chain", key="audit_verify", icon=":material/verified_user:", width="stretch"):
        out = common.call(audit_verify, user)
        if out.ok:
            (st.success if out.value.ok else st.error)(str(out.value))
    actions = common.read(audit_actions, user)
    f1, f2, f3, f4, f5 = st.columns([3, 2, 2, 2, 1])
    text = f1.text_input("Search (actor, action, entity id)", key="audit_text")
    action = f2.selectbox("Action", ["", *actions], format_func=lambda a: a or "Any action", key="audit_action")
    entity = f3.selectbox(
        "Entity",
        ["", "draft", "campaign", "user", "template", "template_version", "audience", "approval"],
        format_func=lambda a: a or "Any entity",
        key="audit_entity",
    )
    entity_id = f4.text_input("Entity id", key="audit_entity_id")
    page_size = f5.selectbox("Per page", PAGE_SIZES, index=1, key="audit_page_size")
    page = int(st.session_state.get("audit_page", 1))
    out = common.call(
        audit_search, user, text=text.strip(), action=action, entity=entity, entity_id=entity_id.strip(), limit=page_size, offset=(page - 1) * page_size
    )
    if not out.ok:
        return
    events, total = out.value
    pages = max(1, -(-total // page_size))
    if page > pages:
        st.session_state["audit_page"] = 1
        st.rerun()
    st.caption(f"{total} event(s) · page {page} of {pages} · newest first")
    if not events:
        st.info("No event matches these filters.")
        return
    st.dataframe(
        [
            {
                "#": e.seq,
                "When": common.fmt_ts(e.ts),
                "Actor": e.actor,
                "Action": e.action,
                "Entity": e.entity,
                "Id": e.entity_id,
                "Details": json.dumps(e.after, ensure_ascii=False, default=str)[:300],
                "Hash": e.hash[:12],
            }
            for e in events
        ],
        hide_index=True,
        key="audit_table",
    )
    p1, p2, _ = st.columns([1, 1, 4])
    if p1.button("◀ Newer", key="audit_prev", disabled=page <= 1):
        st.session_state["audit_page"] = page - 1
        st.rerun()
    if p2.button("Older ▶", key="audit_next", disabled=page >= pages):
        st.session_state["audit_page"] = page + 1
        st.rerun()


if __name__ == "__main__":
    render()
