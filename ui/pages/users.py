"""Users (admin): list, create, deactivate / reactivate, lift a sign-in lock-out, and give
reviewers their review roles (which steps of a brand's review plan they may sign)."""

from __future__ import annotations

import streamlit as st

from review.auth import Account, create_user, list_accounts, set_active, unlock_user
from review.models import Role, User
from review.routing import known_review_roles, set_review_roles
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
                "Review roles": ", ".join(a.review_roles) if a.user.role == Role.REVIEWER else "",
                "Active": "active" if a.user.active else "deactivated",
                # Company sign-in (review.sso): the provider's subject this account is linked to.
                "Company account": a.user.oidc_subject or "",
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
    _review_roles(user, accounts)


def _review_roles(user: User, accounts: list[Account]) -> None:
    """Which review steps each reviewer may sign: the roles brand.yaml plans ask for, or new ones."""
    st.subheader("Review roles")
    reviewers = {a.user.id: a for a in accounts if a.user.role == Role.REVIEWER}
    if not reviewers:
        st.caption("No reviewers yet.")
        return
    known = common.read(known_review_roles)
    st.caption(
        "A brand's review plan (brand.yaml `review:`) names the role each step needs; a reviewer signs a step only while holding its role. "
        f"Roles the brands ask for now: {', '.join(known) or 'none'}."
    )
    uid = st.selectbox("Reviewer", list(reviewers), format_func=lambda i: reviewers[i].user.username, key="roles_user")
    held = reviewers[uid].review_roles
    with st.form(f"roles_form_{uid}", clear_on_submit=False):
        roles = st.multiselect("Review roles held", sorted(set(known) | set(held)), default=list(held), accept_new_options=True, key=f"roles_pick_{uid}")
        go = st.form_submit_button("Save review roles", key="roles_save", type="primary")
    if go:
        res = common.call(set_review_roles, user, uid, list(roles))
        if res.ok:
            now = ", ".join(res.value) or "no review roles"
            common.flash(f"{reviewers[uid].user.username} now holds: {now}.", "success")
            st.rerun()


if __name__ == "__main__":
    render()
