"""Inbox: the user's notifications (assigned to you, changes requested, approved, rejected, due
soon, overdue), newest first; open one (it is marked read and its draft opens), or mark all read."""

from __future__ import annotations

from typing import Any

import streamlit as st

from review.models import Delivery
from review.notifications import inbox, mark_read, open_notification
from ui import common
from ui.highlight import esc

ICONS = {
    "assigned": ":material/assignment_ind:",
    "changes_requested": ":material/edit_note:",
    "approved": ":material/verified:",
    "rejected": ":material/block:",
    "due_soon": ":material/schedule:",
    "overdue": ":material/alarm:",
}
EMAIL = {Delivery.SENT: "emailed", Delivery.FAILED: "email failed", Delivery.PENDING: "email pending", Delivery.SENDING: "email sending"}


def _item(user: Any, n: Any) -> None:
    with st.container(border=True):
        head = f"**{esc(n.label)}** · {common.fmt_ts(n.created_at)}" + ("" if n.read else " · :blue-badge[unread]")
        st.markdown(head)
        st.markdown(esc(n.title))
        if n.comment:
            st.markdown(f"> {esc(n.comment)}")
        mail = EMAIL.get(n.email_status)
        if mail:
            st.caption(mail + (f": {esc(n.email_error)}" if n.email_error else ""))
        c1, c2, _ = st.columns([1, 1, 4])
        if n.draft_id is not None and c1.button("Open", key=f"inbox_open_{n.id}", icon=ICONS.get(n.kind), type="primary" if not n.read else "secondary"):
            out = common.call(open_notification, user, n.id)
            if out.ok:
                common.open_draft(int(n.draft_id))
        if not n.read and c2.button("Mark read", key=f"inbox_read_{n.id}") and common.call(mark_read, user, [n.id]).ok:
            st.rerun()


def render() -> None:
    user = common.require_user()
    unread_only = st.session_state.get("inbox_unread_only", False)
    box = common.read(inbox, user, unread_only=unread_only)
    st.title(f"Inbox ({box.unread} unread)" if box.unread else "Inbox")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.toggle("Unread only", key="inbox_unread_only")
    if c2.button("Mark all read", key="inbox_read_all", disabled=not box.unread):
        out = common.call(mark_read, user)
        if out.ok:
            common.flash(f"Marked {out.value} notification(s) read.", "success")
            st.rerun()
    if not box.items:
        st.caption("No notifications yet." if not unread_only else "Nothing unread.")
        return
    for n in box.items:
        _item(user, n)
    if box.total > len(box.items) and not unread_only:
        st.caption(f"The newest {len(box.items)} of {box.total}.")


if __name__ == "__main__":
    render()
