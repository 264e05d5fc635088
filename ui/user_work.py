"""The Users page's panel for one user: the email address notifications go to, and (for a
reviewer) marking them away — their open assignments move to others — or back."""

from __future__ import annotations

from typing import Any

import streamlit as st

from review.assignments import absences, set_away
from review.models import Role
from review.profiles import set_email
from ui import common


def render(admin: Any, target: Any) -> None:
    st.subheader("Email and availability")
    with st.form(f"user_email_form_{target.id}", clear_on_submit=False):
        email = st.text_input("Email address (for notifications; empty: in-app only)", value=target.email or "", key=f"user_email_{target.id}")
        if st.form_submit_button("Save email address", key=f"user_email_save_{target.id}"):
            out = common.call(set_email, admin, target.id, email)
            if out.ok:
                common.flash(f"{target.username}: {out.value.email or 'no email address'}.", "success")
                st.rerun()
    if target.role != Role.REVIEWER:
        return
    away = common.read(absences, admin).get(target.id)
    if away is None:
        note = st.text_input("Why (for the record)", key=f"user_away_note_{target.id}", placeholder="e.g. on leave until Monday")
        if st.button("Mark away", key="user_away", help="No new assignments; their open assignments move to other reviewers."):
            out = common.call(set_away, admin, target.id, away=True, note=note)
            if out.ok:
                r = out.value
                left = f" {len(r.unassigned)} could not move (no eligible reviewer left) and wait unassigned." if r.unassigned else ""
                common.flash(f"{r.user} is away: {len(r.moved)} open assignment(s) moved to other reviewers.{left}", "warning" if r.unassigned else "success")
                st.rerun()
        return
    st.info(
        f"{target.username} is away since {common.fmt_ts(away.since)} (marked by {away.set_by})" + (f": {away.note}" if away.note else "."),
        icon=":material/beach_access:",
    )
    if st.button("Mark back", key="user_back"):
        out = common.call(set_away, admin, target.id, away=False)
        if out.ok:
            common.flash(f"{target.username} is back and can be assigned again.", "success")
            st.rerun()
