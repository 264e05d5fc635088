"""Review queue: pending drafts, riskiest and oldest first, filtered and paginated in SQL."""

from __future__ import annotations

import streamlit as st

from review.bulk_sign import approve_shown, drafts_without_findings
from review.dashboard import queue_filter_options, queue_page
from review.models import Status
from review.queue import QueueFilter
from review.views import draft_view
from review.workflow import SIGNATURE_MEANINGS
from ui import common, labels
from ui.highlight import esc, message_html

PAGE_SIZES = (10, 25, 50, 100)
STATUS_LABELS = {s: labels.status(s) for s in Status.ALL}
FILTERS = {"queue_text": "", "queue_brand": None, "queue_campaign": None, "queue_status": [Status.IN_REVIEW], "queue_page_size": 50}


def _risk(errors: int, warnings: int, fallbacks: int) -> str:
    words = ((errors, "error", "errors"), (warnings, "warning", "warnings"), (fallbacks, "human-written fallback", "human-written fallbacks"))
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in words if n]
    return " · ".join(parts) if parts else "clean"


def render() -> None:
    user = common.require_user()
    st.title("Review queue")
    brands, camps = common.read(queue_filter_options, user)
    for key, default in FILTERS.items():  # the filters survive a visit to a draft and back
        common.sticky(key, default)
    if st.session_state["queue_brand"] not in (None, *brands):
        st.session_state["queue_brand"] = None
    if st.session_state["queue_campaign"] not in (None, *camps):
        st.session_state["queue_campaign"] = None
    f0, f1, f2, f3, f4 = st.columns([3, 2, 2, 3, 1])
    text = f0.text_input("Search", key="queue_text", placeholder="campaign, brand, audience group or #draft")
    brand_id = f1.selectbox(
        "Brand", [None, *brands], format_func=lambda i: "All brands" if i is None else brands[i], key="queue_brand", placeholder="All brands"
    )
    campaign_id = f2.selectbox(
        "Campaign", [None, *camps], format_func=lambda i: "All campaigns" if i is None else camps[i], key="queue_campaign", placeholder="All campaigns"
    )
    statuses = f3.multiselect("Status", list(Status.ALL), format_func=STATUS_LABELS.get, key="queue_status")
    page_size = f4.selectbox("Per page", PAGE_SIZES, key="queue_page_size")
    for key in FILTERS:
        common.kept(key)
    flt = QueueFilter(statuses=tuple(statuses), brand_id=brand_id, campaign_id=campaign_id, text=text.strip())
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
        "sorted by risk (errors, warnings, human-written fallbacks), then longest waiting"
    )
    if not qp.rows:
        st.info("Nothing waiting here.", icon=":material/inbox:")
        _bulk_approve(user, [])  # the last bulk signature's report, or the sheet, stays in view
        return
    # What a reviewer decides on comes first (risk, signatures, waiting), and the widths add up to
    # what a 1400 px screen leaves beside the sidebar: nothing scrolls sideways. The brand is a
    # filter above and is named on the draft page.
    table = [
        {
            "Draft": r.draft_id,
            "Risk": _risk(r.errors, r.warnings, r.fallbacks),
            "Approvals": f"{r.approvals}/{r.approvals_required}",
            "Waiting since": common.fmt_ts(r.updated_at),
            "Status": STATUS_LABELS.get(r.status, r.status),
            "Campaign": r.campaign,
            "Audience group": r.variant,
            "Recipients": r.recipients,
        }
        for r in qp.rows
    ]
    widths = {"Draft": 60, "Risk": 180, "Approvals": 80, "Waiting since": 150, "Status": 100, "Campaign": 120, "Audience group": 120, "Recipients": 80}
    event = st.dataframe(
        table,
        hide_index=True,
        key="queue_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            name: (
                st.column_config.NumberColumn(width=w, format="#%d" if name == "Draft" else None)
                if name in ("Draft", "Recipients")
                else st.column_config.TextColumn(width=w)
            )  # type: ignore[arg-type]
            for name, w in widths.items()
        },
        height=min(38 + 35 * len(table), 560),
    )
    ids = [r.draft_id for r in qp.rows]
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected:
        del st.session_state["queue_table"]  # coming back to the queue must not re-open it
        common.open_draft(qp.rows[selected[0]].draft_id, ids)

    c1, c2, c3, c4 = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
    chosen = c1.selectbox("Draft to open", ids, format_func=lambda i: f"#{i} · {next(r.variant for r in qp.rows if r.draft_id == i)}", key="queue_open_id")
    if c2.button("Open draft", key="queue_open", type="primary", icon=":material/open_in_new:"):
        common.open_draft(chosen, ids)
    if c3.button("◀ Previous", key="queue_prev", disabled=qp.page <= 1):
        st.session_state["queue_page"] = qp.page - 1
        st.rerun()
    if c4.button(f"Next ▶ (page {qp.page} of {qp.pages})", key="queue_next", disabled=qp.page >= qp.pages):
        st.session_state["queue_page"] = qp.page + 1
        st.rerun()

    _bulk_approve(user, [r.draft_id for r in qp.rows if r.status == Status.IN_REVIEW and not r.errors and not r.warnings])


