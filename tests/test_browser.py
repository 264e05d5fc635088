"""The one real-browser test: rita logs in, opens a draft and signs it, in Chromium.

Runs `streamlit run app.py` against a temp database seeded with the fake filler, and drives
Debian's /usr/bin/chromium with Playwright. Skipped only when chromium is absent and CI is
not set; under CI it must run. Screenshots go to artifacts/ (and to docs/ with
COUNTERSIGN_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.app_server import free_port, seeded_env, streamlit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser test (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed (make browser installs it)")
    from playwright.sync_api import expect

    # What a check waits for before it fails: a rerun of the draft page (steps, annotations, diffs,
    # the inbox count) on 2 shared CPU cores, beside Chromium and the test itself, can take longer
    # than Playwright's default 5 s. Waiting is not a speed test: bench/ui.py measures speed.
    expect.set_options(timeout=20_000)
    env, url = seeded_env(tmp_path, monkeypatch)
    port = free_port()
    with streamlit(env, port, tmp_path / "streamlit.log"):
        yield f"http://127.0.0.1:{port}", url


def _save(page, name: str) -> None:  # type: ignore[no-untyped-def]
    art = ROOT / "artifacts"
    art.mkdir(exist_ok=True)
    path = art / f"screenshot-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("COUNTERSIGN_UPDATE_SCREENSHOTS") == "1":
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copy(path, docs / f"screenshot-{name}.png")


def test_reviewer_signs_a_draft_in_chromium(server: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Approval, AuditEvent, Draft, Status

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        pending = s.exec(select(Draft).where(Draft.status == Status.IN_REVIEW).order_by(Draft.warning_count.desc(), Draft.id)).all()  # type: ignore[attr-defined]
        target = pending[0]
        draft_id, n_warn = target.id, target.warning_count

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
        page.set_default_timeout(30_000)
        page.goto(base)
        page.wait_for_selector(IDLE)
        page.get_by_role("textbox", name="Username").fill("rita")
        page.get_by_role("textbox", name="Password", exact=True).fill("rita-demo-pass")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        page.wait_for_selector(IDLE)
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()
        page.wait_for_timeout(300)  # let the data grid paint its canvas
        _save(page, "queue")

        # Open the riskiest draft through the "Open draft" picker.
        page.locator("[data-testid='stSelectbox']").filter(has_text="Draft to open").click()
        page.get_by_role("option", name=f"#{draft_id} ·").click()
        page.get_by_role("button", name="Open draft").click()
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        page.wait_for_selector(IDLE)
        assert f"draft={draft_id}" in page.url
        expect(page.locator(".cs-message mark").first).to_be_visible()

        # Sign: meaning, each warning acknowledged, password.
        form = page.locator("[data-testid='stForm']").filter(has_text="Re-enter your password")
        form.locator("[data-testid='stSelectbox']").click()
        page.get_by_role("option", name="Approved: compliance review complete").click()
        boxes = form.locator("[data-testid='stCheckbox']")
        assert boxes.count() == n_warn
        for i in range(n_warn):
            boxes.nth(i).locator("label").click()
        form.get_by_role("textbox", name="Re-enter your password to sign").fill("rita-demo-pass")
        _save(page, "draft")
        form.get_by_role("button", name="Sign and approve").click()
        expect(page.get_by_text(f"Draft #{draft_id} signed by Rita Reviewer")).to_be_visible()
        page.wait_for_selector(IDLE)
        expect(page.get_by_text("Approved", exact=True).first).to_be_visible()
        browser.close()

    with Session(engine) as s:
        d = s.get(Draft, draft_id)
        assert d is not None and d.status == Status.APPROVED
        appr = s.exec(select(Approval).where(Approval.draft_id == draft_id)).one()
        assert appr.full_name == "Rita Reviewer" and appr.meaning == "Approved: compliance review complete" and appr.valid
        assert len(appr.acknowledged) == n_warn
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "draft_signed", AuditEvent.entity_id == str(draft_id))).one()
    engine.dispose()


# ------------------------------------------------------------------ issue 13: the reviewer's desk

SHIPPING_SLOT = 'The UK\'s "home" plan & more, <b>not bold</b> *as is* [x](y) :red[z] — café ✓ a > b.'
SHIPPING_COMMENT = "Don't say \"home\" & <i>mind</i> the UK's rules: **no** hype — merci, José."
# The text a reader sees in an element: the browser's innerText, finding numbers left out.
SHOWN_TEXT = "el => { el.querySelectorAll('sup').forEach(s => { s.style.display = 'none'; }); return el.innerText; }"


def _browser(p):  # type: ignore[no-untyped-def]
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    page.set_default_timeout(30_000)
    return browser, page


def _log_in(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.wait_for_selector(IDLE)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.wait_for_selector(IDLE)


def _choose(page, widget, text: str) -> None:  # type: ignore[no-untyped-def]
    """Pick a selectbox option by typing it and pressing Enter (a pointer over the open list can
    re-mount its options while Playwright waits for them to hold still)."""
    from playwright.sync_api import expect

    box = widget.get_by_role("combobox")
    # A rerun that lands while typing (the page's own polling, a slow first render) re-mounts the
    # box and drops the typed filter: type again then, a few times, before calling it a failure.
    for attempt in range(3):
        page.wait_for_selector(IDLE)
        box.click()
        box.fill(text)
        try:
            expect(page.get_by_role("listbox").get_by_role("option", name=text)).to_have_count(1, timeout=5000)  # the one option left
            break
        except AssertionError:
            if attempt == 2:
                raise
            box.press("Escape")
    box.press("Enter")
    expect(box).to_have_value(re.compile("^" + re.escape(text)))
    page.wait_for_selector(IDLE)


def _open_from_queue(page, draft_id: int) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Draft to open"), f"#{draft_id} ·")
    page.get_by_role("button", name="Open draft").click()
    expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
    page.wait_for_selector(IDLE)


def test_signed_pane_shows_the_shipping_characters(server: tuple[str, str]) -> None:
    """' " & < > and non-ASCII read exactly as they ship, in the message, a finding and a comment;
    markup in slot text or a comment stays text."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Draft, Status, User
    from review.views import draft_view
    from review.workflow import edit_draft, request_changes, submit_for_review

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        rita = s.exec(select(User).where(User.username == "rita")).one()
        maria = s.exec(select(User).where(User.username == "maria")).one()
        d = s.exec(select(Draft).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).first()  # type: ignore[arg-type]
        assert d is not None
        draft_id = d.id
        request_changes(s, rita, draft_id, comment=SHIPPING_COMMENT)
        edit_draft(s, maria, draft_id, slots={next(iter(d.slots)): SHIPPING_SLOT}, note="as asked")
        submit_for_review(s, maria, draft_id)
        s.commit()
        v = draft_view(s, rita, draft_id)  # the same render() the export writes for this recipient
        expected = f"Subject: {v.rendered.subject}\n{v.rendered.body}"
        assert SHIPPING_SLOT in v.rendered.body and v.draft.findings
    engine.dispose()

    with sync_playwright() as p:
        browser, page = _browser(p)
        page.goto(base)
        _log_in(page, "rita", "rita-demo-pass")
        _open_from_queue(page, draft_id)
        pane = page.locator(".cs-message")
        expect(pane).to_be_visible()
        assert pane.evaluate(SHOWN_TEXT).strip("\n") == expected.strip("\n")
        assert pane.locator("b, i, a, strong, em").count() == 0  # markup stayed text
        finding = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="grounding").first
        expect(finding).to_contain_text("UK's")
        assert "&#" not in finding.inner_text() and "&amp;" not in finding.inner_text()
        page.get_by_role("tab", name="History").click()
        comment = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="merci, José")
        expect(comment.first).to_be_visible()
        assert SHIPPING_COMMENT in comment.first.inner_text()
        assert comment.first.locator("i").count() == 0  # "<i>" in the comment is text, "**no**" too
        _save(page, "shipping-characters")
        browser.close()


