"""Signed webhooks: endpoints (admin, audited, secret never stored), deliveries queued in the
publish / withdraw transaction, sent to a real local HTTP receiver with an HMAC signature the
test checks on its own, retried with backoff after a 500, given up after the last attempt; and
the ESP-style client: a real uvicorn API server and a receiver, pages pulled with a token."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib leaves sys.path alone
from api_support import drafts, make_token, publish_campaign  # noqa: E402

from review import audit  # noqa: E402
from review.errors import Conflict, ExportRefused, InvalidInput, PermissionDenied  # noqa: E402
from review.models import ApiScope, AuditEvent, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow  # noqa: E402
from review.webhook_delivery import _claim, backoff, deliver_due, retry_delivery  # noqa: E402
from review.webhooks import check_url, disable_endpoint, endpoint_secret, register_endpoint, rotate_secret, sign, verify  # noqa: E402
from review.workflow import withdraw  # noqa: E402


@pytest.fixture(autouse=True)
def _no_background_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deterministic attempts (deliver_due) for the in-memory database; the ESP test turns it on.
    monkeypatch.setenv("COUNTERSIGN_WEBHOOK_SEND_AFTER_COMMIT", "0")


class Receiver:
    """A real HTTP server on a free local port: records each POST and answers the scripted codes."""

    def __init__(self, codes: list[int]) -> None:
        self.codes = list(codes)
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path})
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                if code in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if code < 300 else b"receiver is down")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/countersign"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def start(*codes: int) -> Receiver:
        r = Receiver(list(codes))
        made.append(r)
        return r

    yield start
    for r in made:
        r.close()


def expected_signature(secret: str, header: str, body: bytes) -> bool:
    """The receiver's check, written from the README alone (not with review.webhooks)."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


