"""Audit trail page: search, pagination, chain verification (OK and broken)."""

from __future__ import annotations

import pytest
from sqlmodel import select
from ui_helpers import errors

from review.dashboard import audit_search
from review.errors import PermissionDenied
from review.models import AuditEvent

PAGE = "ui/pages/audit.py"


def _table(at):
    return next(df for df in at.dataframe if "Action" in df.value.columns).value


def test_search_and_paginate(app, world):
    at = app("admin", page=PAGE)
    at.selectbox(key="audit_page_size").set_value(20).run()
    first = _table(at)
    assert len(first) == 20
    assert list(first["#"]) == sorted(first["#"], reverse=True)  # newest first
    at.button(key="audit_next").click().run()
    assert not at.exception
    assert set(_table(at)["#"]).isdisjoint(first["#"])
    at.text_input(key="audit_text").input("maria").run()
    assert not at.exception
    assert set(_table(at)["Who"]) == {"maria"}
    at.text_input(key="audit_text").input("nobody-by-this-name").run()
    assert any("No event matches" in i.value for i in at.info)
    at.text_input(key="audit_text").input("")
    at.selectbox(key="audit_action").select("draft_in_review").run()
    assert set(_table(at)["Action"]) == {"Draft in review"}


def test_verify_chain_ok_then_broken(app, world):
    at = app("rita", page=PAGE)
    at.button(key="audit_verify").click().run()
    assert not at.exception
    assert any("audit chain OK" in s.value for s in at.success)
    with world.session() as s:  # tamper with history
        ev = s.exec(select(AuditEvent).where(AuditEvent.seq == 3)).one()
        ev.actor = "mallory"
        s.add(ev)
        s.commit()
    at.button(key="audit_verify").click().run()
    assert not at.exception
    assert any("BROKEN at event #3" in e for e in errors(at))


def test_marketers_see_only_their_own_campaigns_events(world):
    """Issue 13 item 8: a marketer has an audit view, of the campaigns they created and their drafts."""
    from review.models import Campaign, Draft

    with world.session() as s:
        own = {str(c.id) for c in s.exec(select(Campaign).where(Campaign.created_by == world.user("maria").id)).all()}
        drafts = {str(d.id) for d in s.exec(select(Draft)).all() if str(d.campaign_id) in own}
        events, total = audit_search(s, world.user("maria"), limit=10_000)
        everything, all_total = audit_search(s, world.user("admin"), limit=10_000)
    assert own and 0 < total < all_total
    assert all((e.entity == "campaign" and e.entity_id in own) or (e.entity == "draft" and e.entity_id in drafts) for e in events)
    assert any(e.entity == "draft" for e in events)
    assert not any(e.entity == "user" for e in events)


def test_a_deactivated_marketer_is_refused_by_the_service(world):
    with world.session() as s:
        maria = s.get(type(world.user("maria")), world.user("maria").id)
        maria.active = False
        with pytest.raises(PermissionDenied):
            audit_search(s, maria)


def test_details_are_readable_and_the_csv_is_safe(app, world):
    import csv
    import io

    from review.dashboard import audit_csv

    at = app("maria", page=PAGE)
    table = _table(at)
    assert not any(str(d).startswith("{") for d in table["Details"])
    assert "generator (model)" in set(table["Who"])
    generated = next(d for a, d in zip(table["Action"], table["Details"], strict=True) if a == "Draft generated")
    assert "text fingerprint: " in generated and "human-written fallbacks: " in generated
    at.button(key="audit_csv_prepare").click().run()
    assert not at.exception
    assert at.get("download_button")[0].proto.label == "Download the audit CSV"
    with world.session() as s:
        data = audit_csv(s, world.user("admin"), action="draft_generated")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows and all(r["action"] == "draft_generated" for r in rows)
    assert all("." not in r["time_utc"] for r in rows) and rows[0]["data_json"].startswith("{")


def test_csv_cells_are_neutralized(world):
    import csv
    import io

    from review import audit
    from review.dashboard import audit_csv

    with world.session() as s:
        audit.append(s, actor="=HYPERLINK(1)", action="note", entity="campaign", entity_id="1", after={"x": "+1"})
        s.commit()
        data = audit_csv(s, world.user("admin"), action="note")
    row = next(csv.DictReader(io.StringIO(data.decode())))
    assert row["actor"].startswith("'=") and not row["details"].startswith(("=", "+", "-", "@"))
