"""Audit trail: searchable, paginated event list and a hash-chain verification."""

from __future__ import annotations

import streamlit as st

from review.dashboard import audit_actions, audit_csv, audit_search, audit_verify, describe_details
from review.models import Role
from ui import common


def action_label(action: str) -> str:
    """'draft_needs_changes' → 'Draft needs changes'."""
    return action.replace("_", " ").capitalize()


def actor_label(actor: str) -> str:
    return {"generator": "generator (model)", "system": "system"}.get(actor, actor)


PAGE_SIZES = (20, 50, 100)


def render() -> None:
    user = common.require_user()
    st.title("Audit trail")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    scope = "the events of your campaigns and their drafts" if user.role == Role.MARKETER else "every event"
    c1.caption(f"Showing {scope}. Each event's fingerprint covers its content and the previous event's, so history cannot be edited unnoticed.")
    # Verifying reads the whole trail: reviewers' and admins' work (the service says so too).
    if user.role != Role.MARKETER and c2.button("Verify chain", key="audit_verify", icon=":material/verified_user:", width="stretch"):
        out = common.call(audit_verify, user)
        if out.ok:
            (st.success if out.value.ok else st.error)(str(out.value))
    actions = common.read(audit_actions, user)
    f1, f2, f3, f4, f5 = st.columns([3, 2, 2, 2, 1])
    text = f1.text_input("Search (actor, action, entity id)", key="audit_text")
    action = f2.selectbox("Action", ["", *actions], format_func=lambda a: action_label(a) if a else "Any action", key="audit_action")
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
                "Who": actor_label(e.actor),
                "Action": action_label(e.action),
                "On": f"{e.entity.replace('_', ' ')} {e.entity_id}",
                "Details": describe_details(e.after),
                "Fingerprint": e.hash[:12],
            }
            for e in events
        ],
        hide_index=True,
        key="audit_table",
        column_config={"#": st.column_config.NumberColumn(width="small"), "Details": st.column_config.TextColumn(width="large")},
    )
    # The CSV holds every event these filters find (not only this page), oldest first.
    filters = {"text": text.strip(), "action": action, "entity": entity, "entity_id": entity_id.strip()}
    if st.button("Prepare CSV of these events", key="audit_csv_prepare", icon=":material/table_view:"):
        out = common.call(audit_csv, user, **filters)
        if out.ok:
            st.session_state["audit_csv"] = (filters, out.value)
    ready = st.session_state.get("audit_csv")
    if ready and ready[0] == filters:  # a file made for other filters is not offered
        st.download_button(
            "Download the audit CSV",
            ready[1],
            file_name="countersign-audit.csv",
            mime="text/csv",
            key="audit_csv_download",
            on_click="ignore",
            icon=":material/download:",
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
