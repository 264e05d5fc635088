"""My work: what is waiting on me. Reviewers: drafts assigned to them, overdue first. Authors:
drafts sent back with changes requested (with the comment) and where the others stand. Admins
also see the team's load and the steps nobody is assigned to."""

from __future__ import annotations

from typing import Any

import pandas as pd  # streamlit's own dependency
import streamlit as st

from review.assignments import assign
from review.models import Role
from review.my_work import MyWork, my_work, reviewer_choices
from ui import common, labels
from ui.highlight import esc

DUE_LABELS = {"overdue": "Overdue", "due_soon": "Due within 24 h", "due": "", "": ""}


def _due(due_at: Any, state: str) -> str:
    if due_at is None:
        return "no due date"
    flag = DUE_LABELS.get(state, "")
    return f"{common.fmt_ts(due_at)}" + (f" · {flag}" if flag else "")


def _highlight(row: Any) -> list[str]:
    colour = {"Overdue": "background-color: #fde2e1", "Due within 24 h": "background-color: #fff4d6"}.get(row["State"], "")
    return [colour] * len(row)


def _open_picker(ids: list[int], names: dict[int, str], key: str) -> None:
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    pick = c1.selectbox("Draft", ids, format_func=lambda i: names[i], key=f"{key}_pick")
    if c2.button("Open draft", key=f"{key}_open", type="primary"):
        common.open_draft(pick, ids)


def _assigned(work: MyWork) -> None:
    st.subheader("Assigned to you")
    if not work.assigned:
        st.caption("Nothing is assigned to you right now.")
        return
    if work.overdue:
        st.error(f"{work.overdue} overdue: they are at the top.", icon=":material/alarm:")
    rows = [
        {
            "Draft": w.draft_id,
            "Step": w.step,
            "Campaign": w.campaign,
            "Audience group": w.variant,
            "Due": _due(w.due_at, w.due),
            "State": DUE_LABELS.get(w.due, "") or "on time",
            "Assigned": common.fmt_ts(w.assigned_at),
            "By": w.assigned_by,
        }
        for w in work.assigned
    ]
    frame = pd.DataFrame(rows)
    draft_col = {"Draft": st.column_config.NumberColumn(format="#%d")}
    st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, key="mywork_assigned", column_config=draft_col)
    _open_picker([w.draft_id for w in work.assigned], {w.draft_id: f"#{w.draft_id} · {w.step} · {w.campaign}" for w in work.assigned}, "mywork_assigned")


def _authored(work: MyWork) -> None:
    st.subheader("Changes requested on your drafts")
    if not work.changes_requested:
        st.caption("No draft of yours is waiting on changes.")
    for c in work.changes_requested:
        with st.container(border=True):
            when = f" · {common.fmt_ts(c.comment_at)}" if c.comment_at else ""
            st.markdown(f"**Draft #{c.draft_id}** · {esc(c.campaign)} · {esc(c.variant)}  \n{esc(c.comment_by)}{when}")
            st.markdown(f"> {esc(c.comment) or '(no comment)'}")
            if c.due_at is not None:
                st.caption(f"Review due {_due(c.due_at, c.due)}")
            if st.button("Open draft", key=f"mywork_changes_{c.draft_id}"):
                common.open_draft(c.draft_id, [x.draft_id for x in work.changes_requested])
    st.subheader("Where your drafts stand")
    if work.status_counts:
        cols = st.columns(min(len(work.status_counts), 6))
        for col, (status, n) in zip(cols, sorted(work.status_counts.items()), strict=False):
            col.metric(labels.status(status), n)
    if work.in_progress:
        rows = [
            {
                "Draft": i.draft_id,
                "Campaign": i.campaign,
                "Audience group": i.variant,
                "Status": labels.status(i.status),
                "Waiting for step": ", ".join(i.open_steps),
                "Assigned to": ", ".join(i.assigned) or ("nobody yet" if i.open_steps else ""),
                "Due": _due(i.due_at, i.due) if i.due_at else "",
            }
            for i in work.in_progress
        ]
        st.dataframe(rows, hide_index=True, key="mywork_progress", column_config={"Draft": st.column_config.NumberColumn(format="#%d")})


def _team(work: MyWork) -> None:
    st.subheader("Team")
    rows = [
        {"Reviewer": m.username, "Name": m.full_name, "Open assignments": m.open_assignments, "Overdue": m.overdue, "Away": "away" if m.away else ""}
        for m in work.team
    ]
    st.dataframe(rows, hide_index=True, key="mywork_team")
    if work.unassigned:
        st.warning(f"{len(work.unassigned)} open step(s) have fewer reviewers assigned than they need.", icon=":material/person_search:")
        st.dataframe(
            [
                {"Draft": g.draft_id, "Step": g.step, "Reviewers missing": g.short, "Campaign": g.campaign, "Due": _due(g.due_at, g.due)}
                for g in work.unassigned
            ],
            hide_index=True,
            key="mywork_unassigned",
        )


def _assign_form(user: Any) -> None:
    people = common.read(reviewer_choices, user)
    if not people:
        return
    with st.expander("Assign a draft", icon=":material/assignment_ind:"):
        names = {p.id: f"{p.username} ({p.open_assignments} open{', away' if p.away else ''})" for p in people}
        c1, c2, c3 = st.columns(3)
        draft_id = c1.number_input("Draft", min_value=1, step=1, key="mywork_assign_draft")
        step = c2.text_input("Step", value="review", key="mywork_assign_step")
        to = c3.selectbox("Reviewer", list(names), format_func=names.get, key="mywork_assign_to")
        if st.button("Assign", key="mywork_assign", type="primary"):
            out = common.call(assign, user, int(draft_id), step=step.strip(), to_user_id=to)
            if out.ok:
                who = next(p.username for p in people if p.id == to)
                common.flash(f"Draft #{int(draft_id)}: the {step.strip()} step is assigned to {who}.", "success")
                st.rerun()


def render() -> None:
    user = common.require_user()
    work = common.read(my_work, user)
    st.title("My work")
    if user.role in (Role.REVIEWER, Role.ADMIN):
        _assigned(work)
    if user.role in (Role.MARKETER, Role.ADMIN):
        _authored(work)
    if user.role == Role.ADMIN:
        _team(work)
    if user.role in (Role.REVIEWER, Role.ADMIN):
        _assign_form(user)


if __name__ == "__main__":
    render()
