"""Countersign — the Streamlit entry point: `streamlit run app.py`.

Logs the user in, applies the inactivity timeout, and shows only the pages the user's role
uses. Every service call re-checks the role; the page list is convenience, not security.
"""

from __future__ import annotations

import streamlit as st

from ui import common

st.set_page_config(page_title="Countersign", page_icon="✒️", layout="wide")

user = common.current_user()
if user is None:
    nav = st.navigation(common.pages_logged_out(), position="hidden")
else:
    nav = st.navigation(common.pages_for(user.role, unread=common.unread_notifications(user)))
    with st.sidebar:
        st.markdown(f"**{user.full_name}**  \n`{user.username}` · {user.role}")
        if user.oidc_subject:  # a company (SSO) account: it signs with a signing password of its own
            from ui.signing_password import signing_password_form

            with st.expander("Signing password", icon=":material/key:"):
                signing_password_form(user, key="sidebar_signing_pw")
        if st.button("Log out", key="logout", icon=":material/logout:", width="stretch"):
            if common.log_out():
                st.stop()  # a company session: the browser is on its way through the provider's logout
            common.flash("You are logged out.", "success")
            st.rerun()
common.show_flash()
nav.run()
