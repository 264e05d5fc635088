"""The hash-chained audit trail."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select

from review import audit
from review.models import AuditEvent


def _events(session: Session, n: int) -> None:
    for i in range(n):
        audit.append(session, actor="t", action="thing", entity="x", entity_id=i, before={"i": i}, after={"i": i + 1, "note": "ünïcode"})
    session.commit()


def test_chain_verifies(session: Session) -> None:
    _events(session, 5)
    report = audit.verify_chain(session)
    assert report.ok and report.events == 5
    seqs = [e.seq for e in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]
    assert seqs == [1, 2, 3, 4, 5]


def test_edited_event_is_the_first_broken_link(session: Session) -> None:
    _events(session, 5)
    session.exec(text("UPDATE auditevent SET actor = 'mallory' WHERE seq = 3"))  # type: ignore[call-overload]
    session.commit()
    session.expire_all()
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "content does not match" in report.reason


def test_deleted_event_is_detected(session: Session) -> None:
    _events(session, 5)
    session.exec(text("DELETE FROM auditevent WHERE seq = 2"))  # type: ignore[call-overload]
    session.commit()
    report = audit.verify_chain(session)
    assert not report.ok and report.first_broken_seq == 2
    assert "missing" in report.reason


def test_truncated_tail_is_detected(session: Session) -> None:
    _events(session, 5)
    session.exec(text("DELETE FROM auditevent WHERE seq = 5"))  # type: ignore[call-overload]
    session.commit()
    report = audit.verify_chain(session)
    assert not report.ok and "deleted from the end" in report.reason


def test_rolled_back_work_leaves_no_event(session: Session) -> None:
    _events(session, 2)
    audit.append(session, actor="t", action="doomed", entity="x", entity_id=9)
    session.rollback()
    assert audit.verify_chain(session).ok
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "doomed")).first() is None
    _events(session, 1)
    assert audit.verify_chain(session).events == 3
