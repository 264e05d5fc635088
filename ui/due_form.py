"""Due-date widgets for the campaigns page: pick one when creating a campaign, change or clear
it later. Dates and times are entered in the viewer's timezone and stored in UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from review.due_dates import as_utc, set_due_date
from ui import common

DEFAULT_TIME = time(17, 0)


def _local(d: date, t: time) -> datetime:
    return datetime.combine(d, t, tzinfo=common.viewer_zone())


def pick(prefix: str) -> datetime | None:
    """A 'due date' choice (None: no due date). The service checks it lies in the future."""
    if not st.checkbox("Set a due date for the review", key=f"{prefix}_due_on"):
        return None
    c1, c2 = st.columns(2)
    d = c1.date_input("Review due on", value=date.today() + timedelta(days=3), key=f"{prefix}_due_date")
    t = c2.time_input("at (your time)", value=DEFAULT_TIME, key=f"{prefix}_due_time")
    return _local(d, t)


def edit(user: Any, camp: Any) -> None:
    """Show a campaign's due date and let a marketer or admin change or clear it."""
    current = f"due **{common.fmt_ts(camp.due_at)}**" if camp.due_at else "no due date"
    st.caption(f"Review {current}. Drafts in review inherit it; reviewers are reminded 24 hours before and when it has passed.")
    with st.expander("Change the due date", icon=":material/event:"):
        prefix = f"camp_{camp.id}_edit"
        c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
        start = as_utc(camp.due_at).astimezone(common.viewer_zone()) if camp.due_at else None
        d = c1.date_input("Due on", value=(start.date() if start else date.today() + timedelta(days=3)), key=f"{prefix}_date")
        t = c2.time_input("at (your time)", value=(start.time() if start else DEFAULT_TIME), key=f"{prefix}_time")
        if c3.button("Save", key=f"{prefix}_save", type="primary"):
            _save(user, camp, _local(d, t))
        if camp.due_at and st.button("Remove the due date", key=f"{prefix}_clear"):
            _save(user, camp, None)


def _save(user: Any, camp: Any, due: datetime | None) -> None:
    out = common.call(set_due_date, user, camp.id, due)
    if out.ok:
        common.flash(f"Campaign '{camp.name}': " + (f"review due {common.fmt_ts(out.value.due_at)}." if out.value.due_at else "no due date."), "success")
        st.rerun()