def test_bulk_signing_covers_only_what_the_sheet_showed(server: tuple[str, str]) -> None:
    """Nothing is chosen to start with; the review sheet shows each chosen draft in full; a draft
    edited after the sheet showed it is refused, the others are signed, and the report says which."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Approval, Draft, Status, User
    from review.workflow import edit_draft

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        pending = s.exec(select(Draft).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).all()  # type: ignore[arg-type]
        assert all(not d.findings for d in pending[:2]), "the demo's first drafts have no findings"
        first, second = pending[0], pending[1]

    with sync_playwright() as p:
        browser, page = _browser(p)
        page.goto(base)
        _log_in(page, "rita", "rita-demo-pass")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        page.get_by_text("Sign several drafts with no findings").click()
        chooser = page.locator("[data-testid='stButtonGroup']").filter(has_text="Drafts to review together")
        expect(chooser.get_by_role("button", name=f"#{first.id}", exact=True)).to_be_visible()
        expect(chooser.get_by_role("button", pressed=True)).to_have_count(0)  # the selection starts empty
        expect(page.get_by_role("button", name="Review the chosen drafts")).to_be_disabled()
        for n, d in enumerate((first, second), start=1):
            chooser.get_by_role("button", name=f"#{d.id}", exact=True).click()
            expect(chooser.get_by_role("button", pressed=True)).to_have_count(n)
            page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Review the chosen drafts").click()
        expect(page.get_by_role("heading", name="Review sheet: 2 draft(s)")).to_be_visible()
        page.wait_for_selector(IDLE)
        panes = page.locator(".cs-message")
        expect(panes).to_have_count(2)
        for i, d in enumerate((first, second)):
            text = panes.nth(i).inner_text()
            assert text.startswith("Subject: ") and all(slot in text for slot in d.slots.values())
        _save(page, "review-sheet")

        with Session(engine) as s:  # maria edits the first draft while rita reads the sheet
            maria = s.exec(select(User).where(User.username == "maria")).one()
            edit_draft(s, maria, first.id, slots={next(iter(first.slots)): "Thanks for staying with Harbor Mutual."}, note="tweak")
            s.commit()
        form = page.locator("[data-testid='stForm']").filter(has_text="Your password (re-entered to sign)")
        form.get_by_role("textbox", name="Your password (re-entered to sign)").fill("rita-demo-pass")
        form.get_by_role("button", name="Sign the 2 draft(s) shown above").click()
        expect(page.get_by_text(f"Signed: #{second.id} (approved)")).to_be_visible()
        expect(page.get_by_text(f"Draft #{first.id} not signed: draft {first.id} changed while you were reviewing it", exact=False)).to_be_visible()
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("heading", name="Review sheet: 1 draft(s)")).to_be_visible()  # the refused one, with its new text
        expect(page.locator(".cs-message")).to_contain_text("Thanks for staying with Harbor Mutual.")
        _save(page, "bulk-report")
        browser.close()

    with Session(engine) as s:
        assert s.get(Draft, first.id).status == Status.IN_REVIEW
        assert s.get(Draft, second.id).status == Status.APPROVED
        assert [a.draft_id for a in s.exec(select(Approval)).all()] == [second.id]
    engine.dispose()


def test_regenerate_then_edit_another_slot_saves_both(server: tuple[str, str]) -> None:
    """After regenerating one slot and editing another, the save keeps the regenerated text."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Draft, Status, User, Variant
    from review.workflow import edit_draft

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        d = next(
            d
            for d in s.exec(select(Draft).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).all()  # type: ignore[arg-type]
            if s.get(Variant, d.variant_id).personalized  # type: ignore[union-attr]
        )
        # The demo's tip is an approved alternative (choose mode, never regenerated): the opening
        # is the slot the model writes.
        assert list(d.slots) == ["opening", "tip"]
        first, second = "tip", "opening"
        # A text of maria's own, so the (deterministic) fake model's choice differs from it.
        maria = s.exec(select(User).where(User.username == "maria")).one()
        d = edit_draft(s, maria, d.id, slots={second: "Thank you for being with us."}, note="own words")
        s.commit()
        draft_id, slots, revision = d.id, dict(d.slots), d.revision
    typed = "Keep your policy documents somewhere you can find them."

    with sync_playwright() as p:
        browser, page = _browser(p)
        page.goto(base)
        _log_in(page, "maria", "maria-demo-pass")
        expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text("Draft", exact=True)), f"#{draft_id} ·")
        page.get_by_role("button", name="Open draft").click()
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        page.wait_for_selector(IDLE)
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Regenerate one slot"), second)
        for _ in range(4):  # the fake model may repeat itself for a seed; each attempt uses a new one
            page.get_by_role("button", name="Regenerate").click()
            outcome = page.get_by_text(f"Slot '{second}' regenerated").or_(page.get_by_text("the model produced the same text again"))
            expect(outcome.first).to_be_visible(timeout=60_000)  # the page's spinner says it can take up to a minute
            page.wait_for_selector(IDLE)
            if page.get_by_text(f"Slot '{second}' regenerated").count():
                break
        with Session(engine) as s:
            regenerated = s.get(Draft, draft_id).slots[second]  # type: ignore[union-attr]
        assert regenerated != slots[second]
        expect(page.get_by_role("textbox", name=f"{second} (max")).to_have_value(regenerated)
        box = page.get_by_role("textbox", name=f"{first} (max")
        box.fill(typed)
        box.press("Control+Enter")
        expect(page.get_by_text("Live check of your edit")).to_be_visible()
        page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Save edit").click()
        expect(page.get_by_text(f"Saved revision {revision + 2} of draft #{draft_id}")).to_be_visible()
        page.wait_for_selector(IDLE)
        _save(page, "regenerate-then-edit")
        browser.close()

    with Session(engine) as s:
        after = s.get(Draft, draft_id)
        assert after is not None and after.slots == {first: typed, second: regenerated}
    engine.dispose()


