"""Exports: readiness per campaign, publish, download the files, and the approval evidence."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import streamlit as st

from review.export import publish
from review.views import campaign_exports, campaigns
from ui import common
from ui.recalls_panel import render_recalls


def render() -> None:
    user = common.require_user()
    st.title("Exports")
    camps = common.read(campaigns, user)
    if not camps:
        st.info("No campaign yet.")
        return
    opts = {c.id: c.name for c in camps}
    camp_id = st.selectbox("Campaign", list(opts), format_func=opts.get, key="exp_campaign")
    view = common.read(campaign_exports, user, camp_id)
    exports = view.exports
    if exports:
        # Published: its drafts are now "published", which readiness (a check for publishing
        # again) would list as "not approved" — a contradiction, not a problem to show.
        latest = exports[0]
        held = f", {latest.held_back} recipient(s) held back (see the held-back report)" if latest.held_back else ""
        st.success(
            f"Published {common.fmt_ts(latest.created_at)}: export #{latest.id}, {latest.row_count} rows{held} (file fingerprint {latest.sha256[:16]}…). "
            "The files and the approval evidence are below.",
            icon=":material/task_alt:",
        )
    else:
        _readiness(user, camp_id, view.not_ready)
    st.subheader("Files")
    if not exports:
        st.caption("Nothing exported yet.")
    for exp in exports:
        held = f"{exp.held_back} recipient(s) held back" if exp.held_back else "no recipient held back"
        st.markdown(f"**Export #{exp.id}** · {common.fmt_ts(exp.created_at)} · {exp.row_count} rows · {held} · file fingerprint (sha256) `{exp.sha256[:16]}…`")
        files = [(exp.jsonl_path, "application/jsonl", "jsonl"), (exp.csv_path, "text/csv", "csv")]
        if exp.held_path:  # who was held back by their own field values, and why
            files.append((exp.held_path, "text/csv", "held"))
        for col_, (path, mime, tag) in zip(st.columns(len(files)), files, strict=True):
            p = Path(path)
            if p.is_file():
                col_.download_button(
                    f"Download the held-back report ({p.name})" if tag == "held" else f"Download {p.name}",
                    p.read_bytes(),
                    file_name=p.name,
                    mime=mime,
                    key=f"exp_dl_{exp.id}_{tag}",
                    on_click="ignore",
                    icon=":material/download:",
                )
            else:
                col_.error(f"{p.name} is missing from the export folder.")
    render_recalls(user, camp_id)
    st.subheader("Approval evidence")
    if view.evidence:
        st.dataframe([_evidence_row(e) for e in view.evidence], hide_index=True, key="exp_evidence")
    else:
        st.caption("No signatures yet.")


def _evidence_row(e: dict) -> dict:  # type: ignore[type-arg]
    """One signature as an examiner reads it (the export's evidence file keeps the code's names)."""
    signed = e.get("signed_at")
    with contextlib.suppress(ValueError):  # not a time: shown as it is
        signed = common.fmt_ts(datetime.fromisoformat(signed)) if isinstance(signed, str) else common.fmt_ts(signed)
    return {
        "Draft": e.get("draft_id"),
        "Revision": e.get("revision"),
        "Reviewer": e.get("reviewer"),
        "Meaning": e.get("meaning"),
        "Signed": signed,
        "Counts": "yes" if e.get("valid") else f"no ({e.get('void_reason') or 'void'})",
        "Signature fingerprint (manifest hash)": e.get("manifest_hash"),
    }


def _readiness(user, camp_id: int, reasons: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Not published yet: every reason it cannot be, or the publish button."""
    if reasons:
        st.warning(f"Not ready to publish: {len(reasons)} reason(s).", icon=":material/block:")
        shown = reasons[:50]
        st.dataframe([{"Reason": r} for r in shown], hide_index=True, key="exp_reasons")
        if len(reasons) > len(shown):
            st.caption(f"… and {len(reasons) - len(shown)} more.")
    else:
        st.success("Every draft is approved by enough reviewers and unchanged since: ready to publish.", icon=":material/check_circle:")
    if st.button("Publish (export JSONL + CSV)", key="exp_publish", type="primary", disabled=bool(reasons)):
        out = common.call(publish, user, camp_id)
        if out.ok:
            common.flash(f"Published {out.value.row_count} rows (sha256 {out.value.sha256[:16]}…).", "success")
            st.rerun()


if __name__ == "__main__":
    render()
