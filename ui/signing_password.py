"""The signing password form of a company (SSO) account: what it re-enters at each signature.

Shown on the draft page before an SSO account's first signature and in the sidebar ("Signing
password"); it calls review.sso.set_signing_password with the current signing password or the
company sign-in behind this session (st.user), which must be recent."""

from __future__ import annotations

import streamlit as st

from review.auth import needs_signing_password
from review.errors import PermissionDenied
from review.models import User
from review.sso import set_signing_password
from ui import common


def signing_password_form(user: User, *, key: str) -> None:
    first = needs_signing_password(user)
    if first:
        st.info(
            "Your company account signs with a **signing password** of its own: the second thing you enter at each "
            "signature, besides being signed in. Set it now (you need to have signed in with your company account in the last few minutes).",
            icon=":material/key:",
        )
    stale = f"{key}_stale"  # the last try needed a fresher company sign-in: offer one (a button survives reruns only when drawn on each)
    if st.session_state.get(stale) and st.button("Sign in with your company account again", key=f"{key}_relogin", icon=":material/badge:"):
        st.login(common.COMPANY)
    with st.form(key, clear_on_submit=True):
        current = "" if first else st.text_input("Current signing password (blank: use a fresh company sign-in)", type="password", key=f"{key}_current")
        new = st.text_input("New signing password", type="password", key=f"{key}_new")
        again = st.text_input("New signing password, again", type="password", key=f"{key}_again")
        go = st.form_submit_button("Set signing password", key=f"{key}_submit", icon=":material/key:")
    if not go:
        return
    if new != again:
        st.error("The two new signing passwords differ.", icon=":material/error:")
        return
    out = common.call(set_signing_password, user, new, current_password=current or None, sso_claims=common.sso_claims(), show_error=False)
    if out.ok:
        st.session_state.pop(stale, None)
        common.flash("Your signing password is set: enter it at each signature.", "success")
    else:
        st.session_state[stale] = isinstance(out.error, PermissionDenied)
        common.flash(str(out.error), "error")
    st.rerun()
