"""Log in: username and password, checked by review.auth.authenticate."""

from __future__ import annotations

import streamlit as st

from review.auth import authenticate
from ui import common

_, mid, _ = st.columns([1, 1.2, 1])
with mid:
    st.title("✒️ Countersign")
    st.caption("Human-approved AI personalization for regulated marketing.")
    with st.form("login_form", clear_on_submit=False):
        username = st.text_input("Username", key="login_username", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", key="login_submit", type="primary", width="stretch")
    if submitted:
        out = common.call(authenticate, username, password)
        if out.ok:
            common.log_in(out.value)
            st.rerun()
