"""Company sign-in on the login page (st.login / st.user), with and without [auth] configured."""

from __future__ import annotations

import time
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from ui_helpers import APP, texts

ISS = "http://localhost:9999"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret-of-some-length",
    "company": {"client_id": "countersign", "client_secret": "s3cret", "server_metadata_url": f"{ISS}/.well-known/openid-configuration"},
}


@pytest.fixture(autouse=True)
def _mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTERSIGN_OIDC_ROLES", "cs-admins=admin,cs-reviewers=reviewer,cs-marketing=marketer")


def company_user(groups: list[str], sub: str = "00u-sara", username: str = "sara") -> dict[str, Any]:
    now = int(time.time())
    return {
        "is_logged_in": True,
        "iss": ISS,
        "sub": sub,
        "preferred_username": username,
        "name": "Sara Single-Sign-On",
        "email": "sara@example.com",
        "groups": groups,
        "iat": now,
        "auth_time": now,
        "provider": "company",
    }


def run(world, *, auth: bool = True, user: dict[str, Any] | None = None) -> AppTest:  # type: ignore[no-untyped-def]
    from streamlit import config as st_config

    st_config.set_option("client.showErrorDetails", "full")
    at = AppTest.from_file(APP, default_timeout=30)
    if auth:
        at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def buttons(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_without_auth_the_login_page_is_todays(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world, auth=False)
    assert at.button(key="login_submit") and at.text_input(key="login_username")
    assert "sso_login" not in buttons(at) and "company account" not in texts(at)


def test_with_auth_the_login_page_offers_company_sign_in_beside_the_form(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world)
    assert at.button(key="login_submit") and at.text_input(key="login_password")  # local passwords are kept
    assert at.button(key="sso_login").label == "Sign in with your company account"


def test_a_company_user_in_a_mapped_group_is_signed_in_then_logged_out_of_both(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world, user=company_user(["staff", "cs-reviewers"]))
    sara = world.user("sara")
    assert (sara.role, sara.oidc_subject) == ("reviewer", "00u-sara")
    assert at.session_state["user_id"] == sara.id
    assert at.title[0].value == "Review queue"
    assert any("Sara Single-Sign-On" in m.value and "reviewer" in m.value for m in at.sidebar.markdown)
    assert world.events("login")[-1].after["via"] == "sso"
    at.button(key="logout").click().run()
    assert not at.exception
    assert "user_id" not in at.session_state
    assert at.user == {"is_logged_in": False}  # st.logout ended the company session too
    again = run(world, user=at.user)  # the browser's reload after the provider's logout: a new session
    assert "user_id" not in again.session_state and again.button(key="login_submit")  # not signed in again silently


def test_a_company_user_in_no_mapped_group_sees_why_and_may_sign_out(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world, user=company_user(["staff"], sub="00u-nora", username="nora"))
    assert "user_id" not in at.session_state
    assert [e.value for e in at.error] == ["Your company account is in none of the groups Countersign maps to a role: ask an administrator."]
    assert at.button(key="sso_sign_out") and at.button(key="login_submit")
    assert len(world.events("refused")) == 1
    at.run()  # a rerun does not ask again (nor record the refusal again)
    assert len(world.events("refused")) == 1 and at.error
    at.button(key="sso_sign_out").click().run()
    assert at.user == {"is_logged_in": False}


def test_the_inactivity_timeout_also_ends_the_company_session(world, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_SESSION_TIMEOUT_MINUTES", "1")
    at = run(world, user=company_user(["cs-reviewers"]))
    assert at.title[0].value == "Review queue"
    at.session_state["last_activity"] = time.time() - 120
    at.run()
    assert not at.exception
    assert "user_id" not in at.session_state
    assert at.user == {"is_logged_in": False}
    assert at.button(key="login_submit")


def test_an_sso_account_sets_its_signing_password_in_the_sidebar(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world, user=company_user(["cs-reviewers"]))
    at.text_input(key="sidebar_signing_pw_new").input("sara-signs-here")
    at.text_input(key="sidebar_signing_pw_again").input("sara-signs-here")
    at.button(key="sidebar_signing_pw_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "signing password is set" in texts(at)
    from review.auth import check_signing_password

    assert check_signing_password(world.user("sara"), "sara-signs-here")


def test_a_local_user_has_no_signing_password_form(world) -> None:  # type: ignore[no-untyped-def]
    at = run(world, auth=True)
    at.text_input(key="login_username").input("rita")
    at.text_input(key="login_password").input("rita-demo-pass")
    at.button(key="login_submit").click().run()
    assert at.title[0].value == "Review queue"
    assert "sidebar_signing_pw_new" not in {t.key for t in at.text_input}


def test_an_sso_reviewer_sets_a_signing_password_on_the_draft_page_then_signs_with_it(world) -> None:  # type: ignore[no-untyped-def]
    from review.checks import warning_ids
    from review.models import Status

    d = next(d for d in world.drafts(Status.IN_REVIEW) if not d.warning_count)
    at = run(world, user=company_user(["cs-reviewers"]))
    at.query_params["draft"] = str(d.id)
    at.switch_page("ui/pages/draft.py").run()
    assert not at.exception, at.exception
    keys = {t.key for t in at.text_input}
    assert "approve_password" not in keys and "draft_signing_pw_new" in keys  # the form comes first
    at.text_input(key="draft_signing_pw_new").input("sara-signs-here")
    at.text_input(key="draft_signing_pw_again").input("sara-signs-here")
    at.button(key="draft_signing_pw_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    box = at.text_input(key="approve_password")
    assert box.label == "Re-enter your signing password to sign"
    assert not warning_ids(d.findings)
    box.input("sara-signs-here")
    at.button(key="approve_btn").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("signed by Sara Single-Sign-On" in s.value for s in at.success)


def test_a_stale_company_sign_in_is_asked_to_sign_in_again_before_setting_it(world) -> None:  # type: ignore[no-untyped-def]
    old = company_user(["cs-reviewers"])
    old["iat"] = old["auth_time"] = int(time.time()) - 3600
    at = run(world, user=old)
    at.text_input(key="sidebar_signing_pw_new").input("sara-signs-here")
    at.text_input(key="sidebar_signing_pw_again").input("sara-signs-here")
    at.button(key="sidebar_signing_pw_submit").click().run()
    assert not at.exception
    assert any("sign in with your company account again" in e.value for e in at.error)
    assert at.button(key="sidebar_signing_pw_relogin").label == "Sign in with your company account again"
    assert world.user("sara").signing_password_hash is None
