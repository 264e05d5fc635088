"""A Hypothesis state machine over the whole workflow: random actors take random actions on a
real campaign; an independent model says what must happen (success, or which refusal), and after
every step the database must agree with it, approved drafts must carry enough distinct valid
signatures by non-authors, and the audit chain must verify.

`COUNTERSIGN_STATEFUL_EXAMPLES` sets the number of runs (default 20, 40 steps each).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlmodel import Session, col, select

from review import audit
from review.checks import warning_ids
from review.errors import CountersignError, ExportRefused, InvalidTransition, PermissionDenied, WorkflowError
from review.models import Approval, Draft, Role, Status, User

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = int(os.environ.get("COUNTERSIGN_STATEFUL_EXAMPLES", "20"))
PASSWORDS = {"admin": "admin-pass-1", "maria": "maria-pass-1", "rita": "rita-pass-1", "rob": "rob-pass-1"}
ROLES = {"admin": Role.ADMIN, "maria": Role.MARKETER, "rita": Role.REVIEWER, "rob": Role.REVIEWER}
REQUIRED = 2  # acme-pharma's approvals_required
GOOD_TEXTS = ["Warm greetings to all our readers.", "Best wishes from all of us.", "Stay well this season."]
BAD_TEXT = "Guaranteed relief for everyone."  # the fixture brand's no-guaranteed rule: an error
S = Status
# Mostly the right people, sometimes the wrong ones: runs reach approval and export often.
MAKERS = st.sampled_from(["maria", "maria", "maria", "admin", "rita"])
CHECKERS = st.sampled_from(["rita", "rob", "rita", "rob", "maria", "admin"])


@dataclass
class Expect:
    status: str
    revision: int = 1
    errors: bool = False
    signers: set[str] = field(default_factory=set)
    sent_back_at: int | None = None
    authors: set[str] = field(default_factory=lambda: {"maria"})


class Workflow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        from review.db import make_engine, migrate

        self.engine = make_engine("sqlite://")
        migrate(self.engine)
        self.s = Session(self.engine, expire_on_commit=False)
        self.campaign_id = _world(self.engine, self.s)
        drafts = self.s.exec(select(Draft).where(Draft.campaign_id == self.campaign_id).order_by(col(Draft.id))).all()
        self.ids = [d.id for d in drafts]
        self.model = {d.id: Expect(d.status, d.revision, bool(d.error_count)) for d in drafts}
        self.published = False

    def teardown(self) -> None:
        self.s.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ plumbing

    def user(self, name: str) -> User:
        return self.s.exec(select(User).where(User.username == name)).one()

    def draft(self, draft_id: int) -> Draft:
        d = self.s.get(Draft, draft_id)
        assert d is not None
        return d

    def attempt(self, expected: type[Exception] | None, fn, *args, **kw) -> bool:  # type: ignore[no-untyped-def]
        try:
            fn(self.s, *args, **kw)
            self.s.commit()
            got: type[Exception] | None = None
        except CountersignError as e:
            self.s.rollback()
            got = type(e)
        self.s.expire_all()
        event(f"{fn.__name__}: {'done' if got is None else got.__name__}")
        assert got == expected or (expected is not None and got is not None and issubclass(got, expected)), f"{fn.__name__}: expected {expected}, got {got}"
        return got is None

    # ------------------------------------------------------------------ rules

    @rule(i=st.integers(0, 10), who=MAKERS, reply=st.booleans())
    def submit(self, i: int, who: str, reply: bool) -> None:
        from review.workflow import submit_for_review

        did = self.ids[i % len(self.ids)]
        m = self.model[did]
        if ROLES[who] not in (Role.MARKETER, Role.ADMIN):
            expected: type[Exception] | None = PermissionDenied
        elif m.status not in (S.CHECKED, S.NEEDS_CHANGES):
            expected = InvalidTransition
        elif m.errors or (m.status == S.NEEDS_CHANGES and m.sent_back_at == m.revision and not reply):
            expected = WorkflowError
        else:
            expected = None
        if self.attempt(expected, submit_for_review, self.user(who), did, reply="We kept it: the tone is right." if reply else ""):
            m.status = S.IN_REVIEW

    @rule(i=st.integers(0, 10), who=CHECKERS)
    def approve(self, i: int, who: str) -> None:
        self._approve(i, who)

    @rule(i=st.integers(0, 10))
    def both_reviewers_sign(self, i: int) -> None:
        """A whole review round in one step, so runs reach approval, export and recall."""
        self._approve(i, "rita")
        self._approve(i, "rob")

    @rule()
    def submit_everything_ready(self) -> None:
        from review.workflow import submit_ready

        self.attempt(None, submit_ready, self.user("maria"), self.campaign_id)
        for m in self.model.values():
            if m.status in (S.CHECKED, S.NEEDS_CHANGES) and not m.errors and not (m.status == S.NEEDS_CHANGES and m.sent_back_at == m.revision):
                m.status = S.IN_REVIEW

    @rule()
    def both_reviewers_sign_everything(self) -> None:
        for i, did in enumerate(self.ids):
            if self.model[did].status == S.IN_REVIEW:
                self._approve(i, "rita")
                self._approve(i, "rob")

    def _approve(self, i: int, who: str) -> None:
        from review.workflow import SIGNATURE_MEANINGS, approve

        did = self.ids[i % len(self.ids)]
        m = self.model[did]
        d = self.draft(did)
        if ROLES[who] != Role.REVIEWER or who in m.authors:
            expected: type[Exception] | None = PermissionDenied
        elif m.status != S.IN_REVIEW:
            expected = InvalidTransition
        elif who in m.signers:
            expected = PermissionDenied
        else:
            expected = None
        ok = self.attempt(
            expected,
            approve,
            self.user(who),
            did,
            password=PASSWORDS[who],
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )
        if ok:
            m.signers.add(who)
            if len(m.signers) >= REQUIRED:
                m.status = S.APPROVED

    @rule(i=st.integers(0, 10), who=CHECKERS, final=st.booleans())
    def decide(self, i: int, who: str, final: bool) -> None:
        from review.workflow import reject, request_changes

        did = self.ids[i % len(self.ids)]
        m = self.model[did]
        if ROLES[who] != Role.REVIEWER or who in m.authors:
            expected: type[Exception] | None = PermissionDenied
        elif m.status != S.IN_REVIEW:
            expected = InvalidTransition
        else:
            expected = None
        fn = reject if final else request_changes
        if self.attempt(expected, fn, self.user(who), did, comment="Please look at the tone again."):
            m.status = S.REJECTED if final else S.NEEDS_CHANGES
            m.signers.clear()
            m.sent_back_at = None if final else m.revision

    @rule(i=st.integers(0, 10), who=MAKERS, text=st.sampled_from([*GOOD_TEXTS, BAD_TEXT]), slot=st.sampled_from(["greeting", "closing"]))
    def edit(self, i: int, who: str, text: str, slot: str) -> None:
        from review.workflow import EDITABLE, edit_draft

        did = self.ids[i % len(self.ids)]
        m = self.model[did]
        d = self.draft(did)
        if ROLES[who] not in (Role.MARKETER, Role.ADMIN):
            expected: type[Exception] | None = PermissionDenied
        elif m.status not in EDITABLE:
            expected = InvalidTransition
        elif d.slots[slot] == text:
            expected = WorkflowError  # nothing changed
        else:
            expected = None
        if self.attempt(expected, edit_draft, self.user(who), did, slots={slot: text}, expected_revision=d.revision):
            m.revision += 1
            m.authors.add(who)
            m.signers.clear()
            m.errors = bool(self.draft(did).error_count)
            assert m.errors == (BAD_TEXT in self.draft(did).slots.values())
            if m.status in (S.APPROVED, S.IN_REVIEW):
                m.status = S.CHECKED if m.errors else S.IN_REVIEW

    @rule(i=st.integers(0, 10), who=CHECKERS)
    def withdraw(self, i: int, who: str) -> None:
        from review.workflow import withdraw

        did = self.ids[i % len(self.ids)]
        m = self.model[did]
        if ROLES[who] not in (Role.REVIEWER, Role.ADMIN):
            expected: type[Exception] | None = PermissionDenied
        elif m.status not in (S.APPROVED, S.PUBLISHED):
            expected = InvalidTransition
        else:
            expected = None
        if self.attempt(expected, withdraw, self.user(who), did, comment="Recalled after a complaint."):
            m.status = S.WITHDRAWN
            m.signers.clear()

    @precondition(lambda self: not self.published)
    @rule(who=st.sampled_from(["maria", "rita"]))
    def publish(self, who: str) -> None:
        from review.export import publish

        ready = all(m.status == S.APPROVED for m in self.model.values())
        if self.attempt(None if ready else ExportRefused, publish, self.user(who), self.campaign_id, None):
            self.published = True
            for m in self.model.values():
                m.status = S.PUBLISHED

    # ------------------------------------------------------------------ invariants

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        for did, m in self.model.items():
            d = self.draft(did)
            assert (d.status, d.revision) == (m.status, m.revision), f"draft {did}: database {d.status} r{d.revision}, model {m.status} r{m.revision}"

    @invariant()
    def approved_means_enough_distinct_signers_who_did_not_write_it(self) -> None:
        for did, m in self.model.items():
            valid = self.s.exec(select(Approval).where(Approval.draft_id == did, Approval.valid == True)).all()  # noqa: E712
            names = {self.s.get(User, a.reviewer_id).username for a in valid}  # type: ignore[union-attr]
            if m.status in (S.APPROVED, S.PUBLISHED):
                assert len(names) >= REQUIRED and not (names & m.authors)
                assert all(a.revision == m.revision for a in valid)
            if m.status in (S.CHECKED, S.NEEDS_CHANGES, S.REJECTED, S.WITHDRAWN):
                assert not valid

    @invariant()
    def audit_chain_verifies(self) -> None:
        assert audit.verify_chain(self.s).ok


def _world(engine, s: Session) -> int:  # type: ignore[no-untyped-def]
    from review.audiences import import_audience
    from review.auth import create_user
    from review.brands import sync_brands
    from review.campaigns import create_campaign
    from review.filling import FakeFiller
    from review.generation import generate_campaign
    from review.template_versions import save_template

    sync_brands(s)
    admin = create_user(s, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password=PASSWORDS["admin"])
    users = {n: create_user(s, admin, username=n, full_name=n.title(), role=r, password=PASSWORDS[n]) for n, r in ROLES.items() if n != "admin"}
    tv = save_template(s, users["maria"], brand_slug="acme-pharma", source=(FIXTURES / "templates" / "acme-newsletter.j2").read_text())
    aud = import_audience(s, users["maria"], name="stateful", brand_slug="acme-pharma", data=(FIXTURES / "templates" / "audience.csv").read_bytes())
    camp = create_campaign(s, users["maria"], name="stateful", template_version_id=tv.id, audience_id=aud.id)  # type: ignore[arg-type]
    s.commit()
    generate_campaign(engine, users["maria"], camp.id, FakeFiller())  # type: ignore[arg-type]
    s.expire_all()
    return camp.id  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest: the state machine checks hundreds of signatures."""
    from argon2 import PasswordHasher

    from review import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


Workflow.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck))
TestWorkflowStateMachine = Workflow.TestCase
