"""Review queue: pending drafts, riskiest and oldest first, filtered and paginated in SQL."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session, col, select

from review.dashboard import approve_clean, drafts_without_findings, queue_page
from review.errors import AuthenticationError, PermissionDenied
from review.models import Brand, Campaign, Status
from review.queue import QueueFilter
from review.workflow import SIGNATURE_MEANINGS
from ui import common

PAGE_SIZES = (10, 25, 50, 100)
STATUS_LABELS = {s: s.replace("_", " ") for s in Status.ALL}


def _risk(errors: int, warnings: int, fallbacks: int) -> str:
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (warnings, "warning"), (fallbacks, "fallback")) if n]
    return " · ".join(parts) if parts else "clean"


def _filter_options() -> tuple[dict[int, str], dict[int, str]]:
    with Session(common.get_engine()) as s:
        brands = {b.id: b.name for b in s.exec(select(Brand).order_by(col(Brand.name))).all()}
        camps = {c.id: c.name for c in s.exec(select(Campaign).order_by(col(Campaign.created_at).desc())).all()}
    return brands, camps  # type: ignore[return-value]


def render() -> None:
    user = common.require_user()
    st.title("Review queue")
    brands, camps = _filter_options()
    f1, f2, f3, f4 = st.columns([2, 2, 3, 1])
    brand_id = f1.selectbox("Brand", [None, *brands], format_func=lambda i: "All brands" if i is None else brands[i], key="queue_brand")
    campaign_id = f2.selectbox("Campaign", [None, *camps], format_func=lambda i: "All campaigns" if i is None else camps[i], key="queue_campaign")
    statuses = f3.multiselect("Status", list(Status.ALL), default=[Status.IN_REVIEW], format_func=STATUS_LABELS.get, key="queue_status")
    page_size = f4.selectbox("Per page", PAGE_SIZES, index=PAGE_SIZES.index(50), key="queue_page_size")
    flt = QueueFilter(statuses=tuple(statuses), brand_id=brand_id, campaign_id=campaign_id)
    page = int(st.session_state.get("queue_page", 1))
    out = common.call(queue_page, user, flt, page=page, page_size=page_size)
    if not out.ok:
        return
    qp = out.value
    if page > qp.pages:  # filters changed under us
        st.session_state["queue_page"] = page = 1
        qp = common.read(queue_page, user, flt, page=1, page_size=page_size)
    first = (qp.page - 1) * qp.page_size + 1 if qp.total else 0
    st.caption(
        f"{qp.total} draft(s) · showing {first}–{first + len(qp.rows) - 1 if qp.rows else 0} · "
        "sorted by risk (errors, warnings, model fallbacks), then longest waiting"
    )
    if not qp.rows:
        st.info("Nothing waiting here.", icon=":material/inbox:")
        return
    table = [
        {
            "Draft": r.draft_id,
            "Risk": _risk(r.errors, r.warnings, r.fallbacks),
            "Status": STATUS_LABELS.get(r.status, r.status),
            "Brand": r.brand,
            "Campaign": r.campaign,
            "Variant": r.variant,
            "Recipients": r.recipients,
            "Approvals": f"{r.approvals}/{r.approvals_required}",
            "Revision": r.revision,
            "Waiting since": common.fmt_ts(r.updated_at),
        }
        for r in qp.rows
    ]
    event = st.dataframe(
        table,
        hide_index=True,
        key="queue_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={"Draft": st.column_config.NumberColumn(format="#%d", width="small"), "Recipients": st.column_config.NumberColumn(width="small")},
        height=min(38 + 35 * len(table), 560),
    )
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected:
        del st.session_state["queue_table"]  # coming back to the queue must not re-open it
        common.open_draft(qp.rows[selected[0]].draft_id)

    c1, c2, c3, c4 = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
    ids = [r.draft_id for r in qp.rows]
    chosen = c1.selectbox("Draft to open", ids, format_func=lambda i: f"#{i} · {next(r.variant for r in qp.rows if r.draft_id == i)}", key="queue_open_id")
    if c2.button("Open draft", key="queue_open", type="primary", icon=":material/open_in_new:"):
        common.open_draft(chosen)
    if c3.button("◀ Previous", key="queue_prev", disabled=qp.page <= 1):
        st.session_state["queue_page"] = qp.page - 1
        st.rerun()
    if c4.button(f"Next ▶ (page {qp.page} of {qp.pages})", key="queue_next", disabled=qp.page >= qp.pages):
        st.session_state["queue_page"] = qp.page + 1
        st.rerun()

    _bulk_approve(user, [r.draft_id for r in qp.rows if r.status == Status.IN_REVIEW and not r.errors and not r.warnings])


def _bulk_approve(user, candidate_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    clean = common.read(lambda s: drafts_without_findings(s, candidate_ids))
    with st.expander(f"Bulk approve drafts with no findings ({len(clean)} on this page)", icon=":material/done_all:"):
        if not clean:
            st.write("No draft on this page is free of findings; open each one and decide on its own.")
            return
        st.caption("Each draft gets its own signature, manifest and audit event. Drafts with any finding are never bulk-approved.")
        with st.form("bulk_form", clear_on_submit=True):
            picked = st.multiselect("Drafts", clean, default=clean, format_func=lambda i: f"#{i}", key="bulk_ids")
            meaning = st.selectbox("Signature meaning", SIGNATURE_MEANINGS, key="bulk_meaning")
            password = st.text_input("Your password (re-entered to sign)", type="password", key="bulk_password")
            go = st.form_submit_button("Sign and approve selected", key="bulk_submit", type="primary")
        if go:
            done, failed = [], []
            for draft_id in picked:
                out = common.call(approve_clean, user, draft_id, password=password, meaning=meaning, show_error=False)
                if out.ok:
                    done.append(draft_id)
                else:
                    failed.append((draft_id, str(out.error)))
                    if isinstance(out.error, (AuthenticationError, PermissionDenied)):
                        break  # a wrong password or a missing role fails every draft the same way
            if done:
                common.flash(f"Signed and approved {len(done)} draft(s): " + ", ".join(f"#{i}" for i in done), "success")
            for draft_id, why in failed:
                st.error(f"Draft #{draft_id}: {why}", icon=":material/error:")
            if done and not failed:
                st.rerun()


if __name__ == "__main__":
    render()
