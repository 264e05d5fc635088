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
    assert set(_table(at)["Actor"]) == {"maria"}
    at.text_input(key="audit_text").input("nobody-by-this-name").run()
    assert any("No event matches" in i.value for i in at.info)
    at.text_input(key="audit_text").input("")
    at.selectbox(key="audit_action").select("draft_in_review").run()
    assert set(_table(at)["Action"]) == {"draft_in_review"}


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


def test_marketers_are_refused_by_the_service(world):
    with world.session() as s, pytest.raises(PermissionDenied):
        audit_search(s, world.user("maria"))
