"""Users page (admin): list, create, deactivate; refusals in plain words."""

from __future__ import annotations

import pytest
from ui_helpers import errors

from review.auth import list_users
from review.errors import PermissionDenied


def test_admin_lists_and_creates_users(app, world):
    at = app("admin", page="ui/pages/users.py")
    table = next(df for df in at.dataframe if "Username" in df.value.columns).value
    assert {"admin", "maria", "rita", "rob"} <= set(table["Username"])
    at.text_input(key="user_new_username").input("valerie")
    at.text_input(key="user_new_full_name").input("Valerie Verifier")
    at.selectbox(key="user_new_role").select("reviewer")
    at.text_input(key="user_new_password").input("vera-long-pass")
    at.button(key="user_create").click().run()
    assert not at.exception
    assert not errors(at)
    valerie = world.user("valerie")
    assert valerie.role == "reviewer" and valerie.full_name == "Valerie Verifier" and valerie.active
    assert any(e.after.get("username") == "valerie" for e in world.events("user_created"))


def test_create_refusals(app, world):
    at = app("admin", page="ui/pages/users.py")
    at.text_input(key="user_new_username").input("rita")
    at.text_input(key="user_new_full_name").input("Another Rita")
    at.text_input(key="user_new_password").input("long-enough-pass")
    at.button(key="user_create").click().run()
    assert not at.exception
    assert errors(at) == ["username 'rita' is taken"]
    at.text_input(key="user_new_username").input("shorty")
    at.text_input(key="user_new_full_name").input("Short Password")
    at.text_input(key="user_new_password").input("short")
    at.button(key="user_create").click().run()
    assert errors(at) == ["password must have at least 8 characters"]


def test_deactivate_and_reactivate(app, world):
    at = app("admin", page="ui/pages/users.py")
    rob = world.user("rob")
    at.selectbox(key="user_pick").set_value(rob.id).run()
    at.button(key="user_toggle").click().run()
    assert not at.exception
    assert world.user("rob").active is False
    assert world.events("user_deactivated")[-1].entity_id == str(rob.id)
    at.selectbox(key="user_pick").set_value(rob.id).run()
    at.button(key="user_toggle").click().run()
    assert world.user("rob").active is True


def test_admin_cannot_deactivate_self(app, world):
    at = app("admin", page="ui/pages/users.py")
    at.selectbox(key="user_pick").set_value(world.user("admin").id).run()
    at.button(key="user_toggle").click().run()
    assert not at.exception
    assert errors(at) == ["you cannot deactivate your own account"]
    assert world.user("admin").active


def test_non_admins_are_refused_by_the_service(world):
    with world.session() as s, pytest.raises(PermissionDenied, match="needs the admin role"):
        list_users(s, world.user("rita"))


def _wrong_passwords(world, name: str, times: int) -> None:
    from review.auth import authenticate
    from review.db import session_scope
    from review.errors import AuthenticationError

    for _ in range(times):
        with pytest.raises(AuthenticationError), session_scope(world.engine) as s:
            authenticate(s, name, "not-the-password")


def test_admin_sees_and_lifts_a_sign_in_pause(app, world):
    _wrong_passwords(world, "rob", 5)
    at = app("admin", page="ui/pages/users.py")
    table = next(df for df in at.dataframe if "Username" in df.value.columns).value
    rob_row = table[table["Username"] == "rob"].iloc[0]
    assert rob_row["Sign-in"].startswith("paused until") and rob_row["Recent wrong passwords"] == 5
    assert table[table["Username"] == "rita"].iloc[0]["Sign-in"] == "ok"
    assert not [b for b in at.button if b.key == "user_unlock"]  # the first user picked (admin) is not paused
    at.selectbox(key="user_pick").set_value(world.user("rob").id).run()
    assert any("paused after 5 wrong passwords" in w.value for w in at.warning)
    at.button(key="user_unlock").click().run()
    assert not at.exception and not errors(at)
    assert world.events("user_unlocked")[-1].entity_id == str(world.user("rob").id)
    table = next(df for df in at.dataframe if "Username" in df.value.columns).value
    assert table[table["Username"] == "rob"].iloc[0]["Sign-in"] == "ok"
