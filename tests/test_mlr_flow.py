"""Issue 14's whole path in one story, on the services the app and CLI call.

A pharma draft goes through three routed steps (medical, then legal, then regulatory) signed by
three different reviewers; a reviewer annotates the words that are the problem and the author
resolves the annotation before resubmitting; a due-date reminder arrives over a real SMTP server
(aiosmtpd on localhost); an approval past the brand's `approval_valid_days` blocks the export; the
examiner's record of the published campaign verifies offline and fails after a changed byte.
"""

from __future__ import annotations

import email
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import col, select

from review.annotations import annotate, resolve
from review.checks import warning_ids
from review.db import session_scope
from review.due_dates import set_due_date
from review.errors import ExportRefused, NotReady, PermissionDenied
from review.export import publish
from review.models import Annotation, Approval, Assignment, Draft, Status
from review.profiles import set_email
from review.record import write_record
from review.record_verify import verify_record
from review.reminders import remind
from review.workflow import approve, edit_draft, request_changes, submit_for_review

sys.path.insert(0, str(Path(__file__).parent))
from routing_helpers import MEANING, SEQUENTIAL, brand_with, routed_world  # noqa: E402

APP_URL = "https://countersign.acme.example"


class Mailbox:
    """Every message a real local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # aiosmtpd's hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "STARTTLS": "false", "FROM": "countersign@acme.example"}.items():
        monkeypatch.setenv(f"COUNTERSIGN_SMTP_{name}", value)
    monkeypatch.setenv("COUNTERSIGN_APP_URL", APP_URL)
    try:
        yield box
    finally:
        controller.stop()


def act(w, fn, *args, **kw):  # type: ignore[no-untyped-def]
    """One unit of work as the app runs it: commit, then whatever waits for the commit (email)."""
    with session_scope(w.engine) as s:
        return fn(s, *args, **kw)


def fresh(w, draft_id: int) -> Draft:  # type: ignore[no-untyped-def]
    w.session.expire_all()
    d = w.session.get(Draft, draft_id)
    assert d is not None
    return d


def sign(w, who, draft_id: int) -> None:  # type: ignore[no-untyped-def]
    d = fresh(w, draft_id)
    act(
        w,
        approve,
        who,
        draft_id,
        password=w.PASSWORDS[who.username],
        meaning=MEANING,
        acknowledged=warning_ids(d.findings),
        expected_content_hash=d.content_hash,
    )


def body(msg: Message) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_a_pharma_draft_through_routed_review_to_a_verified_record(build_world, fake_filler, tmp_path, monkeypatch, smtp) -> None:  # type: ignore[no-untyped-def]
    brand_with(tmp_path, monkeypatch, SEQUENTIAL + "approval_valid_days: 30\n")
    w = routed_world(build_world, fake_filler, {"rita": ["medical"], "rob": ["legal"], "vera": ["regulatory"]})
    medical, legal, regulatory, author = w.reviewer, w.reviewer2, w.vera, w.marketer
    for u in (medical, legal, regulatory, author):
        act(w, set_email, w.admin, u.id, f"{u.username}@acme.example")
    act(w, set_due_date, author, w.campaign_id, datetime.now(UTC) + timedelta(hours=6))
    draft_id = w.draft.id

    # Routed: the draft is assigned to the medical reviewer, and legal may not sign first.
    open_now = w.session.exec(select(Assignment).where(Assignment.draft_id == draft_id, Assignment.state == "open")).all()
    assert [(a.step, a.reviewer_id) for a in open_now] == [("medical", medical.id)]
    with pytest.raises((NotReady, PermissionDenied), match="medical"):
        sign(w, legal, draft_id)

    # The due-date reminder reaches the assigned reviewer over real SMTP, with a link to the draft.
    report = act(w, remind)
    assert sum(report.reminded.values()) == 1
    reminder = next(m for m in smtp.messages if m["To"] == "rita@acme.example" and "due" in m["Subject"])
    assert f"{APP_URL}/draft?draft={draft_id}" in body(reminder)

    # An annotation on the exact words, then changes requested: resubmission waits for it.
    slot, text = next(iter(fresh(w, draft_id).slots.items()))
    words = " ".join(text.split()[:2])
    ann = act(w, annotate, medical, draft_id, slot=slot, words=words, comment="Say this more plainly.", occurrence=1)
    act(w, request_changes, medical, draft_id, comment="See the annotation.")
    edited = act(w, edit_draft, author, draft_id, slots={slot: "Hello from the Acme team."}, expected_revision=fresh(w, draft_id).revision)
    assert edited.status == Status.NEEDS_CHANGES
    with pytest.raises(NotReady, match="open annotation"):
        act(w, submit_for_review, author, draft_id)
    act(w, resolve, author, ann.id, note="Rewritten in plain words.")
    assert w.session.exec(select(Annotation).where(Annotation.id == ann.id)).one().state == "resolved"
    act(w, submit_for_review, author, draft_id)
    assert any("changes" in m["Subject"].lower() for m in smtp.messages if m["To"] == "maria@acme.example")

    # Three steps, three different people, in order.
    sign(w, medical, draft_id)
    with pytest.raises((NotReady, PermissionDenied)):
        sign(w, medical, draft_id)  # one person signs one step
    sign(w, legal, draft_id)
    assert fresh(w, draft_id).status == Status.IN_REVIEW
    sign(w, regulatory, draft_id)
    assert fresh(w, draft_id).status == Status.APPROVED
    signed = w.session.exec(select(Approval).where(Approval.draft_id == draft_id, Approval.valid == True)).all()  # noqa: E712
    steps = {a.step: a.reviewer_id for a in signed}
    assert all(a.step in str(a.manifest["policy"]["step"]) for a in signed)  # the signature covers its step
    assert steps == {"medical": medical.id, "legal": legal.id, "regulatory": regulatory.id}

    # The campaign's other drafts go through the same three steps.
    others = [d.id for d in w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id, Draft.id != draft_id).order_by(col(Draft.id))).all()]
    for other in others:
        act(w, submit_for_review, author, other)
        for who in (medical, legal, regulatory):
            sign(w, who, other)
        assert fresh(w, other).status == Status.APPROVED

    # An approval older than approval_valid_days blocks the export; in time, it ships.
    with pytest.raises(ExportRefused, match="expired"):
        act(w, publish, author, w.campaign_id, tmp_path / "exports", now=datetime.now(UTC) + timedelta(days=31))
    act(w, publish, author, w.campaign_id, tmp_path / "exports")
    assert fresh(w, draft_id).status == Status.PUBLISHED

    # The examiner's record verifies offline, and a changed byte anywhere fails it.
    result = act(w, write_record, w.campaign_id, tmp_path / "records")
    blob = Path(result.path).read_bytes()
    assert verify_record(blob).ok
    for at in range(0, len(blob), max(1, len(blob) // 150)):
        broken = bytearray(blob)
        broken[at] ^= 0x01
        assert not verify_record(bytes(broken)).ok, f"a changed byte at {at} of {len(blob)} went unnoticed"
