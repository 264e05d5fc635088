"""Sign-in lock-out: repeated wrong passwords pause an account's password checks, on the audit record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from review import audit
from review.auth import authenticate, list_accounts, lockout, unlock_user
from review.db import session_scope
from review.errors import AccountLocked, AuthenticationError, PermissionDenied, WorkflowError
from review.models import AuditEvent, User, utcnow


class Clock:
    """A settable 'now' for the audit trail and the lock-out arithmetic."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("review.audit.utcnow", c)
    monkeypatch.setattr("review.auth.utcnow", c)
    return c


def login(w, name: str, password: str):  # type: ignore[no-untyped-def]
    with session_scope(w.engine) as s:
        return authenticate(s, name, password)


def fail(w, name: str, times: int, clock: Clock | None = None, every: float = 0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        with pytest.raises(AuthenticationError) as e:
            login(w, name, "wrong-password")
        assert type(e.value) is AuthenticationError  # a plain wrong password, not a lock-out
        if clock is not None:
            clock.advance(every)


def refusals(w) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    w.session.expire_all()
    rows = w.session.exec(select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.seq)).all()
    return [(e.actor, e.after["refusal"]) for e in rows]


def test_five_wrong_passwords_pause_sign_in_even_with_the_right_one(world, clock) -> None:  # type: ignore[no-untyped-def]
    fail(world, "rita", 5, clock, every=1)
    with pytest.raises(AccountLocked, match=r"paused for 14 more minutes"):
        login(world, "rita", world.PASSWORDS["rita"])
    assert refusals(world) == [("rita", "AuthenticationError")] * 5 + [("rita", "AccountLocked")]
    # Attempts while paused are recorded but do not extend the pause: it ends 15 minutes after
    # the 5th failure (which was 1 minute ago).
    clock.advance(13)
    with pytest.raises(AccountLocked, match=r"paused for 1 more minute\."):
        login(world, "rita", world.PASSWORDS["rita"])
    clock.advance(1.01)
    assert login(world, "rita", world.PASSWORDS["rita"]).username == "rita"
    assert audit.verify_chain(world.session).ok


def test_a_successful_sign_in_starts_the_count_again(world, clock) -> None:  # type: ignore[no-untyped-def]
    fail(world, "rita", 4)
    login(world, "rita", world.PASSWORDS["rita"])
    fail(world, "rita", 4)
    with session_scope(world.engine) as s:
        state = lockout(s, "rita", world.reviewer.id)
    assert (state.failures, state.locked) == (4, False)


def test_failures_spread_wider_than_the_window_never_lock(world, clock) -> None:  # type: ignore[no-untyped-def]
    fail(world, "rita", 8, clock, every=4)  # never 5 within 15 minutes
    assert login(world, "rita", world.PASSWORDS["rita"]).username == "rita"


def test_unknown_names_are_paused_the_same_way(world, clock) -> None:  # type: ignore[no-untyped-def]
    """The answers for a name that does not exist match those for one that does: no enumeration."""
    fail(world, "nobody", 5)
    fail(world, "rita", 5)
    with pytest.raises(AccountLocked) as unknown:
        login(world, "nobody", "x")
    with pytest.raises(AccountLocked) as known:
        login(world, "rita", "x")
    assert str(unknown.value) == str(known.value)


def test_wrong_signature_passwords_count_too(world, fake_filler, clock) -> None:  # type: ignore[no-untyped-def]
    """A hijacked session cannot guess the password through the signature prompt."""
    from review.generation import generate_campaign
    from review.models import Draft
    from review.workflow import SIGNATURE_MEANINGS, approve, submit_for_review

    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    draft = world.session.exec(select(Draft).where(Draft.campaign_id == world.campaign_id, Draft.error_count == 0)).first()
    submit_for_review(world.session, world.marketer, draft.id)
    world.session.commit()

    def sign(password: str) -> None:
        with session_scope(world.engine) as s:
            approve(s, s.get(User, world.reviewer.id), draft.id, password=password, meaning=SIGNATURE_MEANINGS[0], expected_content_hash=draft.content_hash)

    for _ in range(5):
        with pytest.raises(AuthenticationError, match="Signature refused"):
            sign("guess")
    with pytest.raises(AccountLocked):
        sign(world.PASSWORDS["rita"])  # the right password is not even checked while paused
    with pytest.raises(AccountLocked):
        login(world, "rita", world.PASSWORDS["rita"])