def test_a_shared_link_and_a_reload_land_on_the_draft_after_login(server: tuple[str, str]) -> None:
    """`/draft?draft=N` opened logged out shows the login form (no "Page not found"), and logging
    in lands on that draft; a reload (a new session) does the same."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Draft, Status

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        draft_id = s.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).first()  # type: ignore[arg-type]
    engine.dispose()

    with sync_playwright() as p:
        browser, page = _browser(p)
        for attempt in ("link", "reload"):
            if attempt == "link":
                page.goto(f"{base}/draft?draft={draft_id}")
            else:
                page.reload()
            page.wait_for_selector(IDLE)
            expect(page.get_by_role("button", name="Log in")).to_be_visible()
            expect(page.get_by_text("Page not found")).to_have_count(0)
            assert page.url.endswith(f"/draft?draft={draft_id}")
            if attempt == "link":
                _save(page, "deep-link-login")
            _log_in(page, "rita", "rita-demo-pass")
            expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
            expect(page.locator(".cs-message")).to_be_visible()
            assert page.url.endswith(f"/draft?draft={draft_id}")
        browser.close()


def test_needs_changes_shows_the_reviewers_request_on_top(server: tuple[str, str]) -> None:
    """The author sees the reviewer's words first, as written; resubmitting is the quiet button."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Draft, Status, User
    from review.workflow import request_changes

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        rita = s.exec(select(User).where(User.username == "rita")).one()
        draft_id = s.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).first()  # type: ignore[arg-type]
        request_changes(s, rita, draft_id, comment=SHIPPING_COMMENT)  # type: ignore[arg-type]
        s.commit()
    engine.dispose()

    with sync_playwright() as p:
        browser, page = _browser(p)
        page.goto(f"{base}/draft?draft={draft_id}")
        _log_in(page, "maria", "maria-demo-pass")
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        banner = page.locator("[data-testid='stAlert']").filter(has_text="asked for changes").first
        expect(banner).to_contain_text(SHIPPING_COMMENT)
        assert banner.locator("i").count() == 0  # "<i>" in the comment stayed text
        resubmit = page.get_by_role("button", name="Resubmit unchanged")
        expect(resubmit).to_be_visible()
        assert resubmit.get_attribute("data-testid") == "stBaseButton-secondary"
        _save(page, "needs-changes")
        browser.close()


