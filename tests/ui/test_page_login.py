"""Login page, logout, role-based navigation and the inactivity timeout."""

from __future__ import annotations

import time

from ui_helpers import PASSWORDS, errors, texts


def test_login_then_logout(app, world):
    at = app()
    assert at.title[0].value.endswith("Countersign")
    at.text_input(key="login_username").input("rita")
    at.text_input(key="login_password").input(PASSWORDS["rita"])
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert at.session_state["user_id"] == world.user("rita").id
    assert at.title[0].value == "Review queue"  # a reviewer lands on the queue
    assert world.events("login")[-1].actor == "rita"
    at.button(key="logout").click().run()
    assert not at.exception
    assert "user_id" not in at.session_state
    assert "logged out" in texts(at)


def test_wrong_password_is_refused_in_plain_words(app, world):
    at = app()
    at.text_input(key="login_username").input("rita")
    at.text_input(key="login_password").input("not-her-password")
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert errors(at) == ["Wrong username or password."]
    assert "user_id" not in at.session_state
    assert not world.events("login")
    [refused] = world.events("refused")  # the failed attempt is on record
    assert (refused.actor, refused.after["attempted"]) == ("rita", "login")


def test_navigation_shows_only_the_roles_pages(app):
    from ui.common import page_files_for

    assert "ui/pages/users.py" in page_files_for("admin")
    assert "ui/pages/users.py" not in page_files_for("reviewer")
    assert "ui/pages/queue.py" not in page_files_for("marketer")
    assert "ui/pages/campaigns.py" not in page_files_for("reviewer")
    at = app("maria")
    assert at.title[0].value == "Campaigns"  # a marketer lands on campaigns
    try:
        at.switch_page("ui/pages/users.py")
    except ValueError:
        pass  # not registered for a marketer: AppTest cannot even switch to it
    else:
        raise AssertionError("the users page must not be registered for a marketer")


def test_session_expires_after_inactivity(app, world, monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_SESSION_TIMEOUT_MINUTES", "1")
    at = app("rita")
    assert at.title[0].value == "Review queue"
    at.session_state["last_activity"] = time.time() - 120
    at.run()
    assert not at.exception
    assert "user_id" not in at.session_state
    assert "session expired" in texts(at)
    assert at.button(key="login_submit")


def test_deactivated_user_is_logged_out(app, world):
    from review.auth import set_active

    at = app("rita")
    with world.session() as s:
        set_active(s, world.user("admin"), world.user("rita").id, False)
        s.commit()
    at.run()
    assert not at.exception
    assert "user_id" not in at.session_state
    assert "no longer active" in texts(at)


def test_repeated_wrong_passwords_pause_sign_in(app, world):
    at = app()
    for _ in range(5):
        at.text_input(key="login_username").input("rita")
        at.text_input(key="login_password").input("not-her-password")
        at.button(key="login_submit").click().run()
        assert errors(at) == ["Wrong username or password."]
    at.text_input(key="login_username").input("rita")
    at.text_input(key="login_password").input(PASSWORDS["rita"])  # the right one, too late
    at.button(key="login_submit").click().run()
    assert not at.exception
    [message] = errors(at)
    assert message.startswith("Too many wrong passwords") and "An admin can lift the pause sooner." in message
    assert "user_id" not in at.session_state
    assert [e.after["refusal"] for e in world.events("refused")] == ["AuthenticationError"] * 5 + ["AccountLocked"]


def _log_in(at, username):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORDS[username])
    at.button(key="login_submit").click().run()
    assert not at.exception, at.exception


def test_a_shared_draft_link_opens_the_draft_after_login(app, world):
    from review.models import Status

    draft_id = world.drafts(Status.IN_REVIEW)[0].id
    at = app(page="ui/pages/draft.py", query={"draft": str(draft_id)})
    assert at.button(key="login_submit")  # the login form, in place of the linked page
    assert "user_id" not in at.session_state
    _log_in(at, "rita")
    assert at.title[0].value == f"Draft #{draft_id}"
    assert at.query_params["draft"] in (str(draft_id), [str(draft_id)])


def test_an_expired_session_logs_in_again_on_the_same_draft(app, world, monkeypatch):
    from review.models import Status

    monkeypatch.setenv("COUNTERSIGN_SESSION_TIMEOUT_MINUTES", "1")
    draft_id = world.drafts(Status.IN_REVIEW)[0].id
    at = app("rita", page="ui/pages/draft.py", query={"draft": str(draft_id)})
    at.session_state["last_activity"] = time.time() - 120
    at.run()
    assert "session expired" in texts(at) and at.button(key="login_submit")
    _log_in(at, "rita")
    assert at.title[0].value == f"Draft #{draft_id}"


def test_a_link_to_another_roles_page_lands_on_the_home_page(app, world):
    at = app(page="ui/pages/queue.py")
    assert at.button(key="login_submit")
    _log_in(at, "maria")
    assert at.title[0].value == "Campaigns"  # marketers have no review queue