def test_admin_unlock_lifts_the_pause_on_record(world, clock) -> None:  # type: ignore[no-untyped-def]
    fail(world, "rita", 5)
    with session_scope(world.engine) as s:
        [rita] = [a for a in list_accounts(s, s.get(User, world.admin.id)) if a.user.username == "rita"]
        assert rita.lockout.locked and rita.lockout.failures == 5
    with pytest.raises(PermissionDenied), session_scope(world.engine) as s:
        unlock_user(s, s.get(User, world.reviewer2.id), world.reviewer.id)
    with session_scope(world.engine) as s:
        unlock_user(s, s.get(User, world.admin.id), world.reviewer.id)
    assert login(world, "rita", world.PASSWORDS["rita"]).username == "rita"
    with pytest.raises(WorkflowError, match="not locked out"), session_scope(world.engine) as s:
        unlock_user(s, s.get(User, world.admin.id), world.reviewer.id)
    world.session.expire_all()
    [ev] = world.session.exec(select(AuditEvent).where(AuditEvent.action == "user_unlocked")).all()
    assert (ev.actor, ev.entity_id, ev.before["failures"]) == ("admin", str(world.reviewer.id), 5)


def test_thresholds_come_from_settings(world, clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("COUNTERSIGN_LOGIN_LOCKOUT_MINUTES", "1")
    fail(world, "rob", 2)
    with pytest.raises(AccountLocked, match="1 more minute\\."):
        login(world, "rob", world.PASSWORDS["rob"])
    clock.advance(1.01)
    assert login(world, "rob", world.PASSWORDS["rob"]).username == "rob"


def test_a_flood_of_attempts_while_paused_does_not_lift_the_pause(world, clock) -> None:  # type: ignore[no-untyped-def]
    fail(world, "rita", 5)
    for _ in range(60):
        with pytest.raises(AccountLocked):
            login(world, "rita", "another-guess")
    with pytest.raises(AccountLocked):
        login(world, "rita", world.PASSWORDS["rita"])


def test_lock_out_counts_the_records_stable_code_and_reads_older_records(world, clock) -> None:  # type: ignore[no-untyped-def]
    """Counting matches the refusal's `code`, not a Python class name; records written before
    refusals carried a code (class name only) still count, and a lock-out never counts itself."""
    fail(world, "rita", 2, clock)
    world.session.expire_all()
    codes = [e.after.get("code") for e in world.session.exec(select(AuditEvent).where(AuditEvent.action == "refused")).all()]
    assert codes == ["wrong_password", "wrong_password"]
    old_wrong = {"refusal": "AuthenticationError", "attempted": "login", "reason": "x"}  # as an older release wrote it
    # Neither a lock-out nor a refusal of another kind is a wrong password, old or new.
    not_wrong = [{"refusal": "AccountLocked", "attempted": "login"}, {"refusal": "X", "code": "account_locked", "attempted": "login"}]
    with session_scope(world.engine) as s:
        for after in [old_wrong, old_wrong, *not_wrong]:
            audit.append(s, actor="rita", action="refused", entity="user", entity_id=world.reviewer.id, after=after)
    with session_scope(world.engine) as s:
        assert lockout(s, "rita", world.reviewer.id).failures == 4
    fail(world, "rita", 1, clock)
    with pytest.raises(AccountLocked):
        login(world, "rita", world.PASSWORDS["rita"])