# ------------------------------------------------------------------ issue 13 items 8 and 9: the reviewer's loop

SCROLLS = "el => { const s = el.querySelector('.dvn-scroller'); return s ? [s.scrollWidth, s.clientWidth] : null; }"


def test_reviewers_loop_at_1400px_in_tokyo(server: tuple[str, str]) -> None:
    """At 1400 px the queue's columns all fit (Approvals and Waiting since in view, no sideways
    scrolling); times read in the browser's timezone to the minute; J and K walk the drafts, but
    not while typing."""
    from zoneinfo import ZoneInfo

    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Comment, Draft, Status, User
    from review.workflow import request_changes
    from ui.labels import when

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        rita = s.exec(select(User).where(User.username == "rita")).one()
        ids = list(s.exec(select(Draft.id).where(Draft.status == Status.IN_REVIEW).order_by(Draft.id)).all())  # type: ignore[arg-type]
        sent_back = ids[-1]
        request_changes(s, rita, sent_back, comment="Shorter, please.")  # type: ignore[arg-type]
        s.commit()
        at = s.exec(select(Comment.created_at).where(Comment.draft_id == sent_back)).one()
    engine.dispose()
    tokyo = when(at, ZoneInfo("Asia/Tokyo"))
    assert tokyo.endswith(" JST")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1, timezone_id="Asia/Tokyo")
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(base)
        _log_in(page, "rita", "rita-demo-pass")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        grid = page.locator("[data-testid='stDataFrame']").first
        expect(grid).to_be_visible()
        expect(grid.locator(".dvn-scroller")).to_have_count(1)
        scroll_width, client_width = grid.evaluate(SCROLLS)
        assert scroll_width <= client_width + 1, f"the queue scrolls sideways at 1400 px: {scroll_width} > {client_width}"
        _save(page, "queue-1400")

        _open_from_queue(page, ids[0])
        page.locator("body").press("j")
        expect(page.get_by_role("heading", name=f"Draft #{ids[1]}")).to_be_visible()
        page.wait_for_selector(IDLE)
        page.locator("body").press("k")
        expect(page.get_by_role("heading", name=f"Draft #{ids[0]}")).to_be_visible()
        page.wait_for_selector(IDLE)
        box = page.get_by_role("textbox", name="Re-enter your password to sign")
        box.click()
        box.press("j")  # typing: no navigation
        expect(box).to_have_value("j")
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("heading", name=f"Draft #{ids[0]}")).to_be_visible()

        page.goto(f"{base}/draft?draft={sent_back}")
        page.wait_for_selector(IDLE)
        if page.get_by_role("button", name="Log in").count():  # a new page load is a new session
            _log_in(page, "rita", "rita-demo-pass")
        expect(page.get_by_role("heading", name=f"Draft #{sent_back}")).to_be_visible()
        page.get_by_role("tab", name="History").click()
        expect(page.get_by_text(tokyo).first).to_be_visible()
        _save(page, "times-in-tokyo")
        browser.close()


