"""Campaigns: template × audience → audience groups; generate with progress, cancel; then each draft."""

from __future__ import annotations

import streamlit as st

from review.campaigns import create_campaign
from review.generation import Progress
from review.generation.queue_jobs import cancel_generation, start_generation
from review.models import JobStatus
from review.views import (
    HeldBack,
    audiences,
    brand_names,
    campaign_drafts,
    campaign_held_back,
    campaign_plan,
    campaigns,
    job_progress,
    latest_job,
    templates,
)
from review.workflow import submit_ready
from ui import common, due_form, jobs, labels
from ui.highlight import esc


def progress_text(p: Progress) -> str:
    """'3 of 7 audience groups drafted · about 2 min left · running for 1 min 5 s'."""
    text = f"Generation {labels.JOB_STATUS.get(p.status, p.status)}: {p.done} of {p.total} audience groups drafted"
    if p.status in JobStatus.ACTIVE:
        if p.eta_seconds is not None:
            text += f" · about {labels.duration(p.eta_seconds)} left"
        elif p.status == JobStatus.RUNNING:
            text += " · estimating the time left after the first audience group"
        elif p.status == JobStatus.QUEUED:
            text += " · waiting for a free generation worker"
        if p.elapsed_seconds is not None and p.status == JobStatus.RUNNING:
            text += f" · running for {labels.duration(p.elapsed_seconds)}"
    return text


def held_back_notice(held: HeldBack, key: str) -> None:
    """'N recipients held back', the reasons, and the first few recipients."""
    if not held.count:
        return
    st.warning(
        f"**{held.count} recipient(s) held back**: their own field values break the brand's rules, so their messages will not be "
        f"exported (the export lists them in a held-back report). Reasons: {esc(held.summary())}",
        icon=":material/person_off:",
    )
    st.dataframe(held.examples, hide_index=True, key=key)
    if held.count > len(held.examples):
        st.caption(f"The first {len(held.examples)} of {held.count}.")


def _create(user) -> None:  # type: ignore[no-untyped-def]
    tvs = common.read(templates, user)
    auds = common.read(audiences, user)
    if not tvs or not auds:
        st.info("Create a template and import an audience first.")
        return
    tv_opts = {tv.id: f"{t.name} v{tv.version} ({b.name})" for t, b, tv in tvs}
    aud_opts = {a.id: f"{a.name} — {a.row_count} rows, {a.consent_count} with consent" for a in auds}
    name = st.text_input("Campaign name", key="camp_name")
    c1, c2 = st.columns(2)
    tv_id = c1.selectbox("Template version", list(tv_opts), format_func=tv_opts.get, key="camp_template")
    aud_id = c2.selectbox("Audience", list(aud_opts), format_func=aud_opts.get, key="camp_audience")
    plans = common.call(campaign_plan, user, tv_id, aud_id)
    if plans.ok:
        personalized = [p for p in plans.value if p.personalized]
        st.info(
            f"This makes **{len(plans.value)} audience group(s)** to generate and review: {len(personalized)} personalized, "
            f"{len(plans.value) - len(personalized)} with the human-written fallback only (no consent), "
            f"covering {sum(len(p.recipient_ids) for p in plans.value)} recipients.",
            icon=":material/account_tree:",
        )
        with st.expander("Audience groups"):
            st.dataframe(
                [{"Audience group": p.label, "Recipients": len(p.recipient_ids), "Personalized": p.personalized} for p in plans.value],
                hide_index=True,
                key="camp_plan_table",
            )
    due = due_form.pick("camp_new")
    if st.button("Create campaign", key="camp_create", type="primary", disabled=not plans.ok):
        out = common.call(create_campaign, user, name=name, template_version_id=tv_id, audience_id=aud_id, due_at=due)
        if out.ok:
            camp = out.value
            held = common.read(campaign_held_back, user, camp.id)  # who their own field values hold back
            st.session_state["camp_pick"] = camp.id
            extra = f" {held.count} recipient(s) held back by their own field values: {esc(held.summary())}" if held.count else ""
            common.flash(f"Campaign '{esc(camp.name)}' created.{extra}", "warning" if held.count else "success")
            st.rerun()


@st.fragment(run_every=1.0)
def _progress_panel(user, job_id: int) -> None:  # type: ignore[no-untyped-def]
    # Runs every second on its own: it must stop for a user deactivated or timed out meanwhile,
    # and must not count as activity (that would keep an idle session alive).
    if not common.still_signed_in():
        st.rerun(scope="app")
    p = common.read(job_progress, user, job_id)
    st.progress(p.fraction, text=progress_text(p))
    if p.status not in JobStatus.ACTIVE:
        st.rerun(scope="app")  # refresh the whole page once the job ends


