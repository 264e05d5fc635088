"""Users (admin): list, create, deactivate / reactivate, lift a sign-in lock-out."""

from __future__ import annotations

import streamlit as st

from review.auth import create_user, list_accounts, set_active, unlock_user
from review.models import Role
from ui import common, user_work


def render() -> None:
    user = common.require_user()
    st.title("Users")
    out = common.call(list_accounts, user)
    if not out.ok:
        return
    accounts = out.value
    users = [a.user for a in accounts]
    st.dataframe(
        [
            {
                "Username": a.user.username,
                "Full name": a.user.full_name,
                "Role": a.user.role,
                "Active": "active" if a.user.active else "deactivated",
                "Sign-in": f"paused until {common.fmt_ts(a.lockout.until)}" if a.lockout.locked else "ok",
                "Recent wrong passwords": a.lockout.failures,
                "Created": common.fmt_ts(a.user.created_at),
            }
            for a in accounts
        ],
        hide_index=True,
        key="users_table",
    )
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Create a user")
        with st.form("user_create_form", clear_on_submit=True):
            username = st.text_input("Username", key="user_new_username")
            full_name = st.text_input("Full name (printed on every signature)", key="user_new_full_name")
            role = st.selectbox("Role", Role.ALL, key="user_new_role")
            password = st.text_input("Initial password", type="password", key="user_new_password")
            go = st.form_submit_button("Create user", key="user_create", type="primary")
        if go:
            made = common.call(create_user, user, username=username, full_name=full_name, role=role, password=password)
            if made.ok:
                common.flash(f"Created {made.value.username} ({made.value.role}).", "success")
                st.rerun()
    with right:
        st.subheader("Deactivate or reactivate")
        others = {u.id: u for u in users}
        uid = st.selectbox(
            "User", list(others), format_func=lambda i: f"{others[i].username} ({'active' if others[i].active else 'deactivated'})", key="user_pick"
        )
        target = others[uid]
        label = "Deactivate" if target.active else "Reactivate"
        if st.button(label, key="user_toggle", type="secondary"):
            res = common.call(set_active, user, uid, not target.active)
            if res.ok:
                common.flash(f"{target.username} is now {'active' if res.value.active else 'deactivated'}.", "success")
                st.rerun()
        locked = {a.user.id: a.lockout for a in accounts if a.lockout.locked}
        if uid in locked:
            st.warning(
                f"{target.username}'s password checks are paused after {locked[uid].failures} wrong passwords. "
                "Lift the pause only once you know the attempts were theirs.",
                icon=":material/lock:",
            )
            if st.button("Lift the sign-in pause", key="user_unlock"):
                res = common.call(unlock_user, user, uid)
                if res.ok:
                    common.flash(f"{target.username} can sign in again.", "success")
                    st.rerun()
        user_work.render(user, target)  # email address; away / back for reviewers


if __name__ == "__main__":
    render()