# ------------------------------------------------------------------ issue 13: the whole path, as the people who walk it

WALK_PARAGRAPH = (
    "Our patient service is here for you between appointments. You can call our nurses on weekdays, order a printed copy "
    "of your patient information leaflet, or ask for a large-print version of any letter we send. Keep this message with "
    "your other papers."
)
WALK_BODY = f"""Dear {{{{ recipient.first_name }}}},

{{{{ slots.opening }}}}

{WALK_PARAGRAPH}

This material is for information only and does not replace advice from your doctor.

Kind regards,
The Vitalis patient team
"""
WALK_CSV = "id,personalization_consent,first_name,city,age_band\nW-001,yes,Anna,Bristol,35-54\nW-002,yes,Ben,Bristol,35-54\n"
WALK_FIX = "We are glad to support you in Bristol on weekdays."


def _walk_save(page, n: int, step: str, *, docs: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """artifacts/walk-NN-step.png: kept by CI as the record of one walk through the app (`make
    test` leaves artifacts/ in place). With COUNTERSIGN_UPDATE_SCREENSHOTS=1, `docs` names the
    README screenshot (docs/screenshot-<docs>.png) this step refreshes."""
    art = ROOT / "artifacts"
    art.mkdir(exist_ok=True)
    page.wait_for_selector(IDLE)
    path = art / f"walk-{n:02d}-{step}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("COUNTERSIGN_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, ROOT / "docs" / f"screenshot-{docs}.png")


