"""API access page (admin): create a token (shown once), revoke it, register a webhook endpoint
(secret shown once), refusals in plain words; other roles never get the page's services."""

from __future__ import annotations

import hashlib

from sqlmodel import select
from ui_helpers import errors, texts

from review.api_tokens import authenticate_token
from review.errors import AuthenticationError
from review.models import ApiToken, WebhookEndpoint

PAGE = "ui/pages/api_access.py"


def test_admin_creates_a_token_sees_it_once_and_revokes_it(app, world):
    at = app("admin", page=PAGE)
    at.text_input(key="token_name").input("ESP production")
    at.multiselect(key="token_scopes").select("campaigns:read")
    at.selectbox(key="token_brand").select("harbor-mutual")
    at.button(key="token_create").click().run()
    assert not at.exception and not errors(at)
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("cs_")
    token = shown[0]
    with world.session() as s:
        row = s.exec(select(ApiToken)).one()
        assert row.name == "ESP production" and sorted(row.scopes) == ["campaigns:read", "messages:read"]
        assert row.secret_sha256 == hashlib.sha256(token.split("_", 2)[2].encode()).hexdigest()
        assert authenticate_token(s, token).brand_id == row.brand_id is not None
    table = next(df for df in at.dataframe if "Key id" in df.value.columns).value
    assert list(table["Key id"]) == [row.key_id] and list(table["State"]) == ["active"]
    at.run()  # any later run: the secret is gone from the page
    assert not at.code and token not in texts(at)
    at.selectbox(key="token_pick").set_value(row.id).run()
    at.button(key="token_revoke").click().run()
    assert not at.exception
    with world.session() as s:
        assert s.get(ApiToken, row.id).revoked_at is not None
        try:
            authenticate_token(s, token)
            raise AssertionError("a revoked token still authenticates")
        except AuthenticationError:
            pass
    assert world.events("api_token_revoked")[-1].actor == "admin"


def test_token_refusals_are_one_sentence(app, world):
    at = app("admin", page=PAGE)
    at.text_input(key="token_name").input("")
    at.button(key="token_create").click().run()
    assert not at.exception
    assert errors(at) and "needs a name" in errors(at)[0]
    assert not at.code


def test_admin_registers_a_webhook_and_sees_its_secret_once(app, world):
    at = app("admin", page=PAGE)
    at.text_input(key="webhook_name").input("ESP")
    at.text_input(key="webhook_url").input("http://esp.example.com/hook")
    at.button(key="webhook_create").click().run()
    assert errors(at) == ["webhook URL 'http://esp.example.com/hook' must use https (plain http is allowed only to localhost)"]
    at.text_input(key="webhook_name").input("ESP")
    at.text_input(key="webhook_url").input("https://esp.example.com/hook")
    at.button(key="webhook_create").click().run()
    assert not at.exception and not errors(at)
    assert [c.value[:6] for c in at.code] == ["whsec_"]
    with world.session() as s:
        row = s.exec(select(WebhookEndpoint)).one()
    assert row.url == "https://esp.example.com/hook" and at.code[0].value not in row.secret_salt
    table = next(df for df in at.dataframe if "URL" in df.value.columns).value
    assert list(table["State"]) == ["active"]
    at.button(key="webhook_disable").click().run()
    assert not at.exception
    with world.session() as s:
        assert s.get(WebhookEndpoint, row.id).active is False
    assert [e.action for e in world.events("webhook_registered")] == ["webhook_registered"]


def test_the_page_is_admin_only_and_so_are_its_services(world):
    import pytest

    from review.api_tokens import list_tokens
    from review.errors import PermissionDenied
    from review.webhooks import list_endpoints
    from ui.common import page_files_for

    assert PAGE in page_files_for("admin")
    assert PAGE not in page_files_for("marketer") and PAGE not in page_files_for("reviewer")
    with world.session() as s:  # a hidden page is not a permission: the services refuse too
        for service in (list_tokens, list_endpoints):
            with pytest.raises(PermissionDenied, match="needs the admin role"):
                service(s, world.user("maria"))
