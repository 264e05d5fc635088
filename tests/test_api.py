"""The read-only API: token lifecycle and scopes, what is visible (published only, per brand),
pagination complete and stable, recalls, refusal of tampered exports, JSON errors (never a
traceback), the m013 upgrade, the token CLI, and an ESP-style client against a real server."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from api_support import drafts, make_token, new_campaign, publish_campaign  # noqa: E402

from api.app import create_app  # noqa: E402
from review import audit, db  # noqa: E402
from review.api_tokens import authenticate_token, create_token, list_tokens, revoke_token  # noqa: E402
from review.errors import AuthenticationError, Conflict, CountersignError, InvalidInput, PermissionDenied  # noqa: E402
from review.models import ApiScope, ApiToken, AuditEvent, Export, utcnow  # noqa: E402
from review.workflow import withdraw  # noqa: E402

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _no_background_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-memory test database has one connection: no second thread may use it.
    monkeypatch.setenv("COUNTERSIGN_WEBHOOK_SEND_AFTER_COMMIT", "0")


@pytest.fixture
def client(world):  # type: ignore[no-untyped-def]
    return TestClient(create_app(world.engine), raise_server_exceptions=False)


@pytest.fixture
def published(world, sign_all, tmp_path):  # type: ignore[no-untyped-def]
    exp = publish_campaign(world, sign_all, tmp_path / "exports")
    return world, exp


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def jsonl(exp: Export) -> list[dict]:
    return [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]


def walk(client: TestClient, url: str, token: str, **params: object) -> list[list[dict]]:
    """Every page of a listing, following next_cursor."""
    pages, cursor = [], None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, headers=bearer(token), params=q)
        assert r.status_code == 200, r.text
        pages.append(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages


# ------------------------------------------------------------------ tokens


def test_token_secret_is_shown_once_and_stored_only_as_its_hash(world) -> None:  # type: ignore[no-untyped-def]
    made = create_token(world.session, world.admin, name="ESP production", scopes=[ApiScope.MESSAGES_READ], expires_in_days=30)
    world.session.commit()
    prefix, key_id, secret = made.token.split("_", 2)
    assert prefix == "cs" and key_id == made.info.key_id and len(secret) == 43
    row = world.session.get(ApiToken, made.info.id)
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    dumped = json.dumps([list(r) for r in world.session.execute(text("SELECT * FROM apitoken")).all()], default=str)
    assert secret not in dumped and made.token not in dumped
    assert all(secret not in json.dumps(e.after) for e in world.session.exec(select(AuditEvent)).all())
    listed = list_tokens(world.session, world.admin)
    assert [(t.key_id, t.state, t.scopes) for t in listed] == [(key_id, "active", (ApiScope.MESSAGES_READ,))]
    created = world.session.exec(select(AuditEvent).where(AuditEvent.action == "api_token_created")).one()
    assert created.actor == "admin" and created.after["scopes"] == [ApiScope.MESSAGES_READ]


def test_only_an_admin_creates_or_revokes_tokens(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        create_token(world.session, world.marketer, name="mine", scopes=[ApiScope.MESSAGES_READ])
    world.session.rollback()
    made = create_token(world.session, world.admin, name="ESP", scopes=[ApiScope.CAMPAIGNS_READ])
    world.session.commit()
    with pytest.raises(PermissionDenied):
        revoke_token(world.session, world.reviewer, made.info.id)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "", "scopes": [ApiScope.MESSAGES_READ]}, "needs a name"),
        ({"name": "x", "scopes": []}, "at least one scope"),
        ({"name": "x", "scopes": ["messages:write"]}, "unknown scope 'messages:write'"),
        ({"name": "x", "scopes": [ApiScope.MESSAGES_READ], "expires_in_days": 0}, "expires after 1 to"),
        ({"name": "x", "scopes": [ApiScope.MESSAGES_READ], "brand_slug": "../etc"}, "not found"),
    ],
)
def test_token_creation_refusals_say_what(world, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CountersignError, match=message):
        create_token(world.session, world.admin, **kwargs)


def test_revoked_expired_wrong_and_missing_tokens_get_401(client, published) -> None:  # type: ignore[no-untyped-def]
    w, _ = published
    good = make_token(w, ApiScope.CAMPAIGNS_READ)
    assert client.get("/v1/campaigns", headers=bearer(good)).status_code == 200
    key_id = good.split("_")[1]
    wrong_secret = f"cs_{key_id}_" + "A" * 43
    for headers in ({}, bearer(wrong_secret), bearer("cs_000000000000_" + "A" * 43), bearer("not-a-token"), {"Authorization": f"Basic {good}"}):
        r = client.get("/v1/campaigns", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    row = w.session.exec(select(ApiToken).where(ApiToken.key_id == key_id)).one()
    assert row.last_used_at is not None  # the successful call was recorded
    revoke_token(w.session, w.admin, row.id)
    w.session.commit()
    r = client.get("/v1/campaigns", headers=bearer(good))
    assert r.status_code == 401 and r.json() == {"error": {"code": "unauthorized", "message": "invalid, expired or revoked API token"}}
    with pytest.raises(Conflict, match="already revoked"):
        revoke_token(w.session, w.admin, row.id)
    w.session.rollback()
    assert [e.after["key_id"] for e in w.session.exec(select(AuditEvent).where(AuditEvent.action == "api_token_revoked")).all()] == [key_id]
    expiring = make_token(w, ApiScope.CAMPAIGNS_READ)
    t = w.session.exec(select(ApiToken).where(ApiToken.key_id == expiring.split("_")[1])).one()
    t.expires_at = utcnow() - timedelta(seconds=1)
    w.session.add(t)
    w.session.commit()
    assert client.get("/v1/campaigns", headers=bearer(expiring)).status_code == 401


def test_a_refused_token_leaves_the_audit_trail_alone(client, published) -> None:  # type: ignore[no-untyped-def]
    w, _ = published
    before = w.session.exec(select(AuditEvent)).all()
    for _ in range(3):
        client.get("/v1/campaigns", headers=bearer("cs_000000000000_" + "B" * 43))
    w.session.expire_all()
    assert len(w.session.exec(select(AuditEvent)).all()) == len(before)


def test_scopes_are_enforced_per_route(client, published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    campaigns_only = make_token(w, ApiScope.CAMPAIGNS_READ)
    messages_only = make_token(w, ApiScope.MESSAGES_READ)
    cid = exp.campaign_id
    r = client.get(f"/v1/campaigns/{cid}/messages", headers=bearer(campaigns_only))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden" and "messages:read" in r.json()["error"]["message"]
    for url in ("/v1/campaigns", f"/v1/campaigns/{cid}", f"/v1/campaigns/{cid}/recalls"):
        assert client.get(url, headers=bearer(messages_only)).status_code == 403, url
        assert client.get(url, headers=bearer(campaigns_only)).status_code == 200, url
    assert client.get(f"/v1/campaigns/{cid}/messages", headers=bearer(messages_only)).status_code == 200


def test_authenticate_compares_the_secret_not_just_the_key_id(world) -> None:  # type: ignore[no-untyped-def]
    token = make_token(world, ApiScope.CAMPAIGNS_READ)
    principal = authenticate_token(world.session, token)
    assert principal.scopes == {ApiScope.CAMPAIGNS_READ} and principal.brand_id is None
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError):
        authenticate_token(world.session, flipped)


# ------------------------------------------------------------------ what is visible


def test_only_published_campaigns_are_visible(client, world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = make_token(world, *ApiScope.ALL)
    assert client.get("/v1/campaigns", headers=bearer(token)).json() == {"items": [], "next_cursor": None}
    from review.filling import FakeFiller
    from review.generation import generate_campaign

    generate_campaign(world.engine, world.marketer, world.campaign_id, FakeFiller())
    sign_all(world)  # approved, not published: still invisible
    for url in (f"/v1/campaigns/{world.campaign_id}", f"/v1/campaigns/{world.campaign_id}/messages"):
        r = client.get(url, headers=bearer(token))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", url
    from review.export import publish

    publish(world.session, world.marketer, world.campaign_id, tmp_path)
    world.session.commit()
    items = client.get("/v1/campaigns", headers=bearer(token)).json()["items"]
    assert [(c["id"], c["status"], c["brand"]) for c in items] == [(world.campaign_id, "published", "acme-pharma")]


def test_a_brand_restricted_token_sees_only_its_brand(build_world, sign_all, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    brands = tmp_path / "brands"
    shutil.copytree(ROOT / "tests" / "fixtures" / "brands", brands)
    shutil.copytree(brands / "acme-pharma", brands / "beta-bank")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(brands))
    w = build_world()
    exp = publish_campaign(w, sign_all, tmp_path / "exports")
    client = TestClient(create_app(w.engine))
    acme, beta = make_token(w, ApiScope.CAMPAIGNS_READ, brand="acme-pharma"), make_token(w, *ApiScope.ALL, brand="beta-bank")
    assert [c["id"] for c in client.get("/v1/campaigns", headers=bearer(acme)).json()["items"]] == [exp.campaign_id]
    assert client.get("/v1/campaigns", headers=bearer(beta)).json()["items"] == []
    for url in (f"/v1/campaigns/{exp.campaign_id}", f"/v1/campaigns/{exp.campaign_id}/messages", f"/v1/campaigns/{exp.campaign_id}/recalls"):
        assert client.get(url, headers=bearer(beta)).status_code == 404, url  # not even confirmed to exist


# ------------------------------------------------------------------ pagination


def test_messages_pages_are_complete_stable_and_the_exported_text(client, published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    token = make_token(w, ApiScope.MESSAGES_READ)
    shipped = jsonl(exp)
    assert len(shipped) == exp.row_count >= 4
    pages = walk(client, f"/v1/campaigns/{exp.campaign_id}/messages", token, limit=2)
    assert [len(p) for p in pages] == [2] * (len(shipped) // 2) + ([len(shipped) % 2] if len(shipped) % 2 else [])
    got = [m for p in pages for m in p]
    assert [{k: v for k, v in m.items() if k != "status"} for m in got] == shipped  # same text, same order, each once
    assert {m["status"] for m in got} == {"published"}
    again = [m for p in walk(client, f"/v1/campaigns/{exp.campaign_id}/messages", token, limit=3) for m in p]
    assert again == got
    body = client.get(f"/v1/campaigns/{exp.campaign_id}/messages", headers=bearer(token)).json()
    assert body["export_id"] == exp.id and body["jsonl_sha256"] == exp.sha256 == hashlib.sha256(Path(exp.jsonl_path).read_bytes()).hexdigest()


def test_campaign_pages_stay_stable_while_campaigns_are_published(client, published, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w, first = published
    second = publish_campaign(w, sign_all, tmp_path / "exports", new_campaign(w, "Second"))
    token = make_token(w, ApiScope.CAMPAIGNS_READ)
    r = client.get("/v1/campaigns", headers=bearer(token), params={"limit": 1})
    assert [c["id"] for c in r.json()["items"]] == [first.campaign_id]
    cursor = r.json()["next_cursor"]
    third = publish_campaign(w, sign_all, tmp_path / "exports", new_campaign(w, "Third"))  # published between two pages
    seen = [first.campaign_id]
    while cursor:
        r = client.get("/v1/campaigns", headers=bearer(token), params={"limit": 1, "cursor": cursor})
        seen += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    assert seen == [first.campaign_id, second.campaign_id, third.campaign_id]


def test_bad_cursors_and_parameters_are_json_errors(client, published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    token = make_token(w, *ApiScope.ALL)
    cases = [
        ("/v1/campaigns", {"cursor": "garbage"}, 422),
        ("/v1/campaigns", {"limit": 0}, 422),
        ("/v1/campaigns", {"limit": 501}, 422),
        ("/v1/campaigns", {"limt": 5}, 422),  # a misspelt parameter is not silently ignored
        (f"/v1/campaigns/{exp.campaign_id}/messages", {"status": "draft"}, 422),
        (f"/v1/campaigns/{exp.campaign_id}/messages", {"cursor": f"m{exp.id + 7}.0"}, 409),
        ("/v1/campaigns/99999", {}, 404),
        ("/v1/campaigns/0", {}, 422),
        ("/v1/campaigns/abc", {}, 422),
        ("/v1/nowhere", {}, 404),
    ]
    for url, params, status in cases:
        r = client.get(url, headers=bearer(token), params=params)
        assert r.status_code == status, (url, params, r.text)
        assert set(r.json()) == {"error"} and r.json()["error"]["message"], (url, params)
    assert client.post("/v1/campaigns", headers=bearer(token)).status_code == 405  # read-only
    with pytest.raises(InvalidInput, match="cursor"):
        from review.api_read import list_campaigns

        list_campaigns(w.session, authenticate_token(w.session, token), cursor="c1; DROP TABLE")


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(client, published, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from review import api_read

    w, _ = published
    token = make_token(w, *ApiScope.ALL)

    def broken(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("db password is hunter2")

    monkeypatch.setattr(api_read, "list_campaigns", broken)
    r = client.get("/v1/campaigns", headers=bearer(token))
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in r.text and "Traceback" not in r.text
    ref = r.json()["error"]["message"].split("reference ")[1].split(")")[0]
    assert any(ref in rec.getMessage() for rec in caplog.records)  # the log has it, the client does not


# ------------------------------------------------------------------ recalls and tampering


def test_a_withdrawn_draft_is_recalled_and_its_messages_are_marked(client, published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    token = make_token(w, *ApiScope.ALL)
    d = drafts(w, exp.campaign_id)[0]
    withdraw(w.session, w.reviewer, d.id, comment="Offer ended early")
    w.session.commit()
    cid = exp.campaign_id
    camp = client.get(f"/v1/campaigns/{cid}", headers=bearer(token)).json()
    assert camp["status"] == "partially_withdrawn" and camp["withdrawn_variants"] == 1
    recalls = client.get(f"/v1/campaigns/{cid}/recalls", headers=bearer(token)).json()["items"]
    variant = recalls[0]["variant"]
    assert [(r["draft_id"], r["reason"]) for r in recalls] == [(d.id, "Offer ended early")]
    shipped = jsonl(exp)
    recalled = [m["recipient_id"] for m in shipped if m["variant"] == variant]
    assert recalls[0]["recipients"] == len(recalled) >= 1
    sendable = [m["recipient_id"] for p in walk(client, f"/v1/campaigns/{cid}/messages", token, limit=2) for m in p]
    withdrawn = [m for p in walk(client, f"/v1/campaigns/{cid}/messages", token, limit=2, status="withdrawn") for m in p]
    assert sendable == [m["recipient_id"] for m in shipped if m["variant"] != variant]
    assert [m["recipient_id"] for m in withdrawn] == recalled and {m["status"] for m in withdrawn} == {"withdrawn"}
    everything = [m for p in walk(client, f"/v1/campaigns/{cid}/messages", token, limit=2, status="all") for m in p]
    assert [m["recipient_id"] for m in everything] == [m["recipient_id"] for m in shipped]


def test_an_export_file_changed_after_publishing_is_not_served(client, published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    token = make_token(w, ApiScope.MESSAGES_READ)
    url = f"/v1/campaigns/{exp.campaign_id}/messages"
    assert client.get(url, headers=bearer(token)).status_code == 200  # read (and cached) once
    path = Path(exp.jsonl_path)
    path.write_text(path.read_text(encoding="utf-8").replace("Acme", "Acme guaranteed cure"), encoding="utf-8")
    r = client.get(url, headers=bearer(token))
    assert r.status_code == 409 and "changed since it was published" in r.json()["error"]["message"]
    # Rewriting the export row's hash to match does not help: the keyed audit event still holds the old one.
    row = w.session.get(Export, exp.id)
    row.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    w.session.add(row)
    w.session.commit()
    r = client.get(url, headers=bearer(token))
    assert r.status_code == 409 and "differs from the audit trail" in r.json()["error"]["message"]
    path.unlink()
    assert client.get(url, headers=bearer(token)).status_code == 409


# ------------------------------------------------------------------ schema, CLI, layers


def test_m013_upgrades_a_database_built_without_it(engine) -> None:  # type: ignore[no-untyped-def]
    cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
    with engine.begin() as c:
        for table in ("webhookattempt", "webhookdelivery", "webhookendpoint", "apitoken"):
            c.execute(text(f"DROP TABLE {table}{cascade}"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm013_api_tokens_webhooks'"))
        c.execute(
            text(
                'INSERT INTO "user" (username, full_name, role, password_hash, active, created_at) '
                "VALUES ('old', 'Old', 'admin', 'x', true, CURRENT_TIMESTAMP)"
            )
        )
    assert not inspect(engine).has_table("apitoken")
    assert db.migrate(engine) == ["m013_api_tokens_webhooks"]
    names = set(inspect(engine).get_table_names())
    assert {"apitoken", "webhookendpoint", "webhookdelivery", "webhookattempt"} <= names
    assert "key_id" in {c["name"] for c in inspect(engine).get_columns("apitoken")}
    with engine.connect() as c:
        assert c.execute(text("SELECT full_name FROM \"user\" WHERE username = 'old'")).scalar_one() == "Old"
    assert db.migrate(engine) == []


def test_token_cli_creates_lists_and_revokes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from review.cli import cli

    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(ROOT / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(ROOT / "templates"))
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-demo", "--no-generate"], catch_exceptions=False).exit_code == 0
    env = {"COUNTERSIGN_PASSWORD": "admin-demo-pass"}
    made = runner.invoke(cli, ["token", "create", "--name", "ESP", "--scope", "messages:read", "--brand", "harbor-mutual", "--as", "admin"], env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    assert token.startswith("cs_") and "scopes messages:read" in made.stdout
    listed = runner.invoke(cli, ["token", "list", "--as", "admin"], env=env)
    assert key_id in listed.output and "active" in listed.output and "brand=harbor-mutual" in listed.output and token not in listed.output
    refused = runner.invoke(
        cli, ["token", "create", "--name", "x", "--scope", "messages:read", "--as", "maria"], env={"COUNTERSIGN_PASSWORD": "maria-demo-pass"}
    )
    assert refused.exit_code == 1 and "needs the admin role" in refused.output and "Traceback" not in refused.output
    revoked = runner.invoke(cli, ["token", "revoke", key_id, "--as", "admin"], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(cli, ["token", "list", "--as", "admin"], env=env).output
    again = runner.invoke(cli, ["token", "revoke", key_id, "--as", "admin"], env=env)
    assert again.exit_code == 1 and "already revoked" in again.output


def test_verify_audit_still_passes_after_token_work(published) -> None:  # type: ignore[no-untyped-def]
    w, _ = published
    make_token(w, ApiScope.MESSAGES_READ)
    assert audit.verify_chain(w.session).ok