def _nav(page, title: str, heading: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.wait_for_selector(IDLE)
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    page.wait_for_selector(IDLE)


def _as(page, base: str, path: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """A new session (a fresh page load) on `path`, logged in as `username`."""
    from ui_helpers import PASSWORDS

    page.goto(f"{base}{path}")
    _log_in(page, username, PASSWORDS[username])


def _type(box, text: str) -> None:  # type: ignore[no-untyped-def]
    """Fill a text box and leave it, which is when Streamlit takes its value."""
    box.fill(text)
    box.press("Tab")


def _sign(page, draft_id: int, who: str, password: str, *, wrong_first: bool, before=None) -> None:  # type: ignore[no-untyped-def]
    """Meaning, each warning acknowledged, password; with `wrong_first`, a mistyped password first,
    after which the meaning and the ticks must still be there (only the password is typed again).
    `before` runs with the form filled in, just before the signing click."""
    from playwright.sync_api import expect

    meaning = "Approved: compliance review complete"
    form = page.locator("[data-testid='stForm']").filter(has_text="Re-enter your password")
    _choose(page, form.locator("[data-testid='stSelectbox']"), meaning)
    boxes = form.locator("[data-testid='stCheckbox']")
    for i in range(boxes.count()):
        boxes.nth(i).locator("label").click()
    n_boxes = boxes.count()
    secret = form.get_by_role("textbox", name="Re-enter your password to sign")
    if wrong_first:
        secret.fill(password + "-typo")
        form.get_by_role("button", name="Sign and approve").click()
        expect(page.get_by_text("Signature refused: the password does not match.")).to_be_visible()
        page.wait_for_selector(IDLE)
        expect(form.get_by_role("combobox")).to_have_value(re.compile("^" + re.escape(meaning)))
        expect(form.locator("input[type='checkbox']:checked")).to_have_count(n_boxes)
        expect(secret).to_have_value("")
    secret.fill(password)
    if before is not None:
        before()  # the form filled in, just before signing
    form.get_by_role("button", name="Sign and approve").click()
    expect(page.get_by_text(f"Draft #{draft_id} signed by {who}")).to_be_visible()
    page.wait_for_selector(IDLE)


def test_walk_the_whole_path_in_chromium(server: tuple[str, str], tmp_path: Path) -> None:
    """maria builds a template in the builder form, imports an audience, creates a campaign,
    generates and submits; rita asks for changes; maria edits and resubmits; rita signs (after a
    mistyped password), rob signs (the pharma brand needs two); maria exports; admin verifies the
    audit chain. A screenshot of every step lands in artifacts/walk-NN-step.png."""
    from playwright.sync_api import expect, sync_playwright

    from review.audit import verify_chain
    from review.db import make_engine
    from review.models import Approval, Campaign, Draft, Status

    base, url = server
    csv = tmp_path / "walk-patients.csv"
    csv.write_text(WALK_CSV, encoding="utf-8")

    with sync_playwright() as p:
        browser, page = _browser(p)
        page.goto(base)
        _log_in(page, "maria", "maria-demo-pass")

        # 1. A template, built in the form (no YAML typed), for the two-signature pharma brand.
        _nav(page, "Templates", "Templates")
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Brand"), "Vitalis Pharma")
        _type(page.get_by_role("textbox", name="Template name"), "Walk reminder")
        _type(page.get_by_role("textbox", name="Message body: fixed, approved copy; slots are where the model writes"), WALK_BODY)
        _type(page.get_by_role("textbox", name="Instruction to the model"), "Write one warm sentence that mentions the reader's city.")
        _type(page.get_by_role("textbox", name="Examples (one per line)"), "We are glad to support you in Bristol.")
        _type(page.get_by_role("textbox", name="Human-written fallback", exact=False), "We are glad to support you.")
        page.wait_for_selector(IDLE)
        expect(page.get_by_text("Valid: 1 slot(s)", exact=False)).to_be_visible()
        _walk_save(page, 1, "template-builder")
        page.get_by_role("button", name="Save as new version").click()
        expect(page.get_by_text("Saved version 1", exact=False)).to_be_visible()
        _walk_save(page, 2, "template-saved")

        # 2. An audience for that brand, from a CSV file.
        _nav(page, "Audiences", "Audiences")
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Brand"), "Vitalis Pharma")
        page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(csv))
        expect(page.get_by_role("button", name="Import audience")).to_be_visible()
        page.wait_for_selector(IDLE)
        page.get_by_role("button", name="Import audience").click()
        expect(page.get_by_text("Imported 'walk-patients': 2 rows, 2 with consent.")).to_be_visible()
        _walk_save(page, 3, "audience")

        # 3. A campaign from the two; generation with the fake filler; submit.
        _nav(page, "Campaigns", "Campaigns")
        page.get_by_text("New campaign").click()
        _type(page.get_by_role("textbox", name="Campaign name"), "Walk campaign")
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Template version"), "Walk reminder v1 (Vitalis Pharma)")
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Audience"), "walk-patients")
        expect(page.get_by_text("This makes 1 audience group(s)", exact=False)).to_be_visible()
        page.get_by_role("button", name="Create campaign").click()
        expect(page.get_by_text("Campaign 'Walk campaign' created.")).to_be_visible()
        _walk_save(page, 4, "campaign")
        page.get_by_role("button", name="Generate drafts").click()
        expect(page.get_by_text("Every audience group has its draft.")).to_be_visible(timeout=120_000)
        page.wait_for_selector(IDLE)
        engine = make_engine(url)
        with Session(engine) as s:
            camp = s.exec(select(Campaign).where(Campaign.name == "Walk campaign")).one()
            (draft,) = s.exec(select(Draft).where(Draft.campaign_id == camp.id)).all()
            draft_id = draft.id
            assert draft.error_count == 0, draft.findings
        _walk_save(page, 5, "generated")
        page.get_by_role("button", name="Submit 1 error-free draft(s) for review").click()
        expect(page.get_by_text("Submitted 1 draft(s) for review.")).to_be_visible()
        _walk_save(page, 6, "submitted")

        # 4. rita asks for changes.
        _as(page, base, f"/draft?draft={draft_id}", "rita")
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        page.get_by_role("tab", name="Request changes").click()
        form = page.locator("[data-testid='stForm']").filter(has_text="Request changes: comment")
        form.get_by_role("textbox").fill("Please say which days the nurses answer.")
        form.get_by_role("button", name="Request changes").click()
        expect(page.get_by_text(f"Draft #{draft_id}: request changes recorded.")).to_be_visible()
        _walk_save(page, 7, "changes-requested")

        # 5. maria edits as asked and resubmits.
        _as(page, base, f"/draft?draft={draft_id}", "maria")
        expect(page.locator("[data-testid='stAlert']").filter(has_text="asked for changes").first).to_contain_text("which days the nurses answer")
        _type(page.get_by_role("textbox", name="opening (max 20 words)"), WALK_FIX)
        expect(page.get_by_text("Live check of your edit:", exact=False)).to_be_visible()
        page.get_by_role("button", name="Save edit").click()
        expect(page.get_by_text(f"Saved revision 2 of draft #{draft_id}", exact=False)).to_be_visible()
        _walk_save(page, 8, "edited")
        page.get_by_role("button", name="Resubmit for review").click()
        expect(page.get_by_text(f"Draft #{draft_id} submitted for review.")).to_be_visible()
        _walk_save(page, 9, "resubmitted")

        # 6. rita signs (a mistyped password first: the form keeps her choices); 7. rob, then vera, sign.
        _as(page, base, f"/draft?draft={draft_id}", "rita")
        expect(page.locator(".cs-message")).to_contain_text(WALK_FIX)
        _sign(page, draft_id, "Rita Reviewer", "rita-demo-pass", wrong_first=True, before=lambda: _walk_save(page, 10, "signing-after-a-typo"))
        _walk_save(page, 11, "first-signature")
        _as(page, base, f"/draft?draft={draft_id}", "rob")
        expect(page.get_by_text("1 so far", exact=False)).to_be_visible()
        _sign(page, draft_id, "Rob Reviewer", "rob-demo-pass", wrong_first=False, before=lambda: _walk_save(page, 12, "second-signing", docs="draft"))
        _walk_save(page, 13, "second-signature")
        # Vitalis Pharma's plan is medical → legal → regulatory: vera signs the third step.
        _as(page, base, f"/draft?draft={draft_id}", "vera")
        _sign(page, draft_id, "Vera Reviewer", "vera-demo-pass", wrong_first=False)
        expect(page.get_by_text("Approved", exact=True).first).to_be_visible()

        # 8. maria exports.
        _as(page, base, "/exports", "maria")
        expect(page.get_by_role("heading", name="Exports", exact=True)).to_be_visible()
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Campaign"), "Walk campaign")
        page.get_by_role("button", name="Publish (export JSONL + CSV)").click()
        expect(page.get_by_text("Published 2 rows", exact=False)).to_be_visible()
        _walk_save(page, 14, "exported")

        # 9. admin verifies the audit chain.
        _as(page, base, "/audit", "admin")
        expect(page.get_by_role("heading", name="Audit trail", exact=True)).to_be_visible()
        page.get_by_role("button", name="Verify chain").click()
        expect(page.get_by_text("audit chain OK", exact=False)).to_be_visible()
        _walk_save(page, 15, "audit-verified")
        browser.close()

    with Session(engine) as s:
        d = s.get(Draft, draft_id)
        assert d is not None and d.status == Status.PUBLISHED and d.revision == 2
        signers = sorted(a.full_name for a in s.exec(select(Approval).where(Approval.draft_id == draft_id, Approval.valid == True)).all())  # noqa: E712
        assert signers == ["Rita Reviewer", "Rob Reviewer", "Vera Reviewer"], signers
        assert verify_chain(s).ok
    engine.dispose()


# ------------------------------------------------------------------ issue 14: My work, annotations, the inbox


def test_my_work_annotation_and_inbox_in_chromium(server: tuple[str, str]) -> None:
    """The assigned reviewer finds the draft under My work, annotates three words of a slot and
    sends it back; the author finds the request in the Inbox (the comment as written), opens the
    draft from it, sees the annotated words and answers the annotation."""
    from playwright.sync_api import expect, sync_playwright

    from review.db import make_engine
    from review.models import Assignment, Draft, User
    from review.workflow import request_changes

    base, url = server
    engine = make_engine(url)
    with Session(engine) as s:
        a = s.exec(select(Assignment).where(Assignment.state == "open").order_by(Assignment.id)).first()  # type: ignore[arg-type]
        assert a is not None, "the demo world assigns every draft in review"
        reviewer = s.get(User, a.reviewer_id)
        draft = s.get(Draft, a.draft_id)
        assert reviewer is not None and draft is not None
        slot, text = next((k, v) for k, v in draft.slots.items() if len(v.split()) >= 3)
        words = " ".join(text.split()[:3])
        who, draft_id = reviewer.username, draft.id
    engine.dispose()
    comment = "Don't promise this; it's the brand's words, not ours."

    with sync_playwright() as p:
        browser, page = _browser(p)
        _as(page, base, "/", who)
        _nav(page, "My work", "My work")
        expect(page.get_by_role("heading", name="Assigned to you")).to_be_visible()
        _choose(page, page.locator("[data-testid='stSelectbox']").filter(has_text="Draft"), f"#{draft_id} ·")
        page.get_by_role("button", name="Open draft").first.click()
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        page.wait_for_selector(IDLE)

        expander = page.locator("[data-testid='stExpander']").filter(has_text="Annotate words in a slot")
        if not expander.get_by_role("textbox", name=re.compile("Words to annotate")).is_visible():
            expander.locator("summary").click()
        _choose(page, expander.locator("[data-testid='stSelectbox']").filter(has_text="Slot"), slot)
        _type(expander.get_by_role("textbox", name=re.compile("Words to annotate")), words)
        page.wait_for_selector(IDLE)
        radio = expander.locator("[data-testid='stRadio']")
        if radio.count():
            radio.get_by_role("radio").first.check()
        _type(expander.get_by_role("textbox", name="Comment for the author"), "Say this more plainly.")
        page.wait_for_selector(IDLE)
        expander.get_by_role("button", name="Add annotation").click()
        expect(page.get_by_text("Annotation added on")).to_be_visible()
        expect(page.get_by_role("heading", name="Annotations")).to_be_visible()
        _save(page, "annotation-added")
        browser.close()

    engine = make_engine(url)
    with Session(engine) as s:
        rev = s.exec(select(User).where(User.username == who)).one()
        request_changes(s, rev, draft_id, comment=comment)
        s.commit()
    engine.dispose()

    with sync_playwright() as p:
        browser, page = _browser(p)
        _as(page, base, "/", "maria")
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav.get_by_role("link", name=re.compile("^Inbox"))).to_be_visible()
        nav.get_by_role("link", name=re.compile("^Inbox")).click()
        expect(page.get_by_role("heading", name=re.compile(r"^Inbox \(\d+ unread\)"))).to_be_visible()
        page.wait_for_selector(IDLE)
        expect(page.get_by_text(comment, exact=True)).to_be_visible()  # as written: apostrophes, not &#x27;
        _save(page, "inbox")
        page.get_by_role("button", name="Open", exact=True).first.click()
        expect(page.get_by_role("heading", name=f"Draft #{draft_id}")).to_be_visible()
        page.wait_for_selector(IDLE)
        card = page.locator("[class*='st-key-annotation_']").first
        expect(card).to_contain_text(words)
        box = card.get_by_role("textbox")
        _type(box, "Rewritten in plainer words.")
        page.wait_for_selector(IDLE)
        card.get_by_role("button", name=re.compile("^Reply")).click()
        expect(page.get_by_text(re.compile(r"now answered"))).to_be_visible()
        _save(page, "annotation-answered")
        browser.close()
