"""Dashboard page: charts built from audit events, approvals and findings."""

from __future__ import annotations

from review.checks import warning_ids
from review.dashboard import dashboard
from review.models import Status
from review.workflow import SIGNATURE_MEANINGS, approve, reject


def _decide(world):
    rita = world.user("rita")
    pending = world.drafts(Status.IN_REVIEW)
    with world.session() as s:
        a = pending[0]
        approve(
            s, rita, a.id, password="rita-demo-pass", meaning=SIGNATURE_MEANINGS[0], acknowledged=warning_ids(a.findings), expected_content_hash=a.content_hash
        )
        reject(s, rita, pending[1].id, comment="Not on brand.")
        s.commit()


def test_dashboard_shows_charts(app, world):
    _decide(world)
    at = app("maria", page="ui/pages/dashboard.py")
    assert at.title[0].value == "Dashboard"
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 3
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Approved"] == "1" and metrics["Rejected"] == "1"
    assert "approved: 50%" in " ".join(c.value for c in at.caption)


def test_dashboard_queries(world):
    _decide(world)
    with world.session() as s:
        data = dashboard(s, world.user("rita"))
    assert data.decision_rates == {"approved": 0.5, "rejected": 0.5}
    assert data.queue_size[-1]["in_review"] == len(world.drafts(Status.IN_REVIEW))
    assert max(p["in_review"] for p in data.queue_size) == len(world.drafts(Status.IN_REVIEW)) + 2
    assert {t["decision"] for t in data.time_to_decision} == {"approved", "rejected"}
    assert all(t["hours"] >= 0 for t in data.time_to_decision)
    assert sum(d["count"] for d in data.decisions) == 2


def test_findings_are_named_by_their_message_and_statuses_in_plain_words(app, world):
    finding = {"rule": "hm.no-guarantees", "level": "warning", "message": "Avoid promising outcomes", "match": "sure", "scope": "message", "slot": None}
    with world.session() as s:
        d = s.get(type(world.drafts()[0]), world.drafts()[0].id)
        d.findings = [finding]
        s.add(d)
        s.commit()
        data = dashboard(s, world.user("rita"))
    assert data.findings_by_rule and all(f["message"] for f in data.findings_by_rule)
    at = app("maria", page="ui/pages/dashboard.py")
    metrics = {m.label for m in at.metric}
    assert {"Generated, not submitted", "In review", "Changes requested"} <= metrics
    assert not at.exception, at.exception
    charts = " ".join(str(c.proto) for c in at.get("vega_lite_chart"))
    assert "Avoid promising outcomes (hm.no-guarantees)" in charts