SHEET_KEY = "bulk_sheet"  # drafts on the review sheet, in order
SHOWN_KEY = "bulk_shown"  # {draft id: content hash} the sheet displayed on its last run
REPORT_KEY = "bulk_report"  # [(draft id, signed, detail)] of the last bulk signature


def _bulk_approve(user, candidate_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Pick finding-free drafts (none picked to start with), read each in full on one review
    sheet, then sign exactly the texts the sheet showed."""
    sheet = list(st.session_state.get(SHEET_KEY) or [])
    if sheet:
        _report()
        _review_sheet(user, sheet)
        return
    clean = common.read(drafts_without_findings, user, candidate_ids)
    report = st.session_state.get(REPORT_KEY)
    if not candidate_ids and not report:
        return
    title = f"Sign several drafts with no findings ({len(clean)} on this page)"
    with st.expander(title, icon=":material/done_all:", expanded=bool(report)):
        _report()
        if not clean:
            st.write("No draft on this page is free of findings and still needs your signature; open each one and decide on its own.")
            return
        st.caption(
            "Choose drafts, then read each one in full on a review sheet; a signature covers only the text the sheet showed. "
            "Each draft gets its own signature, manifest and audit event. Drafts with any finding are never signed in bulk."
        )
        if "bulk_ids" in st.session_state:  # drafts signed or changed meanwhile drop out of the choice
            st.session_state["bulk_ids"] = [i for i in st.session_state["bulk_ids"] if i in clean]
        picked = st.pills("Drafts to review together", clean, selection_mode="multi", format_func=lambda i: f"#{i}", key="bulk_ids") or []
        if st.button("Review the chosen drafts", key="bulk_review", icon=":material/fact_check:", disabled=not picked):
            st.session_state[SHEET_KEY] = list(picked)
            st.session_state.pop(SHOWN_KEY, None)
            st.session_state.pop(REPORT_KEY, None)
            st.rerun()


def _report() -> None:
    report = st.session_state.get(REPORT_KEY)
    if not report:
        return
    signed = [(i, detail) for i, ok, detail in report if ok]
    if signed:
        st.success("Signed: " + "; ".join(f"#{i} ({detail})" for i, detail in signed), icon=":material/verified:")
    for i, ok, detail in report:
        if not ok:
            st.error(f"Draft #{i} not signed: {detail}", icon=":material/error:")


def _review_sheet(user, sheet: list[int]) -> None:  # type: ignore[no-untyped-def]
    # What the reviewer is signing is what the previous run displayed: a draft edited since is
    # shown anew below, and signing it with the old hash is refused.
    seen: dict[int, str] = dict(st.session_state.get(SHOWN_KEY) or {})
    st.subheader(f"Review sheet: {len(sheet)} draft(s)")
    st.caption("Each message in full, exactly as it ships to its sample recipient. Read every one: your signature covers these texts and nothing else.")
    shown: dict[int, str] = {}
    for draft_id in sheet:
        out = common.call(draft_view, user, draft_id, show_error=False)
        with st.container(border=True, key=f"sheet_{draft_id}"):
            if not out.ok:
                st.error(f"Draft #{draft_id} cannot be shown: {out.error}", icon=":material/error:")
                continue
            v = out.value
            st.markdown(
                f"**Draft #{draft_id}** · {esc(v.campaign.name)} · audience group **{esc(v.variant.label)}** · {v.variant.recipient_count} recipient(s) · "
                f"revision {v.draft.revision} · sample recipient {esc(v.recipient.external_id)} · "
                f"{v.valid_approval_count} of {v.policy.approvals_required} signature(s)",
                unsafe_allow_html=True,
            )
            st.markdown(
                message_html(v.rendered.subject, v.rendered.fixed_segments, v.rendered.slot_sequence, v.draft.slots, v.draft.findings),
                unsafe_allow_html=True,
            )
            shown[draft_id] = v.draft.content_hash
    st.session_state[SHOWN_KEY] = shown
    with st.form("bulk_form", clear_on_submit=True):
        meaning = st.selectbox("Signature meaning", SIGNATURE_MEANINGS, key="bulk_meaning")
        password = st.text_input("Your password (re-entered to sign)", type="password", key="bulk_password")
        go = st.form_submit_button(f"Sign the {len(sheet)} draft(s) shown above", key="bulk_submit", type="primary", icon=":material/verified:")
    if st.button("Close the sheet without signing", key="bulk_close", icon=":material/close:"):
        for key in (SHEET_KEY, SHOWN_KEY, REPORT_KEY):
            st.session_state.pop(key, None)
        st.rerun()
    if not go:
        return
    out = common.call(approve_shown, user, {i: seen[i] for i in sheet if i in seen}, password=password, meaning=meaning, show_error=False)
    if not out.ok:
        st.error(f"Nothing was signed: {out.error}", icon=":material/error:")
        return
    common.record_refusals(o.error for o in out.value)
    report = [(o.draft_id, o.signed, o.detail) for o in out.value]
    report += [(i, False, "it was not shown on the sheet") for i in sheet if i not in seen]
    st.session_state[REPORT_KEY] = report
    st.session_state[SHEET_KEY] = [i for i, ok, _ in report if not ok]  # what is left to decide stays on the sheet
    st.rerun()


if __name__ == "__main__":
    render()
