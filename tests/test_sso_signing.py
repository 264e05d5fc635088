"""SSO accounts sign with a signing password (review.sso.set_signing_password): set after a fresh
company sign-in or with the current one, checked at each signature exactly like a password."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import Session, select

from review import sso
from review.auth import check_signing_password, needs_signing_password
from review.bulk_sign import approve_shown
from review.checks import warning_ids
from review.db import session_scope
from review.errors import AccountLocked, AuthenticationError, InvalidInput, NotReady, PermissionDenied
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, Draft, User, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, submit_for_review

ISS = "https://idp.example.com"
SIGNING = "my-signing-secret"


@pytest.fixture(autouse=True)
def _mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_OIDC_ROLES", "cs-reviewers=reviewer")
    monkeypatch.setenv("COUNTERSIGN_OIDC_FRESH_MINUTES", "10")


def claims(*, age_minutes: float = 0, sub: str = "00u-sam", **kw: Any) -> dict[str, Any]:
    now = int(time.time() - age_minutes * 60)
    return {"iss": ISS, "sub": sub, "preferred_username": "sam", "name": "Sam Signer", "groups": ["cs-reviewers"], "iat": now, "auth_time": now} | kw


def sso_user(engine) -> User:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return sso.sign_in(s, claims())


def set_pw(engine, user: User, new: str = SIGNING, **kw: Any) -> User:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return sso.set_signing_password(s, user, new, **kw)


def test_a_fresh_company_sign_in_sets_the_first_signing_password(engine) -> None:  # type: ignore[no-untyped-def]
    user = sso_user(engine)
    assert needs_signing_password(user)
    with pytest.raises(PermissionDenied, match="sign in with your company account again"):
        set_pw(engine, user, sso_claims=None)
    with pytest.raises(PermissionDenied):
        set_pw(engine, user, sso_claims=claims(age_minutes=11))  # too old
    with pytest.raises(PermissionDenied):
        set_pw(engine, user, sso_claims=claims(sub="00u-someone-else"))  # another company account
    with pytest.raises(PermissionDenied):
        set_pw(engine, user, sso_claims=claims(iat=None, auth_time=None))  # no time: not fresh
    with pytest.raises(InvalidInput, match="at least 8"):
        set_pw(engine, user, "short", sso_claims=claims())
    done = set_pw(engine, user, sso_claims=claims(age_minutes=9))
    assert not needs_signing_password(done) and check_signing_password(done, SIGNING) and not check_signing_password(done, "wrong-one")
    assert SIGNING not in (done.signing_password_hash or "")
    with Session(engine) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "signing_password_set")).one()
        assert ev.after == {"first": True, "proven_by": "fresh company sign-in"}
        assert SIGNING not in str(ev.after)


def test_auth_time_wins_over_iat(engine) -> None:  # type: ignore[no-untyped-def]
    """A provider that reuses its own session issues a new token (iat now) for an old login."""
    user = sso_user(engine)
    stale = claims(age_minutes=60) | {"iat": int(time.time())}
    with pytest.raises(PermissionDenied):
        set_pw(engine, user, sso_claims=stale)


def test_changing_it_needs_the_current_one_or_a_fresh_sign_in(engine) -> None:  # type: ignore[no-untyped-def]
    user = set_pw(engine, sso_user(engine), sso_claims=claims())
    with pytest.raises(AuthenticationError, match="does not match"):
        set_pw(engine, user, "another-secret", current_password="wrong-guess")
    user = set_pw(engine, user, "another-secret", current_password=SIGNING)
    assert check_signing_password(user, "another-secret") and not check_signing_password(user, SIGNING)
    user = set_pw(engine, user, "forgot-it-new", sso_claims=claims())  # forgotten: sign in at the company again
    assert check_signing_password(user, "forgot-it-new")


def test_a_local_account_has_no_signing_password(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="signs with its login password"):
        set_pw(world.engine, world.reviewer, sso_claims=claims())
    assert check_signing_password(world.reviewer, world.PASSWORDS["rita"])  # unchanged: the login password


@pytest.fixture
def draft(world, fake_filler) -> Draft:  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    drafts = world.session.exec(select(Draft).where(Draft.campaign_id == world.campaign_id).order_by(Draft.id)).all()
    d = next(d for d in drafts if world.session.get(Variant, d.variant_id).personalized)
    submit_for_review(world.session, world.marketer, d.id)
    world.session.commit()
    return d


def _approve(engine, user: User, d: Draft, password: str) -> Approval:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return approve(
            s, user, d.id, password=password, meaning=SIGNATURE_MEANINGS[0], acknowledged=warning_ids(d.findings), expected_content_hash=d.content_hash
        )  # type: ignore[arg-type]


def test_an_sso_reviewer_signs_with_the_signing_password(world, draft: Draft) -> None:  # type: ignore[no-untyped-def]
    user = sso_user(world.engine)
    with pytest.raises(NotReady, match="Set your signing password first"):
        _approve(world.engine, user, draft, "anything-at-all")
    user = set_pw(world.engine, user, sso_claims=claims())
    with pytest.raises(AuthenticationError, match="password does not match"):
        _approve(world.engine, user, draft, "wrong-signing-pw")
    appr = _approve(world.engine, user, draft, SIGNING)
    assert appr.full_name == "Sam Signer" and appr.valid
    with Session(world.engine) as s:
        refused = s.exec(select(AuditEvent).where(AuditEvent.action == "refused", AuditEvent.actor == "sam")).all()
        assert [r.after["code"] for r in refused] == ["wrong_password"] and refused[0].after["attempted"] == "sign"


def test_wrong_signing_passwords_lock_out_like_passwords(world, draft: Draft, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_LOGIN_MAX_FAILURES", "3")
    user = set_pw(world.engine, sso_user(world.engine), sso_claims=claims())
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            _approve(world.engine, user, draft, "wrong-signing-pw")
    with pytest.raises(AccountLocked):
        _approve(world.engine, user, draft, SIGNING)
    with pytest.raises(AccountLocked):  # nor can the lock be dodged by guessing through the change form
        set_pw(world.engine, user, "new-secret-1", current_password=SIGNING)


def test_bulk_signing_needs_the_signing_password_too(world, draft: Draft) -> None:  # type: ignore[no-untyped-def]
    user = sso_user(world.engine)
    with pytest.raises(NotReady), session_scope(world.engine) as s:
        approve_shown(s, user, {draft.id: draft.content_hash}, password="x", meaning=SIGNATURE_MEANINGS[0])  # type: ignore[dict-item]


def test_a_company_sign_in_does_not_reset_the_count_of_wrong_signing_passwords(world, draft: Draft, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Else a new tab (a new sign-in) would buy another round of guesses at the signing password."""
    monkeypatch.setenv("COUNTERSIGN_LOGIN_MAX_FAILURES", "3")
    user = set_pw(world.engine, sso_user(world.engine), sso_claims=claims())
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            _approve(world.engine, user, draft, "wrong-signing-pw")
        user = sso_user(world.engine)  # signs in again between guesses
    with pytest.raises(AuthenticationError):
        _approve(world.engine, user, draft, "wrong-signing-pw")
    with pytest.raises(AccountLocked):
        _approve(world.engine, user, draft, SIGNING)
