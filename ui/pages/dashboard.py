"""Dashboard: queue size over time, decision rates, time to decision, frequent findings."""

from __future__ import annotations

import altair as alt
import streamlit as st

from review.dashboard import dashboard
from ui import common, labels


def render() -> None:
    user = common.require_user()
    st.title("Dashboard")
    data = common.read(dashboard, user)
    sc = data.status_counts
    shown = ("checked", "in_review", "needs_changes", "approved", "published", "rejected")
    for col_, code in zip(st.columns(len(shown)), shown, strict=True):
        col_.metric(labels.status(code), sc.get(code, 0))
    rates = data.decision_rates
    if rates:
        st.caption(" · ".join(f"{k}: {v:.0%}" for k, v in sorted(rates.items())) + " of all decisions")

    c1, c2 = st.columns(2, gap="large")
    with c1:
        st.subheader("Queue size over time")
        if data.queue_size:
            chart = (
                alt.Chart(alt.Data(values=[{"ts": r["ts"].isoformat(), "in_review": r["in_review"]} for r in data.queue_size]))
                .mark_line(interpolate="step-after")
                .encode(
                    x=alt.X("ts:T", title="time (UTC)", axis=alt.Axis(format="%b %d %H:%M", labelAngle=0, tickCount=5)),
                    y=alt.Y("in_review:Q", title="drafts in review", axis=alt.Axis(tickMinStep=1)),
                )
            )
            st.altair_chart(chart, key="dash_queue")
        else:
            st.caption("No drafts have been submitted yet.")
    with c2:
        st.subheader("Decisions per day")
        if data.decisions:
            chart = (
                alt.Chart(alt.Data(values=data.decisions))
                .mark_bar()
                .encode(
                    x=alt.X("day:N", title="day", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("count:Q", title="decisions", axis=alt.Axis(tickMinStep=1)),
                    color=alt.Color(
                        "decision:N", scale=alt.Scale(domain=["approved", "changes requested", "rejected"], range=["#2e7d32", "#ef6c00", "#c62828"])
                    ),
                )
            )
            st.altair_chart(chart, key="dash_decisions")
        else:
            st.caption("No decisions yet.")
    c3, c4 = st.columns(2, gap="large")
    with c3:
        st.subheader("Time to decision")
        if data.time_to_decision:
            chart = (
                alt.Chart(alt.Data(values=data.time_to_decision))
                .mark_bar()
                .encode(
                    x=alt.X("hours:Q", bin=alt.Bin(maxbins=20), title="hours from submission to decision"),
                    y=alt.Y("count():Q", title="drafts", axis=alt.Axis(tickMinStep=1)),
                    color="decision:N",
                )
            )
            st.altair_chart(chart, key="dash_ttd")
        else:
            st.caption("No decisions yet.")
    with c4:
        st.subheader("Most frequent findings")
        if data.findings_by_rule:
            # A rule is named by what it says (its id kept in brackets for rule-file editors).
            values = [{**f, "label": labels.rule(f["rule"], f.get("message", ""))[:90]} for f in data.findings_by_rule]
            chart = (
                alt.Chart(alt.Data(values=values))
                .mark_bar()
                .encode(
                    y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelLimit=420)),
                    x=alt.X("count:Q", title="findings on open drafts"),
                    color=alt.Color("level:N", scale=alt.Scale(domain=["error", "warning", "suggestion"], range=["#c62828", "#f9a825", "#1565c0"])),
                )
            )
            st.altair_chart(chart, key="dash_findings")
        else:
            st.caption("No findings on open drafts.")


if __name__ == "__main__":
    render()
