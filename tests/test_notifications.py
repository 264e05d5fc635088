"""Notifications: one per kind with its comment and link, the inbox, email over a REAL local SMTP
server (aiosmtpd) sent only after the commit, a down server recorded without breaking the
workflow, and idempotent reminders (`python -m review remind`)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlmodel import col, select

from review.checks import warning_ids
from review.db import session_scope
from review.due_dates import set_due_date
from review.errors import NotFound
from review.generation import generate_campaign
from review.models import AuditEvent, Delivery, Draft, Notification, NotificationKind, Status, User
from review.notifications import deliver, inbox, mark_read, open_notification, unread_count
from review.profiles import set_email
from review.reminders import remind
from review.workflow import SIGNATURE_MEANINGS, approve, reject, request_changes, submit_for_review

K = NotificationKind
APP_URL = "https://countersign.example.test"


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # aiosmtpd's handler hook
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    """A real SMTP server on localhost, and the app configured to send through it."""
    handler = Inbox()
    port = handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("COUNTERSIGN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COUNTERSIGN_SMTP_PORT", str(port))
    monkeypatch.setenv("COUNTERSIGN_SMTP_STARTTLS", "false")
    monkeypatch.setenv("COUNTERSIGN_SMTP_FROM", "countersign@acme.example")
    monkeypatch.setenv("COUNTERSIGN_APP_URL", APP_URL + "/")
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def flow(world, fake_filler):  # type: ignore[no-untyped-def]
    """Generated drafts, and everyone with an email address."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    for u in (world.admin, world.marketer, world.reviewer, world.reviewer2):
        set_email(world.session, world.admin, u.id, f"{u.username}@acme.example")
    world.session.commit()
    world.session.expire_all()
    return world


def drafts(w) -> list[Draft]:  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).all())


def notes(w, user, kind: str | None = None) -> list[Notification]:  # type: ignore[no-untyped-def]
    q = select(Notification).where(Notification.user_id == user.id)
    if kind:
        q = q.where(Notification.kind == kind)
    return list(w.session.exec(q.order_by(col(Notification.id))).all())


def act(w, fn, *args, **kw):  # type: ignore[no-untyped-def]
    """One unit of work the way the app runs it (commit, then the after-commit email)."""
    with session_scope(w.engine) as s:
        return fn(s, *args, **kw)


def sign(w, who, draft_id: int) -> None:  # type: ignore[no-untyped-def]
    d = w.session.get(Draft, draft_id)
    w.session.refresh(d)
    act(
        w,
        approve,
        who,
        draft_id,
        password=w.PASSWORDS[who.username],
        meaning=SIGNATURE_MEANINGS[0],
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
    )


def body(msg: Message) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


# ------------------------------------------------------------------------- each kind, in-app


def test_each_decision_notifies_with_its_comment_and_a_link_to_the_draft(flow) -> None:  # type: ignore[no-untyped-def]
    w = flow
    first, second, third = drafts(w)[:3]
    act(w, submit_for_review, w.marketer, first.id)
    w.session.expire_all()
    for r in (w.reviewer, w.reviewer2):  # acme-pharma needs two: both are assigned
        [n] = notes(w, r, K.ASSIGNED)
        assert n.draft_id == first.id and n.link == f"/draft?draft={first.id}" and "review step" in n.title
    act(w, request_changes, w.reviewer, first.id, comment="Drop the word 'guaranteed', please.")
    w.session.expire_all()
    [n] = notes(w, w.marketer, K.CHANGES_REQUESTED)
    assert n.comment == "Drop the word 'guaranteed', please." and "Rita Reviewer requested changes" in n.title and n.actor == "rita"
    act(w, submit_for_review, w.marketer, second.id)
    sign(w, w.reviewer, second.id)
    w.session.expire_all()
    assert notes(w, w.marketer, K.APPROVED) == []  # one of two signatures: not approved yet
    sign(w, w.reviewer2, second.id)
    w.session.expire_all()
    [n] = notes(w, w.marketer, K.APPROVED)
    assert n.draft_id == second.id and "is approved" in n.title
    act(w, submit_for_review, w.marketer, third.id)
    act(w, reject, w.reviewer2, third.id, comment="Not for this audience.")
    w.session.expire_all()
    [n] = notes(w, w.marketer, K.REJECTED)
    assert n.comment == "Not for this audience." and n.link == f"/draft?draft={third.id}"
    assert notes(w, w.admin) == []  # nobody else hears about it
    assert len(w.session.exec(select(AuditEvent).where(AuditEvent.action == "notified")).all()) == len(w.session.exec(select(Notification)).all())


