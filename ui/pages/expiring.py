"""Expiring: approvals and claims that expire within 30 days, or have, per brand (review.expiry).

An expired approval blocks export until the draft is renewed (re-checked, then signed again); an
expired claim counts as retired. A published draft stays published: withdraw it from its draft
page to recall it from the systems that took the export."""

from __future__ import annotations

import streamlit as st

from review import workflow
from review.expiry import ExpiringApproval, ExpiringClaim, expiring
from review.models import Status
from ui import common, labels


def render() -> None:
    user = common.require_user()
    st.title("Expiring")
    report = common.read(expiring, user)
    st.caption(
        f"Approvals and claims that expire within {report.within_days} days, or already have. An expired approval blocks export until the draft "
        "is renewed: re-checked on today's rules and claims, then signed again. An expired claim counts as retired."
    )
    if report.empty:
        st.success(f"Nothing expires within {report.within_days} days.", icon=":material/event_available:")
        return
    for b in report.brands:
        if not (b.approvals or b.claims or b.problems):
            continue
        st.subheader(b.name)
        st.caption(f"{b.name} approvals last {b.approval_valid_days} days." if b.approval_valid_days else f"{b.name} approvals never expire.")
        for problem in b.problems:
            st.error(problem, icon=":material/error:")
        if b.approvals:
            st.dataframe([_approval_row(a) for a in b.approvals], hide_index=True, key=f"expiring_approvals_{b.slug}")
        if b.claims:
            st.dataframe([_claim_row(c) for c in b.claims], hide_index=True, key=f"expiring_claims_{b.slug}")
    _act(user, [a for b in report.brands for a in b.approvals])


def _left(days: int, expired: bool) -> str:
    if expired:
        return "expired today" if days == 0 else f"expired {-days} day{'s' if days != -1 else ''} ago"
    return "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"


def _approval_row(a: ExpiringApproval) -> dict[str, object]:
    return {
        "Draft": a.draft_id,
        "Campaign": a.campaign,
        "Audience group": a.variant,
        "Status": labels.status(a.status),
        "Approved": common.fmt_ts(a.approved_at) if a.approved_at else "unknown",
        "Expires": common.fmt_ts(a.expires_at) if a.expires_at else "unknown: re-approve it",
        "When": _left(a.days_left, a.expired),
    }


def _claim_row(c: ExpiringClaim) -> dict[str, object]:
    return {
        "Claim": c.claim_id,
        "Wording": c.wording,
        "Reference": c.reference,
        "Valid until": c.valid_until.isoformat(),
        "When": _left(c.days_left, c.expired),
    }


def _act(user, approvals: list[ExpiringApproval]) -> None:  # type: ignore[no-untyped-def]
    """Open a listed draft, or renew an approved one here (the draft page offers the same)."""
    if not approvals:
        return
    ids = [a.draft_id for a in approvals]
    by_id = {a.draft_id: a for a in approvals}
    st.subheader("Act on a draft")
    chosen = st.selectbox(
        "Draft", ids, format_func=lambda i: f"#{i} · {by_id[i].campaign} · {by_id[i].variant} ({labels.status(by_id[i].status)})", key="expiring_draft"
    )
    left, right = st.columns(2)
    if left.button("Open the draft", key="expiring_open", icon=":material/article:"):
        common.open_draft(int(chosen), among=ids)
    if by_id[chosen].status == Status.APPROVED:
        if right.button("Renew approval (re-check, back to review)", key="expiring_renew", type="primary", icon=":material/autorenew:"):
            out = common.call(workflow.perform, user, int(chosen), "renew")
            if out.ok:
                common.flash(f"Draft #{chosen} was re-checked and is {labels.status(out.value.status).lower()} for re-approval.", "success")
                st.rerun()
    else:
        right.caption("A published draft stays published and its campaign is not exported again; withdraw it from its draft page to recall it.")


if __name__ == "__main__":
    render()
