"""Company sign-in against a real OpenID Connect provider, in Chromium.

Starts tests/oidc/server.js (the `oidc-provider` package on Node.js) on a free port once per test
session, and Streamlit with `[auth]` / `[auth.company]` in a secrets.toml of the test's own
(`--secrets.files`). A user of the provider's reviewer group signs in with the app's "Sign in with
your company account" button, lands as that reviewer, and logs out of both; a user in no mapped
group is refused in plain words, and one named like a local account never takes it over. Skipped when Node.js, the provider's node_modules or Chromium
are missing, except under CI, where it must run.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.app_server import free_port, seeded_env, stop, streamlit, wait_http

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
OIDC_DIR = ROOT / "tests" / "oidc"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
ROLES = "cs-admins=admin,cs-reviewers=reviewer,cs-marketing=marketer"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the company sign-in test")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(issuer, the app port its client redirects to): one provider per test session."""
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed (Node.js >= 20.19 runs the test OpenID Connect provider)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _missing("tests/oidc/node_modules is missing: `make install-dev` runs npm ci there")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} not installed (make browser installs it)")
    port, app_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    redirect = f"http://localhost:{app_port}/oauth2callback"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(node), str(OIDC_DIR / "server.js"), str(port), redirect], cwd=OIDC_DIR, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", proc, log, "the OpenID Connect provider")
        yield f"http://localhost:{port}", app_port
    finally:
        stop(proc)


@pytest.fixture
def app(provider: tuple[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Streamlit with company sign-in configured, on the port the provider redirects to."""
    issuer, port = provider
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n\n'
        "[auth.company]\n"
        'client_id = "countersign"\n'
        'client_secret = "countersign-test-secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        'client_kwargs = { prompt = "login" }\n'
    )
    env, url = seeded_env(tmp_path, monkeypatch, COUNTERSIGN_OIDC_ROLES=ROLES)  # the demo's local users stay
    with streamlit(env, port, tmp_path / "streamlit.log", "--secrets.files", str(secrets_file)):
        yield f"http://localhost:{port}", url


def _sign_in_at_the_provider(page, login: str) -> None:  # type: ignore[no-untyped-def]
    """The provider's own development pages: a login name (any password), then consent."""
    page.wait_for_selector("input[name='login']")
    page.fill("input[name='login']", login)
    page.fill("input[name='password']", "any-password")
    page.click("button[type='submit']")
    page.wait_for_load_state()
    if page.locator("input[name='prompt'][value='consent']").count():
        page.click("button[type='submit']")


def test_company_sign_in_against_a_real_provider(app: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import AuditEvent, User

    base, url = app
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        # The provider's development pages @import a web font; offline that import would hold their
        # rendering until it times out. Refuse it at once.
        page.route("https://fonts.googleapis.com/**", lambda route: route.abort())
        page.goto(base)
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("button", name="Log in")).to_be_visible()  # local passwords are kept

        # A reviewer of the company: in at the provider, back in the app as that reviewer.
        page.get_by_role("button", name="Sign in with your company account").click()
        _sign_in_at_the_provider(page, "riley")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text("Riley Reviewer")).to_be_visible()
        expect(sidebar.get_by_text("riley · reviewer")).to_be_visible()

        # Log out: of the app and of the company session (the provider asks to confirm).
        page.wait_for_selector(IDLE)
        sidebar.get_by_role("button", name="Log out").click()
        # Streamlit sends the browser to the provider's logout page when it could read the
        # provider's metadata (on a loaded machine that read can time out: then it ends only its
        # own cookie and goes straight back to the app, which is what the app then checks).
        confirm = page.locator("button[name='logout'][value='yes']")
        expect(confirm.or_(page.get_by_role("button", name="Sign in with your company account"))).to_be_visible()
        if confirm.count():
            confirm.click()
            page.wait_for_url(f"{base}/**")
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("button", name="Sign in with your company account")).to_be_visible()
        page.goto(base)  # a new session: not signed in again silently
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("button", name="Log in")).to_be_visible()

        # A company account in none of the mapped groups: refused, in plain words.
        page.get_by_role("button", name="Sign in with your company account").click()
        _sign_in_at_the_provider(page, "nora")
        expect(page.get_by_text("Your company account is in none of the groups Countersign maps to a role: ask an administrator.")).to_be_visible()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()

        # A company account named like the demo's local reviewer never takes that account over.
        page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Sign in with your company account").click()
        _sign_in_at_the_provider(page, "rita")
        expect(page.get_by_text("A Countersign account named 'rita' already exists")).to_be_visible()
        browser.close()

    engine = make_engine(url)
    with Session(engine) as s:
        riley = s.exec(select(User).where(User.username == "riley")).one()
        assert riley.role == "reviewer" and riley.oidc_issuer and riley.oidc_subject == "riley" and riley.full_name == "Riley Reviewer"
        assert s.exec(select(User).where(User.username == "nora")).first() is None
        created = s.exec(select(AuditEvent).where(AuditEvent.action == "user_created", AuditEvent.entity_id == str(riley.id))).one()
        assert created.after["via"] == "sso"
        refused = s.exec(select(AuditEvent).where(AuditEvent.action == "refused", AuditEvent.actor == "nora")).all()
        assert [r.after["code"] for r in refused] == ["sso_refused"]
        rita = s.exec(select(User).where(User.username == "rita")).one()
        assert rita.oidc_subject is None and rita.full_name == "Rita Reviewer"  # the local account, untouched
    engine.dispose()