def test_the_inbox_counts_unread_and_marks_only_ones_own_read(flow) -> None:  # type: ignore[no-untyped-def]
    w = flow
    for d in drafts(w)[:2]:
        act(w, submit_for_review, w.marketer, d.id)
    w.session.expire_all()
    box = act(w, inbox, w.reviewer)
    assert box.unread == box.total == 2 and [i.kind for i in box.items] == [K.ASSIGNED, K.ASSIGNED]
    assert box.items[0].id > box.items[1].id  # newest first
    others = notes(w, w.reviewer2)
    with pytest.raises(NotFound, match="not found in rita's inbox"):
        act(w, mark_read, w.reviewer, [others[0].id])
    with pytest.raises(NotFound):
        act(w, open_notification, w.reviewer, others[0].id)
    opened = act(w, open_notification, w.reviewer, box.items[0].id)
    assert opened.read and opened.draft_id is not None
    assert act(w, unread_count, w.reviewer) == 1
    assert act(w, mark_read, w.reviewer) == 1
    assert act(w, unread_count, w.reviewer) == 0 and act(w, unread_count, w.reviewer2) == 2
    assert act(w, inbox, w.reviewer, unread_only=True).items == []


# ------------------------------------------------------------------------- email over SMTP


def test_a_request_for_changes_is_emailed_after_the_commit_with_comment_and_link(flow, smtp) -> None:  # type: ignore[no-untyped-def]
    w = flow
    d = drafts(w)[0]
    act(w, submit_for_review, w.marketer, d.id)
    assert sorted(rcpt for _, tos in smtp.envelopes for rcpt in tos) == ["rita@acme.example", "rob@acme.example"]
    act(w, request_changes, w.reviewer, d.id, comment="Please cite the study in the second line.")
    msg = smtp.messages[-1]
    assert msg["To"] == "maria@acme.example" and msg["From"] == "countersign@acme.example"
    assert msg["Subject"] == f"[Countersign] Rita Reviewer requested changes to draft {d.id} ('Acme test campaign')"
    text = body(msg)
    assert "Please cite the study in the second line." in text
    assert f"{APP_URL}/draft?draft={d.id}" in text  # COUNTERSIGN_APP_URL without its trailing slash
    w.session.expire_all()
    [n] = notes(w, w.marketer, K.CHANGES_REQUESTED)
    assert n.email_status == Delivery.SENT and n.emailed_at is not None and n.email_error == ""
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "notification_email_sent", AuditEvent.entity_id == str(n.id))).one()


def test_nothing_is_mailed_or_kept_when_the_action_rolls_back(flow, smtp) -> None:  # type: ignore[no-untyped-def]
    w = flow
    d = drafts(w)[0]
    with pytest.raises(RuntimeError, match="after the notification"), session_scope(w.engine) as s:
        submit_for_review(s, w.marketer, d.id)
        assert s.exec(select(Notification)).all()  # made in the transaction...
        raise RuntimeError("failed after the notification")
    assert smtp.messages == []  # ...and never sent
    w.session.expire_all()
    assert w.session.exec(select(Notification)).all() == []
    assert w.session.get(Draft, d.id).status == Status.CHECKED


def test_a_down_mail_server_is_recorded_and_the_decision_still_commits(flow, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = flow
    monkeypatch.setenv("COUNTERSIGN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COUNTERSIGN_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("COUNTERSIGN_SMTP_STARTTLS", "false")
    d = drafts(w)[0]
    act(w, submit_for_review, w.marketer, d.id)
    act(w, reject, w.reviewer, d.id, comment="Wrong product line.")
    w.session.expire_all()
    assert w.session.get(Draft, d.id).status == Status.REJECTED  # the workflow went on
    [n] = notes(w, w.marketer, K.REJECTED)
    assert n.email_status == Delivery.FAILED and "cannot reach mail server 127.0.0.1" in n.email_error and n.email_attempts == 1
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "notification_email_failed", AuditEvent.entity_id == str(n.id))).one()
    assert n.comment == "Wrong product line." and n.read_at is None  # the in-app notification stands


def test_a_user_without_an_address_gets_the_inbox_only(flow, smtp) -> None:  # type: ignore[no-untyped-def]
    w = flow
    set_email(w.session, w.admin, w.reviewer2.id, "")
    w.session.commit()
    act(w, submit_for_review, w.marketer, drafts(w)[0].id)
    assert [tos for _, tos in smtp.envelopes] == [["rita@acme.example"]]
    w.session.expire_all()
    assert [n.email_status for n in notes(w, w.reviewer2)] == [Delivery.NO_ADDRESS]


def test_a_claimed_email_is_sent_once(flow, smtp) -> None:  # type: ignore[no-untyped-def]
    w = flow
    act(w, submit_for_review, w.marketer, drafts(w)[0].id)
    ids = [n.id for n in w.session.exec(select(Notification)).all()]
    assert len(smtp.messages) == 2
    assert deliver(w.engine, ids) == {Delivery.SENT: 0, Delivery.FAILED: 0}  # already sent: nothing claimed
    assert len(smtp.messages) == 2


