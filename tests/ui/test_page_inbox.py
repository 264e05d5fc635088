"""Inbox page: unread count in the menu and the title, open a notification (read, and its draft
opens), mark all read; a notification's link opened while logged out lands on the draft after login."""

from __future__ import annotations

from sqlmodel import col, select
from ui_helpers import PASSWORDS, html_text, texts

from review.models import Notification


def notes(world, username: str) -> list[Notification]:  # type: ignore[no-untyped-def]
    uid = world.user(username).id
    with world.session() as s:
        return list(s.exec(select(Notification).where(Notification.user_id == uid).order_by(col(Notification.id).desc())).all())


def test_the_unread_count_shows_in_the_menu_and_opening_one_reads_it_and_opens_its_draft(app, world):
    mine = notes(world, "rita")
    assert mine and {n.kind for n in mine} == {"assigned"}  # the demo's drafts were assigned on submit
    at = app("rita", page="ui/pages/inbox.py")
    assert at.title[0].value == f"Inbox ({len(mine)} unread)"
    shown = html_text(texts(at))
    assert mine[0].title in shown and "Assigned to you" in shown
    newest = mine[0]
    at.button(key=f"inbox_open_{newest.id}").click().run()
    assert not at.exception
    assert at.title[0].value == f"Draft #{newest.draft_id}"
    assert notes(world, "rita")[0].read_at is not None
    at.switch_page("ui/pages/inbox.py").run()
    assert at.title[0].value == f"Inbox ({len(mine) - 1} unread)"


def test_mark_all_read_and_the_unread_filter(app, world):
    at = app("rob", page="ui/pages/inbox.py")
    assert "unread" in at.title[0].value
    at.button(key="inbox_read_all").click().run()
    assert not at.exception
    assert at.title[0].value == "Inbox"
    assert all(n.read_at is not None for n in notes(world, "rob"))
    at.toggle(key="inbox_unread_only").set_value(True).run()
    assert "Nothing unread." in texts(at)
    assert world.events("notifications_read")[-1].actor == "rob"


def test_an_author_reads_the_reviewers_comment_in_the_inbox(app, world):
    from review.db import session_scope
    from review.workflow import request_changes

    draft_id = notes(world, "rob")[0].draft_id
    with session_scope(world.engine) as s:
        request_changes(s, world.user("rob"), draft_id, comment="Say 'renewal' instead of 'rollover'.")
    at = app("maria", page="ui/pages/inbox.py")
    assert at.title[0].value == "Inbox (1 unread)"
    shown = html_text(texts(at))
    assert "Changes requested" in shown and "Say 'renewal' instead of 'rollover'." in shown and f"draft {draft_id}" in shown


def test_a_notification_link_opened_while_logged_out_lands_on_the_draft_after_login(app, world):
    link = notes(world, "rita")[0].link
    path, _, query = link.partition("?")
    key, _, value = query.partition("=")
    assert path == "/draft" and key == "draft"
    at = app(page="ui/pages/draft.py", query={key: value})
    assert at.button(key="login_submit")  # the login form first
    at.text_input(key="login_username").input("rita")
    at.text_input(key="login_password").input(PASSWORDS["rita"])
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert at.title[0].value == f"Draft #{value}"