def _generation(user, campaign_id: int, missing: int) -> None:  # type: ignore[no-untyped-def]
    engine = common.get_engine()
    job = common.read(latest_job, user, campaign_id)
    active = job is not None and job.status in JobStatus.ACTIVE
    if job is not None and active:
        if not jobs.is_running(engine, job.id):  # type: ignore[arg-type]
            st.warning(f"Generation job #{job.id} is unfinished (the app restarted?).")
            if st.button("Resume generation", key="gen_resume"):
                jobs.launch(engine, job.id)  # type: ignore[arg-type]
                st.rerun()
        else:
            _progress_panel(user, job.id)  # type: ignore[arg-type]
        if st.button("Cancel generation", key="gen_cancel", icon=":material/cancel:"):
            out = common.call(cancel_generation, user, job.id)
            if out.ok:
                common.flash("Cancellation requested: the job stops once the audience groups in flight are drafted.", "info")
                st.rerun()
        return
    if job is not None:
        p = common.read(job_progress, user, job.id)
        msg = f"Last generation job #{job.id}: {labels.JOB_STATUS.get(p.status, p.status)}, {p.done} of {p.total} audience groups drafted."
        (st.error if p.status == JobStatus.FAILED else st.caption)(msg + (f" {p.error}" if p.error else ""))
    if not missing:
        st.caption("Every audience group has its draft.")
        return
    label = "Generate drafts" if job is None else f"Generate the {missing} missing draft(s)"
    if st.button(label, key="gen_start", type="primary", icon=":material/auto_awesome:"):
        out = common.call(start_generation, user, campaign_id)
        if out.ok:
            jobs.launch(engine, out.value.id)
            st.rerun()


def _drafts(user, camp_id: int) -> None:  # type: ignore[no-untyped-def]
    page = st.session_state.get(f"camp_drafts_page_{camp_id}", 1)
    dp = common.read(campaign_drafts, user, camp_id, page=page)
    st.caption(f"{dp.drafted} of {dp.groups} audience groups have a draft.")
    if not dp.drafted:
        return
    if dp.pages > 1:
        st.number_input(f"Page (of {dp.pages}, {dp.page_size} drafts each)", 1, dp.pages, key=f"camp_drafts_page_{camp_id}")
    rows = dp.rows
    st.dataframe(
        [
            {
                "Draft": r.draft_id,
                "Audience group": r.variant,
                "Recipients": r.recipients,
                "Status": labels.status(r.status),
                "Errors": r.errors,
                "Warnings": r.warnings,
                "Human-written fallbacks": r.fallbacks,
            }
            for r in rows
        ],
        hide_index=True,
        key="camp_drafts_table",
        column_config={"Draft": st.column_config.NumberColumn(format="#%d")},
    )
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    names = {r.draft_id: r.variant for r in rows}
    pick = c1.selectbox("Draft", list(names), format_func=lambda i: f"#{i} · {names[i]}", key="camp_open_id")
    if c2.button("Open draft", key="camp_open", type="primary"):
        common.open_draft(pick, [r.draft_id for r in rows])  # type: ignore[arg-type]
    # A draft sent back for changes goes back only once changed (or, on its own page, with a
    # reply): submitting in bulk must not quietly undo a reviewer's request. The service decides
    # and says why it skipped each draft.
    if c3.button(f"Submit {dp.ready} error-free draft(s) for review", key="camp_submit_all", disabled=not dp.ready):
        out = common.call(submit_ready, user, camp_id)
        if out.ok:
            report = out.value
            skipped = f" Not submitted: {'; '.join(f'#{i}: {why}' for i, why in report.skipped)}." if report.skipped else ""
            common.flash(f"Submitted {len(report.submitted)} draft(s) for review.{skipped}", "success")
            st.rerun()
    if dp.unchanged:
        more = f" and {len(dp.unchanged) - 20} more" if len(dp.unchanged) > 20 else ""
        st.caption(f"Left out of the bulk submit, sent back for changes and not changed since: {_ids(dp.unchanged[:20])}{more}. Open each to edit it.")


def _ids(ids: list) -> str:  # type: ignore[type-arg]
    return ", ".join(f"#{i}" for i in ids)


def render() -> None:
    user = common.require_user()
    st.title("Campaigns")
    camps = common.read(campaigns, user)
    brands = common.read(brand_names, user)
    with st.expander("New campaign", expanded=not camps, icon=":material/add:"):
        _create(user)
    if not camps:
        return
    opts = {c.id: f"{c.name} ({brands.get(c.brand_id, '?')}, {c.channel})" for c in camps}
    if st.session_state.get("camp_pick") not in opts:
        st.session_state.pop("camp_pick", None)
    camp_id = st.selectbox("Campaign", list(opts), format_func=opts.get, key="camp_pick")
    counts = common.read(campaign_drafts, user, camp_id, page_size=1)
    due_form.edit(user, next(c for c in camps if c.id == camp_id))
    held_back_notice(common.read(campaign_held_back, user, camp_id), "camp_held_back")
    st.subheader("Generation")
    _generation(user, camp_id, counts.groups - counts.drafted)
    st.subheader("Drafts")
    _drafts(user, camp_id)


if __name__ == "__main__":
    render()
