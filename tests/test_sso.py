"""Company sign-in (review.sso): group → role mapping, linking by (issuer, subject), refusals,
hostile claims, the audit record, and the signing password SSO accounts sign with."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from review import sso
from review.auth import authenticate, create_user, set_active
from review.db import session_scope
from review.errors import AuthenticationError, ConfigError, InvalidInput, PermissionDenied, SignInRefused
from review.models import AuditEvent, Role, User, UserReviewRole

ISS = "https://idp.example.com"
ROLES = "cs-admins=admin, cs-reviewers=reviewer, cs-marketing=marketer, cs-medical=review:medical"


@pytest.fixture(autouse=True)
def _mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_OIDC_ROLES", ROLES)
    monkeypatch.delenv("COUNTERSIGN_OIDC_GROUPS_CLAIM", raising=False)


def claims(sub: str = "00u-rita", groups: Any = ("cs-reviewers",), **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "iss": ISS,
        "sub": sub,
        "aud": "countersign",
        "preferred_username": "rita.sso",
        "name": "Rita Reviewer",
        "email": "rita@example.com",
        "groups": list(groups) if isinstance(groups, tuple) else groups,
        "iat": int(time.time()),
    }
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def sign_in(engine, c: dict[str, Any]) -> User:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        return sso.sign_in(s, c)


def events(engine, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.seq))).all())


def users(engine) -> list[User]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(User)).all())


def review_roles(engine, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return sorted(s.exec(select(UserReviewRole.role).where(UserReviewRole.user_id == user_id)).all())


def refusals(engine) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [e.after | {"actor": e.actor} for e in events(engine, "refused")]


# ------------------------------------------------------------------ the mapping


def test_the_mapping_is_parsed_in_order_with_review_roles() -> None:
    m = sso.parse_role_map(ROLES)
    assert m.entries[0] == ("cs-admins", "admin") and m.entries[-1] == ("cs-medical", "review:medical")
    assert m.resolve(("cs-reviewers", "cs-medical", "staff")) == ("reviewer", ("medical",))
    assert m.resolve(("cs-medical",)) == (None, ())  # a review role alone gives no role
    assert m.resolve(("cs-admins", "cs-medical")) == ("admin", ())  # only reviewers hold review roles
    assert sso.parse_role_map("").entries == ()


def test_precedence_is_the_order_of_the_entries() -> None:
    both = ("cs-reviewers", "cs-admins")
    assert sso.parse_role_map("cs-admins=admin,cs-reviewers=reviewer").resolve(both)[0] == "admin"
    assert sso.parse_role_map("cs-reviewers=reviewer,cs-admins=admin").resolve(both)[0] == "reviewer"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("cs-admins=admin, cs-reviewers", "'cs-reviewers'"),
        ("cs-admins=boss", "'cs-admins=boss'"),
        ("=admin", "'=admin'"),
        ("cs-med=review:Medical Affairs", "cs-med=review:Medical Affairs"),
        ("cs-x=", "'cs-x='"),
    ],
)
def test_a_bad_mapping_is_a_clear_error_naming_the_entry(raw: str, named: str) -> None:
    with pytest.raises(ConfigError) as e:
        sso.parse_role_map(raw)
    assert "COUNTERSIGN_OIDC_ROLES" in str(e.value) and named in str(e.value)


def test_sign_in_without_a_mapping_says_an_administrator_must_set_it(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_OIDC_ROLES", "")
    with pytest.raises(ConfigError, match="COUNTERSIGN_OIDC_ROLES"):
        sign_in(engine, claims())


def test_the_groups_claim_is_configurable(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_OIDC_GROUPS_CLAIM", "roles")
    user = sign_in(engine, claims(groups=None, roles=["cs-marketing"]))
    assert user.role == Role.MARKETER


# ------------------------------------------------------------------ create, update, audit


def test_first_sign_in_creates_the_linked_user_audited(engine) -> None:  # type: ignore[no-untyped-def]
    user = sign_in(engine, claims(groups=("staff", "cs-reviewers", "cs-medical")))
    assert (user.username, user.full_name, user.role, user.email) == ("rita.sso", "Rita Reviewer", Role.REVIEWER, "rita@example.com")
    assert (user.oidc_issuer, user.oidc_subject) == (ISS, "00u-rita")
    assert user.password_hash == "" and user.signing_password_hash is None
    assert review_roles(engine, user.id) == ["medical"]  # type: ignore[arg-type]
    (created,) = events(engine, "user_created")
    assert created.after["via"] == "sso" and created.after["role"] == "reviewer" and created.after["subject"] == "00u-rita"
    (login,) = events(engine, "login")
    assert login.actor == "rita.sso" and login.after["via"] == "sso"
    # The same company account again: the same user, nothing created or changed.
    again = sign_in(engine, claims(groups=("staff", "cs-reviewers", "cs-medical")))
    assert again.id == user.id and len(users(engine)) == 1
    assert len(events(engine, "user_created")) == 1 and events(engine, "user_updated") == [] and len(events(engine, "login")) == 2


def test_later_sign_ins_follow_the_groups_audited_when_the_role_changes(engine) -> None:  # type: ignore[no-untyped-def]
    user = sign_in(engine, claims(groups=("cs-reviewers", "cs-medical")))
    promoted = sign_in(engine, claims(groups=("cs-admins", "cs-reviewers", "cs-medical"), name="Rita R. Reviewer"))
    assert promoted.id == user.id and promoted.role == Role.ADMIN and promoted.full_name == "Rita R. Reviewer"
    (changed,) = events(engine, "user_updated")
    assert changed.before == {"role": "reviewer", "full_name": "Rita Reviewer"}
    assert changed.after == {"role": "admin", "full_name": "Rita R. Reviewer", "via": "sso"}
    assert review_roles(engine, user.id) == []  # type: ignore[arg-type]  # an admin holds no review roles
    back = sign_in(engine, claims(groups=("cs-reviewers",), name="Rita R. Reviewer"))
    assert back.role == Role.REVIEWER and len(events(engine, "user_updated")) == 2


def test_no_mapped_group_is_refused_plainly_and_put_on_record(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInRefused) as e:
        sign_in(engine, claims(groups=("staff", "cs-medical")))
    assert str(e.value) == sso.NO_GROUP
    assert "none of the groups Countersign maps to a role" in str(e.value) and "ask an administrator" in str(e.value)
    assert users(engine) == []
    (r,) = refusals(engine)
    assert r["actor"] == "rita.sso" and r["code"] == "sso_refused" and r["attempted"] == "sso_login"


def test_a_user_who_left_every_mapped_group_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    user = sign_in(engine, claims())
    with pytest.raises(SignInRefused, match="none of the groups"):
        sign_in(engine, claims(groups=()))
    with Session(engine) as s:
        assert s.get(User, user.id).role == Role.REVIEWER  # type: ignore[union-attr]  # unchanged: refused, rolled back


def test_a_deactivated_linked_user_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    admin = sign_in(engine, claims(sub="00u-adam", preferred_username="adam", groups=("cs-admins",)))
    rita = sign_in(engine, claims())
    with session_scope(engine) as s:
        set_active(s, s.get(User, admin.id), rita.id, False)  # type: ignore[arg-type]
    with pytest.raises(SignInRefused, match="deactivated"):
        sign_in(engine, claims())
    assert refusals(engine)[-1]["actor"] == "rita.sso"


def test_a_local_account_of_the_same_name_is_never_taken_over(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        admin = create_user(s, None, username="admin", full_name="Ada Admin", role=Role.ADMIN, password="admin-pass-1")
        create_user(s, admin, username="rita", full_name="Rita Local", role=Role.MARKETER, password="rita-pass-1")
    with pytest.raises(SignInRefused) as e:
        sign_in(engine, claims(preferred_username="rita"))
    assert "never taken over" in str(e.value) and "administrator must link it" in str(e.value)
    assert f"link-sso rita --issuer {ISS} --subject 00u-rita" in str(e.value)  # what the admin runs, once sure it is the same person
    with pytest.raises(SignInRefused, match="named 'rita' already exists"):
        sign_in(engine, claims(preferred_username="Rita"))  # nor by a change of case
    with Session(engine) as s:
        local = s.exec(select(User).where(User.username == "rita")).one()
        assert local.oidc_subject is None and local.role == Role.MARKETER and local.full_name == "Rita Local"
    assert len(users(engine)) == 2
    # An admin links it: company sign-in now lands on that account and brings its role in line.
    with session_scope(engine) as s:
        sso.link_sso(s, s.get(User, admin.id), "rita", issuer=ISS, subject="00u-rita")
    (linked,) = events(engine, "user_linked_sso")
    assert linked.actor == "admin" and linked.after == {"issuer": ISS, "subject": "00u-rita"}
    user = sign_in(engine, claims(preferred_username="rita"))
    assert user.id == local.id and user.role == Role.REVIEWER
    with session_scope(engine) as s:  # it keeps its local password
        assert authenticate(s, "rita", "rita-pass-1").id == local.id


def test_only_an_admin_links_and_never_to_an_account_linked_elsewhere(engine) -> None:  # type: ignore[no-untyped-def]
    rita = sign_in(engine, claims())
    sign_in(engine, claims(sub="00u-adam", preferred_username="adam", groups=("cs-admins",)))
    with session_scope(engine) as s, pytest.raises(PermissionDenied):
        sso.link_sso(s, s.get(User, rita.id), "adam", issuer=ISS, subject="00u-x")
    with session_scope(engine) as s, pytest.raises(InvalidInput, match="already linked to rita.sso"):
        sso.link_sso(s, None, "adam", issuer=ISS, subject="00u-rita")


def test_a_name_linked_to_another_company_account_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    sign_in(engine, claims())
    with pytest.raises(SignInRefused, match="linked to another company account"):
        sign_in(engine, claims(sub="00u-impostor"))
    assert len(users(engine)) == 1


def test_one_company_account_links_to_one_user(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        s.add(User(username="a", full_name="A", role="reviewer", password_hash="", oidc_issuer=ISS, oidc_subject="same"))
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        s.add(User(username="b", full_name="B", role="reviewer", password_hash="", oidc_issuer=ISS, oidc_subject="same"))


def test_an_sso_account_cannot_use_the_local_login_form(engine) -> None:  # type: ignore[no-untyped-def]
    sign_in(engine, claims())
    with pytest.raises(AuthenticationError, match="Wrong username or password"), session_scope(engine) as s:
        authenticate(s, "rita.sso", "")


# ------------------------------------------------------------------ hostile claims

LONG = "x" * 300


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"sub": None}, "no 'sub' claim"),
        ({"iss": None}, "no 'iss' claim"),
        ({"sub": ""}, "no 'sub' claim"),
        ({"sub": 42}, "'sub' claim is not text"),
        ({"sub": "s" * 256}, "longer than 255"),
        ({"iss": "https://" + "i" * 600}, "longer than 512"),
        ({"name": "Rita\nAdmin"}, "control characters"),
        ({"preferred_username": "rita\x00admin"}, "control characters"),
        ({"preferred_username": "rita admin"}, "cannot be a Countersign username"),
        ({"preferred_username": "../../etc"}, "cannot be a Countersign username"),
        ({"email": " rita@example.com"}, "surrounding spaces"),
        ({"name": LONG}, "longer than 200"),
        ({"groups": 7}, "list of at most"),
        ({"groups": ["cs-reviewers"] * 2 + [""]}, "empty, too long"),
        ({"groups": ["cs-reviewers\u202e"]}, "not printable"),
        ({"groups": [f"g{i}" for i in range(1001)] + ["cs-reviewers"]}, "at most 1000"),
        ({"groups": [{"name": "cs-reviewers"}]}, "not printable text"),
    ],
)
def test_hostile_claims_are_refused_with_a_clear_message(engine, bad: dict[str, Any], says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInRefused) as e:
        sign_in(engine, claims(**bad) if None not in bad.values() else {k: v for k, v in claims().items() if k not in bad})
    assert says in str(e.value) and str(e.value).startswith("Company sign-in refused:")
    assert users(engine) == []
    (r,) = refusals(engine)
    assert r["code"] == "sso_refused" and r["actor"].isprintable() and len(r["actor"]) <= 64


def test_claims_that_are_not_a_mapping_are_refused(engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SignInRefused, match="not a set of claims"):
        sign_in(engine, ["iss", "sub"])  # type: ignore[arg-type]
    assert refusals(engine)[0]["actor"] == "(company sign-in)"


def test_a_username_falls_back_to_the_email_then_the_subject(engine) -> None:  # type: ignore[no-untyped-def]
    assert sign_in(engine, claims(preferred_username=None)).username == "rita"
    assert sign_in(engine, claims(sub="00u-x", preferred_username=None, email=None, name=None)).username == "00u-x"


def test_two_first_sign_ins_at_once_end_in_one_user_and_a_plain_conflict(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from review.errors import Conflict

    sign_in(engine, claims())
    monkeypatch.setattr(sso, "find_linked", lambda *_a: None)  # the second did not see the first's user yet
    with pytest.raises(Conflict, match="reload the page"):
        sign_in(engine, claims(preferred_username="rita.other"))
    assert len(users(engine)) == 1