# ------------------------------------------------------------------ signing


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"id":"evt_1"}'
    header = sign("whsec_test", body, 1_700_000_000)
    t, v1 = header.split(",")
    assert t == "t=1700000000"
    assert v1 == "v1=" + hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert verify("whsec_test", header, body, now=1_700_000_100)
    assert not verify("whsec_test", header, body + b" ", now=1_700_000_100)  # body changed
    assert not verify("whsec_other", header, body, now=1_700_000_100)  # another secret
    assert not verify("whsec_test", header, body, now=1_700_000_000 + 301)  # replayed too late
    assert not verify("whsec_test", "v1=" + v1[3:], body, now=1_700_000_000)  # no timestamp
    assert not verify("whsec_test", "t=abc," + v1, body)


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://esp.example.com/hook", "must use https"),
        ("ftp://esp.example.com/hook", "must start with https://"),
        ("https://user:pw@esp.example.com/hook", "user name or password"),
        ("https://esp.example.com/hook#x", "fragment"),
        ("https://esp.example.com/a b", "without spaces"),
        ("https://esp.example.com:99999/hook", "not a valid URL"),
        ("https:///nohost", "name a host"),
    ],
)
def test_endpoint_urls_are_checked(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_url(url)


def test_https_and_local_http_are_accepted() -> None:
    assert check_url(" https://esp.example.com/hooks?x=1 ") == "https://esp.example.com/hooks?x=1"
    assert check_url("http://127.0.0.1:8080/h") and check_url("http://localhost/h") and check_url("http://[::1]:9/h")


# ------------------------------------------------------------------ endpoints


def test_endpoint_secret_is_derived_never_stored_and_rotates(world) -> None:  # type: ignore[no-untyped-def]
    made = register_endpoint(world.session, world.admin, name="ESP", url="https://esp.example.com/hook")
    world.session.commit()
    assert made.secret.startswith("whsec_") and made.info.events == tuple(sorted(WebhookEvent.ALL))
    row = world.session.get(WebhookEndpoint, made.info.id)
    assert made.secret not in json.dumps(row.model_dump(), default=str)
    assert endpoint_secret(row) == made.secret  # the same secret from the salt and the key outside the database
    rotated = rotate_secret(world.session, world.admin, made.info.id)
    world.session.commit()
    assert rotated.secret != made.secret and endpoint_secret(world.session.get(WebhookEndpoint, made.info.id)) == rotated.secret
    actions = [e.action for e in world.session.exec(select(AuditEvent).where(AuditEvent.entity == "webhook")).all()]
    assert actions == ["webhook_registered", "webhook_secret_rotated"]
    assert all(made.secret not in json.dumps(e.after) for e in world.session.exec(select(AuditEvent)).all())


def test_only_an_admin_manages_endpoints(world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        register_endpoint(world.session, world.marketer, name="mine", url="https://esp.example.com/hook")
    with pytest.raises(InvalidInput, match="unknown event"):
        register_endpoint(world.session, world.admin, name="x", url="https://esp.example.com/hook", events=["draft.signed"])


# ------------------------------------------------------------------ queueing


def test_publish_queues_one_delivery_per_subscribed_endpoint(world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = world
    both = register_endpoint(w.session, w.admin, name="all events", url="https://a.example.com/h")
    register_endpoint(w.session, w.admin, name="withdrawals only", url="https://b.example.com/h", events=[WebhookEvent.WITHDRAWN])
    gone = register_endpoint(w.session, w.admin, name="disabled", url="https://c.example.com/h")
    disable_endpoint(w.session, w.admin, gone.info.id)
    w.session.commit()
    exp = publish_campaign(w, sign_all, tmp_path)
    rows = w.session.exec(select(WebhookDelivery)).all()
    assert [(d.endpoint_id, d.event, d.status) for d in rows] == [(both.info.id, WebhookEvent.PUBLISHED, DeliveryStatus.PENDING)]
    payload = json.loads(rows[0].body)
    assert payload["type"] == "campaign.published" and payload["id"] == rows[0].event_id
    assert payload["data"]["export"] == {"id": exp.id, "messages": exp.row_count, "held_back": exp.held_back, "jsonl_sha256": exp.sha256}
    assert payload["data"]["links"]["messages"] == f"/v1/campaigns/{exp.campaign_id}/messages"


def test_a_refused_publish_queues_nothing(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from review.export import publish
    from review.filling import FakeFiller
    from review.generation import generate_campaign

    register_endpoint(world.session, world.admin, name="ESP", url="https://a.example.com/h")
    world.session.commit()
    generate_campaign(world.engine, world.marketer, world.campaign_id, FakeFiller())
    with pytest.raises(ExportRefused):
        publish(world.session, world.marketer, world.campaign_id, tmp_path)  # nothing signed
    world.session.rollback()
    assert world.session.exec(select(WebhookDelivery)).all() == []


def test_withdrawing_a_published_draft_queues_a_recall_and_an_unpublished_one_does_not(world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = world
    register_endpoint(w.session, w.admin, name="ESP", url="https://a.example.com/h", events=[WebhookEvent.WITHDRAWN])
    w.session.commit()
    from review.filling import FakeFiller
    from review.generation import generate_campaign

    generate_campaign(w.engine, w.marketer, w.campaign_id, FakeFiller())
    sign_all(w)
    first = drafts(w, w.campaign_id)[0]
    withdraw(w.session, w.reviewer, first.id, comment="not needed")  # approved, never published: nothing was sent
    w.session.commit()
    assert w.session.exec(select(WebhookDelivery)).all() == []
    from review.export import publish
    from review.models import Draft, Status

    others = [d for d in drafts(w, w.campaign_id) if d.status == Status.APPROVED]
    # A campaign with a withdrawn draft cannot be exported; publish a fresh one instead.
    assert len(others) == len(drafts(w, w.campaign_id)) - 1
    with pytest.raises(ExportRefused):
        publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.rollback()
    from api_support import new_campaign

    cid = new_campaign(w, "Recall me")
    publish_campaign(w, sign_all, tmp_path, cid)
    d = w.session.exec(select(Draft).where(Draft.campaign_id == cid)).first()
    withdraw(w.session, w.reviewer, d.id, comment="Rate changed")
    w.session.commit()
    rows = w.session.exec(select(WebhookDelivery)).all()
    assert [r.event for r in rows] == [WebhookEvent.WITHDRAWN]
    data = json.loads(rows[0].body)["data"]
    assert data["withdrawn"]["draft_id"] == d.id and data["withdrawn"]["reason"] == "Rate changed" and data["withdrawn"]["recipients"] >= 1
    assert data["links"]["recalls"] == f"/v1/campaigns/{cid}/recalls"


# ------------------------------------------------------------------ sending


def test_delivery_is_signed_retried_after_a_500_and_recorded(world, sign_all, tmp_path, receiver) -> None:  # type: ignore[no-untyped-def]
    w = world
    rx = receiver(500, 200)
    made = register_endpoint(w.session, w.admin, name="ESP", url=rx.url)
    w.session.commit()
    publish_campaign(w, sign_all, tmp_path)
    t0 = utcnow()
    first = deliver_due(w.engine, now=t0)
    assert (first.tried, first.delivered, first.retrying) == (1, 0, 1)
    w.session.expire_all()
    d = w.session.exec(select(WebhookDelivery)).one()
    assert d.status == DeliveryStatus.PENDING and d.attempts == 1 and d.last_status_code == 500
    due = d.next_attempt_at if d.next_attempt_at.tzinfo else d.next_attempt_at.replace(tzinfo=t0.tzinfo)
    assert due - t0 == backoff(1)
    assert deliver_due(w.engine, now=t0 + backoff(1) - timedelta(seconds=1)).tried == 0  # not due yet
    second = deliver_due(w.engine, now=t0 + backoff(1))
    assert (second.tried, second.delivered) == (1, 1)
    w.session.expire_all()
    d = w.session.exec(select(WebhookDelivery)).one()
    assert d.status == DeliveryStatus.DELIVERED and d.attempts == 2 and d.delivered_at is not None
    attempts = w.session.exec(select(WebhookAttempt).where(WebhookAttempt.delivery_id == d.id).order_by(WebhookAttempt.id)).all()
    assert [(a.status_code, a.error) for a in attempts] == [(500, "HTTP 500 Internal Server Error"), (200, "")]
    assert attempts[0].response_excerpt == "receiver is down"
    assert len(rx.received) == 2
    for n, got in enumerate(rx.received, start=1):
        assert got["body"] == d.body.encode()  # the same bytes on every retry
        assert got["headers"]["countersign-event-id"] == d.event_id and got["headers"]["countersign-delivery-attempt"] == str(n)
        assert got["headers"]["content-type"] == "application/json"
        assert expected_signature(made.secret, got["headers"]["countersign-signature"], got["body"])
        assert not expected_signature(made.secret + "x", got["headers"]["countersign-signature"], got["body"])
    assert deliver_due(w.engine, now=t0 + timedelta(days=1)).tried == 0  # delivered: never again


def test_a_delivery_is_given_up_after_the_last_attempt_and_an_admin_can_retry(world, sign_all, tmp_path, receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_WEBHOOK_MAX_ATTEMPTS", "3")
    w = world
    rx = receiver(503, 302, 500, 200)  # a redirect is a failure, not followed
    register_endpoint(w.session, w.admin, name="ESP", url=rx.url)
    w.session.commit()
    publish_campaign(w, sign_all, tmp_path)
    now = utcnow()
    for _ in range(3):
        deliver_due(w.engine, now=now)
        now += timedelta(hours=7)
    w.session.expire_all()
    d = w.session.exec(select(WebhookDelivery)).one()
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3 and len(rx.received) == 3
    assert [r["path"] for r in rx.received] == ["/hooks/countersign"] * 3
    assert deliver_due(w.engine, now=now + timedelta(days=2)).tried == 0
    with pytest.raises(PermissionDenied):
        retry_delivery(w.session, w.marketer, d.id)
    w.session.rollback()
    retry_delivery(w.session, w.admin, d.id)
    w.session.commit()
    with pytest.raises(Conflict, match="only a failed delivery"):
        retry_delivery(w.session, w.admin, d.id)
    w.session.rollback()
    assert deliver_due(w.engine).delivered == 1 and len(rx.received) == 4
    assert audit.verify_chain(w.session).ok


def test_an_unreachable_receiver_is_an_attempt_with_the_reason(world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    register_endpoint(world.session, world.admin, name="ESP", url=f"http://127.0.0.1:{port}/h")
    world.session.commit()
    publish_campaign(world, sign_all, tmp_path)
    report = deliver_due(world.engine)
    assert (report.tried, report.retrying) == (1, 1)
    attempt = world.session.exec(select(WebhookAttempt)).one()
    assert attempt.status_code is None and "Connection" in attempt.error


def test_two_senders_never_hold_one_delivery_at_once(world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    register_endpoint(world.session, world.admin, name="ESP", url="https://esp.example.com/h")
    world.session.commit()
    publish_campaign(world, sign_all, tmp_path)
    d = world.session.exec(select(WebhookDelivery)).one()
    now = utcnow()
    assert _claim(world.engine, d.id, now) is True
    assert _claim(world.engine, d.id, now) is False  # the second sender backs off
    assert _claim(world.engine, d.id, now + timedelta(minutes=10)) is True  # a crashed sender's claim lapses


def test_disabling_an_endpoint_drops_its_pending_deliveries(world, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    made = register_endpoint(world.session, world.admin, name="ESP", url="https://esp.example.com/h")
    world.session.commit()
    publish_campaign(world, sign_all, tmp_path)
    info = disable_endpoint(world.session, world.admin, made.info.id)
    world.session.commit()
    assert info.failed == 1 and info.pending == 0
    assert deliver_due(world.engine).tried == 0
    with pytest.raises(Conflict, match="already disabled"):
        disable_endpoint(world.session, world.admin, made.info.id)


# ------------------------------------------------------------------ the ESP-style client


def test_esp_client_receives_a_verified_webhook_and_pulls_the_messages_page_by_page(sign_all, tmp_path, monkeypatch, receiver) -> None:  # type: ignore[no-untyped-def]
    """A real API server (uvicorn on a free port) and a real receiver: publishing sends the
    webhook at once (the receiver fails it), deliver-webhooks retries it, the client checks the
    signature, follows the link with its token and pulls every message, page by page."""
    import uvicorn

    from api.app import create_app
    from review.db import make_engine, migrate
    from tests.conftest import make_world

    monkeypatch.setenv("COUNTERSIGN_WEBHOOK_SEND_AFTER_COMMIT", "1")
    engine = make_engine(f"sqlite:///{tmp_path / 'esp.db'}")
    migrate(engine)
    session = Session(engine, expire_on_commit=False)
    w = make_world(engine, session)
    rx = receiver(500, 200)
    hook = register_endpoint(w.session, w.admin, name="ESP", url=rx.url, events=[WebhookEvent.PUBLISHED])
    w.session.commit()
    token = make_token(w, ApiScope.MESSAGES_READ, ApiScope.CAMPAIGNS_READ, brand="acme-pharma")

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(engine), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # waiting for the server to listen, not timing it
            if server.started:
                break
            time.sleep(0.05)
        assert server.started
        exp = publish_campaign(w, sign_all, tmp_path / "exports")  # commits: the first attempt goes out at once
        for _ in range(600):
            with Session(engine) as s:
                if s.exec(select(WebhookAttempt)).first() is not None:
                    break
            time.sleep(0.05)
        assert len(rx.received) == 1  # the receiver answered 500
        report = deliver_due(engine, now=utcnow() + backoff(1))  # the cron worker's next round
        assert report.delivered == 1 and len(rx.received) == 2

        got = rx.received[-1]
        assert expected_signature(hook.secret, got["headers"]["countersign-signature"], got["body"])
        assert got["body"] == rx.received[0]["body"] and got["headers"]["countersign-event"] == "campaign.published"
        event = json.loads(got["body"])
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as esp:
            camp = esp.get(event["data"]["links"]["campaign"]).json()
            assert camp["status"] == "published" and camp["messages"] == exp.row_count
            pulled, url, params = [], event["data"]["links"]["messages"], {"limit": 2}
            while True:
                page = esp.get(url, params=params)
                assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
                pulled += page.json()["items"]
                if page.json()["next_cursor"] is None:
                    break
                params = {"limit": 2, "cursor": page.json()["next_cursor"]}
            assert esp.get(url, headers={"Authorization": "Bearer cs_000000000000_" + "x" * 43}).status_code == 401
        shipped = [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]
        assert [{k: v for k, v in m.items() if k != "status"} for m in pulled] == shipped
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        session.close()
        engine.dispose()


def test_webhook_cli_registers_lists_and_delivers(tmp_path, monkeypatch, receiver) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from review.cli import cli

    root = Path(__file__).parent.parent
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root / "brand_guidelines"))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(root / "templates"))
    runner = CliRunner()
    assert runner.invoke(cli, ["seed-demo", "--no-generate"], catch_exceptions=False).exit_code == 0
    env = {"COUNTERSIGN_PASSWORD": "admin-demo-pass"}
    rx = receiver()
    added = runner.invoke(cli, ["webhook", "add", "--name", "ESP", "--url", rx.url, "--event", "campaign.withdrawn", "--as", "admin"], env=env)
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and "(campaign.withdrawn)" in added.stdout
    from review.db import make_engine

    engine = make_engine()
    with Session(engine) as s:
        assert endpoint_secret(s.exec(select(WebhookEndpoint)).one()) == secret
    engine.dispose()
    listed = runner.invoke(cli, ["webhook", "list", "--as", "admin"], env=env)
    assert rx.url in listed.output and "active" in listed.output and secret not in listed.output
    bad = runner.invoke(cli, ["webhook", "add", "--name", "x", "--url", "http://esp.example.com/h", "--as", "admin"], env=env)
    assert bad.exit_code == 1 and "must use https" in bad.output and "Traceback" not in bad.output
    nothing = runner.invoke(cli, ["deliver-webhooks"], catch_exceptions=False)
    assert nothing.exit_code == 0 and "0 delivery attempt(s)" in nothing.output
    assert runner.invoke(cli, ["webhook", "disable", "1", "--as", "admin"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["webhook", "list", "--as", "admin"], env=env).output
