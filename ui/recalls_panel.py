"""The Exports page's recalls: what withdrawing published content told downstream (review.recalls).

Lists the campaign's recalls with their files (JSON + CSV in the export folder), writes a
recall's files again when they are missing, and withdraws the whole campaign (reviewers and
admins; the service decides, the form only asks)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from review.models import Recall, RecallScope, Role, User
from review.recalls import list_recalls, rewrite_recall_files, withdraw_campaign
from ui import common


def render_recalls(user: User, camp_id: int) -> None:
    st.subheader("Recalls")
    recalls = common.read(list_recalls, user, camp_id)
    if not recalls:
        st.caption("Nothing of this campaign was recalled. Withdrawing published content writes a recall here for the systems that took the export.")
    for rec in recalls:
        _recall(user, rec)
    if user.role in (Role.REVIEWER, Role.ADMIN):
        _withdraw_form(user, camp_id)


def _recall(user: User, rec: Recall) -> None:
    what = "the whole campaign" if rec.scope == RecallScope.CAMPAIGN else f"draft {', '.join(str(i) for i in rec.draft_ids)}"
    exports = ", ".join(f"#{i}" for i in rec.export_ids) or "none recorded"
    who = (rec.payload.get("recalled_by") or {}).get("full_name", "")
    st.markdown(
        f"**Recall #{rec.id}** · {common.fmt_ts(rec.created_at)} · {what} · exports {exports} · {rec.recipient_count} recipient(s) · by {who} · "
        f"file fingerprint (sha256) `{rec.sha256[:16]}…`"
    )
    st.caption(f"Reason: {rec.reason}")
    files = [(rec.json_path, "application/json", "json"), (rec.csv_path, "text/csv", "csv")]
    missing = [p for p, _, _ in files if not Path(p).is_file()]
    for col_, (path, mime, tag) in zip(st.columns(len(files)), files, strict=True):
        p = Path(path)
        if p.is_file():
            col_.download_button(
                f"Download {p.name}",
                p.read_bytes(),
                file_name=p.name,
                mime=mime,
                key=f"recall_dl_{rec.id}_{tag}",
                on_click="ignore",
                icon=":material/download:",
            )
        else:
            col_.error(f"{p.name} is missing from the export folder.")
    if missing and user.role in (Role.REVIEWER, Role.ADMIN) and st.button("Write the recall files again", key=f"recall_rewrite_{rec.id}"):
        out = common.call(rewrite_recall_files, user, rec.id)
        if out.ok:
            common.flash(f"Recall #{rec.id}'s files were written again.", "success")
            st.rerun()


def _withdraw_form(user: User, camp_id: int) -> None:
    with st.expander("Withdraw this campaign", icon=":material/undo:"), st.form(f"withdraw_campaign_{camp_id}"):
        st.caption(
            "Withdraws every approved or published draft of the campaign. What was published is recalled: a recall file lists the exports and recipients."
        )
        comment = st.text_area("Why (required; recorded in the recall and the audit trail)", key="withdraw_campaign_comment", height=80)
        go = st.form_submit_button("Withdraw the campaign", key="withdraw_campaign_btn", type="primary")
    if go:
        out = common.call(withdraw_campaign, user, camp_id, comment)
        if out.ok:
            rec = out.value.recall
            note = f"; recall #{rec.id} lists {rec.recipient_count} recipient(s)" if rec is not None else "; nothing of it had been published"
            common.flash(f"Withdrew {len(out.value.withdrawn)} draft(s){note}.", "success")
            st.rerun()
