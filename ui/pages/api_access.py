"""API access (admin): tokens for the systems that send, webhook endpoints and their deliveries.

A token's secret and an endpoint's signing secret are shown once, on the run that made them;
afterwards only the public key id (tokens) is visible. The services decide who may do what."""

from __future__ import annotations

import streamlit as st

from review.api_tokens import create_token, list_tokens, revoke_token
from review.models import ApiScope, WebhookEvent
from review.views import brands_by_slug
from review.webhook_delivery import recent_deliveries, retry_delivery
from review.webhooks import disable_endpoint, list_endpoints, register_endpoint, rotate_secret
from ui import common

ALL_BRANDS = "(every brand)"


def _show_secret(label: str, secret: str) -> None:
    st.success(f"{label} Copy it now: it is not shown again.", icon=":material/key:")
    st.code(secret, language=None)


def _tokens(user: object, brands: list[str]) -> None:
    st.subheader("API tokens")
    st.caption("Bearer tokens for the read-only API (`python -m api`). Stored only as a hash; revoke one the moment it may have leaked.")
    with st.form("token_create_form", clear_on_submit=True):
        name = st.text_input("Name (who uses it)", key="token_name", placeholder="ESP production")
        scopes = st.multiselect("Scopes", ApiScope.ALL, default=[ApiScope.MESSAGES_READ], key="token_scopes")
        brand = st.selectbox("Brand", [ALL_BRANDS, *brands], key="token_brand")
        days = st.number_input("Expires after (days; 0 = never)", min_value=0, max_value=3650, value=90, step=1, key="token_days")
        go = st.form_submit_button("Create token", key="token_create", type="primary")
    if go:
        made = common.call(create_token, user, name=name, scopes=scopes, brand_slug=None if brand == ALL_BRANDS else brand, expires_in_days=int(days) or None)
        if made.ok:
            _show_secret(f"Token '{made.value.info.name}' created.", made.value.token)
    tokens = common.read(list_tokens, user)
    if not tokens:
        st.caption("No token yet.")
        return
    st.dataframe(
        [
            {
                "Key id": t.key_id,
                "Name": t.name,
                "Scopes": ", ".join(t.scopes),
                "Brand": t.brand or "every brand",
                "State": t.state,
                "Expires": common.fmt_ts(t.expires_at) if t.expires_at else "never",
                "Last used": common.fmt_ts(t.last_used_at) if t.last_used_at else "never",
                "Created by": t.created_by,
            }
            for t in tokens
        ],
        hide_index=True,
        key="tokens_table",
    )
    live = {t.id: t for t in tokens if t.state == "active"}
    if live:
        pick = st.selectbox("Token to revoke", list(live), format_func=lambda i: f"{live[i].name} ({live[i].key_id})", key="token_pick")
        if st.button("Revoke token", key="token_revoke"):
            res = common.call(revoke_token, user, pick)
            if res.ok:
                common.flash(f"Token '{res.value.name}' ({res.value.key_id}) revoked.", "success")
                st.rerun()


def _webhooks(user: object, brands: list[str]) -> None:
    st.subheader("Webhooks")
    st.caption("Signed POSTs on publish and withdraw (README, 'API for sending systems'). https only, except to localhost.")
    with st.form("webhook_form", clear_on_submit=True):
        name = st.text_input("Name", key="webhook_name", placeholder="ESP production")
        url = st.text_input("URL", key="webhook_url", placeholder="https://esp.example.com/hooks/countersign")
        events = st.multiselect("Events", WebhookEvent.ALL, default=list(WebhookEvent.ALL), key="webhook_events")
        brand = st.selectbox("Brand", [ALL_BRANDS, *brands], key="webhook_brand")
        go = st.form_submit_button("Register endpoint", key="webhook_create", type="primary")
    if go:
        made = common.call(register_endpoint, user, name=name, url=url, events=events, brand_slug=None if brand == ALL_BRANDS else brand)
        if made.ok:
            _show_secret(f"Endpoint '{made.value.info.name}' registered. Its signing secret:", made.value.secret)
    endpoints = common.read(list_endpoints, user)
    if not endpoints:
        st.caption("No endpoint yet.")
        return
    st.dataframe(
        [
            {
                "Id": e.id,
                "Name": e.name,
                "URL": e.url,
                "Events": ", ".join(e.events),
                "Brand": e.brand or "every brand",
                "State": "active" if e.active else "disabled",
                "Delivered": e.delivered,
                "Pending": e.pending,
                "Failed": e.failed,
            }
            for e in endpoints
        ],
        hide_index=True,
        key="webhooks_table",
    )
    live = {e.id: e for e in endpoints if e.active}
    if live:
        pick = st.selectbox("Endpoint", list(live), format_func=lambda i: f"{live[i].name} ({live[i].url})", key="webhook_pick")
        left, right = st.columns(2)
        if left.button("New signing secret", key="webhook_rotate"):
            res = common.call(rotate_secret, user, pick)
            if res.ok:
                _show_secret(f"New signing secret for '{res.value.info.name}' (the old one no longer verifies):", res.value.secret)
        if right.button("Disable endpoint", key="webhook_disable"):
            res = common.call(disable_endpoint, user, pick)
            if res.ok:
                common.flash(f"Endpoint '{res.value.name}' disabled.", "success")
                st.rerun()


def _deliveries(user: object) -> None:
    st.subheader("Recent deliveries")
    rows = common.read(recent_deliveries, user)
    if not rows:
        st.caption("Nothing sent yet: deliveries appear when a campaign is published or a published draft withdrawn.")
        return
    st.dataframe(
        [
            {
                "Id": d.id,
                "Endpoint": d.endpoint,
                "Event": d.event,
                "Campaign": d.campaign_id,
                "Status": d.status,
                "Attempts": d.attempts,
                "Last answer": d.last_status_code if d.last_status_code is not None else d.last_error or "-",
                "Next attempt": common.fmt_ts(d.next_attempt_at) if d.next_attempt_at else "-",
                "Queued": common.fmt_ts(d.created_at),
            }
            for d in rows
        ],
        hide_index=True,
        key="deliveries_table",
    )
    failed = [d.id for d in rows if d.status == "failed"]
    if failed:
        pick = st.selectbox("Failed delivery", failed, key="delivery_pick")
        if st.button("Send again", key="delivery_retry"):
            res = common.call(retry_delivery, user, pick)
            if res.ok:
                common.flash(f"Delivery {pick} queued again; `python -m review deliver-webhooks` sends it.", "success")
                st.rerun()


def render() -> None:
    user = common.require_user()
    st.title("API access")
    brands = sorted(common.read(brands_by_slug, user))
    _tokens(user, brands)
    st.divider()
    _webhooks(user, brands)
    st.divider()
    _deliveries(user)


if __name__ == "__main__":
    render()