def test_email_addresses_are_checked(flow) -> None:  # type: ignore[no-untyped-def]
    from review.errors import Conflict, InvalidInput

    w = flow
    with pytest.raises(InvalidInput, match="is not an email address"):
        set_email(w.session, w.admin, w.reviewer.id, "rita@example.com\nBcc: everyone@example.com")
    w.session.rollback()
    with pytest.raises(Conflict, match="already rob's email address"):
        set_email(w.session, w.admin, w.reviewer.id, "ROB@acme.example")
    w.session.rollback()


# ------------------------------------------------------------------------- reminders


def _due_in(w, delta: timedelta) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with w.engine.begin() as c:
        c.execute(text("UPDATE campaign SET due_at = :t WHERE id = :i"), {"t": datetime.now(UTC) + delta, "i": w.campaign_id})
    w.session.expire_all()


def test_remind_sends_due_soon_and_overdue_once_per_assignment_per_day_over_smtp(flow, smtp) -> None:  # type: ignore[no-untyped-def]
    w = flow
    set_due_date(w.session, w.marketer, w.campaign_id, datetime.now(UTC) + timedelta(days=5))
    w.session.commit()
    d = drafts(w)[0]
    act(w, submit_for_review, w.marketer, d.id)
    sent_before = len(smtp.messages)
    assert act(w, remind).reminded == {K.DUE_SOON: 0, K.OVERDUE: 0}  # five days away: nothing yet
    _due_in(w, timedelta(hours=6))
    report = act(w, remind)
    assert report.reminded == {K.DUE_SOON: 2, K.OVERDUE: 0}  # both assigned reviewers
    again = act(w, remind)
    assert again.reminded == {K.DUE_SOON: 0, K.OVERDUE: 0} and again.already == 2  # idempotent
    reminders = smtp.messages[sent_before:]
    assert len(reminders) == 2
    msg = next(m for m in reminders if m["To"] == "rita@acme.example")
    assert msg["Subject"].startswith(f"[Countersign] Draft {d.id} of 'Acme test campaign' (review step) is due at")
    assert f"{APP_URL}/draft?draft={d.id}" in body(msg)
    _due_in(w, timedelta(hours=-1))
    late = act(w, remind)
    assert late.reminded == {K.DUE_SOON: 0, K.OVERDUE: 2}
    assert act(w, remind).reminded[K.OVERDUE] == 0
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert act(w, remind, now=tomorrow).reminded[K.OVERDUE] == 2  # a new day, a new reminder
    w.session.expire_all()
    rita_overdue = notes(w, w.reviewer, K.OVERDUE)
    assert len(rita_overdue) == 2 and "was due" in rita_overdue[0].title
    assert {n.email_status for n in rita_overdue} == {Delivery.SENT}


def test_remind_skips_drafts_no_longer_in_review_and_retries_failed_emails(flow, smtp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = flow
    first, second = drafts(w)[:2]
    for d in (first, second):
        act(w, submit_for_review, w.marketer, d.id)
    act(w, reject, w.reviewer, first.id, comment="No.")
    _due_in(w, timedelta(hours=-2))
    monkeypatch.setenv("COUNTERSIGN_SMTP_PORT", str(free_port()))  # the server is unreachable for this run
    report = act(w, remind)
    assert report.reminded[K.OVERDUE] == 2  # second's two reviewers; first left review
    w.session.expire_all()
    failed = w.session.exec(select(Notification).where(Notification.kind == K.OVERDUE)).all()
    assert {n.draft_id for n in failed} == {second.id} and {n.email_status for n in failed} == {Delivery.FAILED}
    monkeypatch.setenv("COUNTERSIGN_SMTP_PORT", str(smtp.port))
    before = len(smtp.messages)
    retry = act(w, remind)
    assert retry.reminded[K.OVERDUE] == 0 and retry.retried >= 2
    w.session.expire_all()
    assert {n.email_status for n in w.session.exec(select(Notification).where(Notification.kind == K.OVERDUE)).all()} == {Delivery.SENT}
    assert len(smtp.messages) > before


def test_remind_cli_reports_and_is_quiet_for_cron(flow, smtp, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review import cli as cli_module

    w = flow
    act(w, submit_for_review, w.marketer, drafts(w)[0].id)
    _due_in(w, timedelta(hours=-1))
    monkeypatch.setattr(cli_module, "_engine", lambda: w.engine)
    runner = CliRunner()
    out = runner.invoke(cli_module.cli, ["remind"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("0 due-soon and 2 overdue reminder(s), 0 already sent today")
    out = runner.invoke(cli_module.cli, ["remind", "--quiet"])
    assert out.exit_code == 0 and out.output == ""
    assert len([m for m in smtp.messages if "was due" in m["Subject"]]) == 2
    w.session.expire_all()
    assert w.session.exec(select(User).where(User.username == "rita")).one().email == "rita@acme.example"
