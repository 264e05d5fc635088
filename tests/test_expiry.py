"""Approval expiry, claim validity dates, the expiring list and the renewal path (review.expiry).

Every time-dependent answer is asked with an explicit `now`, computed from the draft's own
`approved_at`: nothing sleeps and nothing depends on the day the suite runs (claim dates that
must already be past are years in the past)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from review import expiry
from review.brands import BrandFileError, load_brand
from review.checks import forget_stamps, warning_ids
from review.claims import read_claims
from review.errors import ExportRefused, InvalidTransition, NotReady, PermissionDenied
from review.export import publish, readiness
from review.generation import generate_campaign
from review.guidelines import CheckContext, load_ruleset
from review.guidelines.rule import Claim
from review.models import Approval, AuditEvent, Campaign, Comment, Draft, Status, Variant
from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, get_actions, perform, submit_for_review, withdraw

FIXTURES = Path(__file__).parent / "fixtures"
CLAIMS = """# Approved claims (test copy)
- id: AC-1
  wording: "Trusted by 2 million patients"
  reference: "Patient survey 2024"
  status: active
  valid_until: 2031-06-30
- id: AC-2
  wording: "Rated best pharmacy app 2023"
  status: retired
  valid_until: 2031-01-31
- id: AC-3
  wording: "Recommended by 9 out of 10 pharmacists"
  status: active
"""
VALID_DAYS = 30


@pytest.fixture
def brand_root(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    root = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", root)
    brand = root / "acme-pharma" / "brand.yaml"
    brand.write_text(brand.read_text().replace("approvals_required: 2\n", f"approvals_required: 2\napproval_valid_days: {VALID_DAYS}\n"), encoding="utf-8")
    (root / "acme-pharma" / "claims.yaml").write_text(CLAIMS, encoding="utf-8")
    (root / "acme-pharma" / "rules" / "claims.yaml").write_text("extends: claims\nlevel: error\nscope: slot\nexceptions: [best wishes]\n", encoding="utf-8")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    forget_stamps()
    return root


@pytest.fixture
def approved(brand_root, build_world, fake_filler):  # type: ignore[no-untyped-def]
    """Every draft of the test campaign generated, submitted and signed by both reviewers."""
    w = build_world()
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    w.session.expire_all()
    for d in _drafts(w):
        assert d.error_count == 0, d.findings
        submit_for_review(w.session, w.marketer, d.id)
        _sign(w, d)
    w.session.commit()
    assert {d.status for d in _drafts(w)} == {Status.APPROVED}
    return w


def _drafts(w):  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all())


def _sign(w, d) -> None:  # type: ignore[no-untyped-def]
    for r in (w.reviewer, w.reviewer2):
        approve(
            w.session,
            r,
            d.id,
            password=w.PASSWORDS[r.username],
            meaning=SIGNATURE_MEANINGS[0],
            acknowledged=warning_ids(d.findings),
            expected_content_hash=d.content_hash,
        )


def _expires(d: Draft) -> datetime:
    assert d.approved_at is not None
    at = d.approved_at if d.approved_at.tzinfo else d.approved_at.replace(tzinfo=UTC)
    return at + timedelta(days=VALID_DAYS)


# ------------------------------------------------------------------ brand.yaml and claims.yaml


def test_approval_valid_days_is_parsed_and_validated_with_file_and_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = (FIXTURES / "brands" / "acme-pharma" / "brand.yaml").read_text()
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "brand.yaml").write_text(base, encoding="utf-8")
    assert load_brand(folder).approval_valid_days is None  # absent: approvals never expire
    (folder / "brand.yaml").write_text(base + "approval_valid_days: 365\n", encoding="utf-8")
    assert load_brand(folder).approval_valid_days == 365
    line = len(base.splitlines()) + 1
    for bad in ("0", "-5", "true", "'365'", "1.5", "99999"):
        (folder / "brand.yaml").write_text(base + f"approval_valid_days: {bad}\n", encoding="utf-8")
        with pytest.raises(BrandFileError, match="approval_valid_days") as e:
            load_brand(folder)
        assert e.value.line == line and str(e.value).startswith(f"{folder / 'brand.yaml'}:{line}: ")


def test_demo_brands_declare_their_approval_periods_and_claim_dates() -> None:
    root = Path(__file__).parent.parent / "brand_guidelines"
    assert {slug: load_brand(root / slug).approval_valid_days for slug in ("vitalis-pharma", "northbank", "harbor-mutual")} == {
        "vitalis-pharma": 365,
        "northbank": 180,
        "harbor-mutual": 365,
    }
    for slug in ("vitalis-pharma", "northbank", "harbor-mutual"):
        claims, problems = read_claims(root / slug / "claims.yaml")
        assert not problems
        active = [c for c in claims if c.status == "active"]
        assert active and all(isinstance(c.valid_until, date) for c in active)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('"2027-13-01"', "not '2027-13-01'"),
        ("30/06/2027", "not '30/06/2027'"),
        ("20270630", "not a number"),
        ("2027-06-30 10:00:00", "not a date and time"),
        ("[2027-06-30]", "not a list"),
    ],
)
def test_claim_valid_until_errors_name_the_file_and_line(tmp_path, value: str, said: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "claims.yaml"
    path.write_text(f"- id: X-1\n  wording: Fine words\n  status: active\n  valid_until: {value}\n- id: X-2\n  wording: Other words\n", encoding="utf-8")
    claims, problems = read_claims(path)
    assert [c.id for c in claims] == ["X-2"]  # the bad entry is left out, the rest load
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:4: 'valid_until' of claim 1 must be a date written YYYY-MM-DD")
    assert said in str(problems[0])


def test_claim_valid_until_accepts_quoted_and_plain_dates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "claims.yaml"
    path.write_text('- id: A\n  wording: One\n  valid_until: 2027-06-30\n- id: B\n  wording: Two\n  valid_until: "2028-01-31"\n- id: C\n  wording: Three\n')
    claims, problems = read_claims(path)
    assert not problems
    assert [c.valid_until for c in claims] == [date(2027, 6, 30), date(2028, 1, 31), None]


def test_a_claim_is_in_force_through_its_last_day_only() -> None:
    claim = Claim("A", "words", valid_until=date(2027, 6, 30))
    assert claim.in_force(date(2027, 6, 30)) and not claim.expired_on(date(2027, 6, 30))
    assert not claim.in_force(date(2027, 7, 1)) and claim.expired_on(date(2027, 7, 1))
    assert not Claim("B", "words", status="retired").in_force(date(2000, 1, 1))
    assert Claim("C", "words").in_force(date(2999, 1, 1))  # no date: no end


def test_the_claims_rule_treats_an_expired_claim_as_retired(brand_root) -> None:  # type: ignore[no-untyped-def]
    rules = load_ruleset(brand_root / "acme-pharma")
    slots = {"closing": "Trusted by 2 million patients."}

    def claim_findings(day: date) -> list:  # type: ignore[type-arg]
        ctx = CheckContext(message="Trusted by 2 million patients.", slots=slots, today=day)
        return [f for f in rules.check(ctx) if f.claim_id == "AC-1" and f.slot == "closing"]

    (on_last_day,) = claim_findings(date(2031, 6, 30))
    assert on_last_day.level == "suggestion" and "Matched approved claim AC-1" in on_last_day.message
    (after,) = claim_findings(date(2031, 7, 1))
    assert after.level == "error" and after.message.startswith("Claim AC-1 expired on 2031-06-30")


# ------------------------------------------------------------------ approved_at and export


def test_approved_at_is_set_on_approval_kept_when_published_and_cleared_when_it_leaves(approved, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    first, second, *_ = _drafts(w)
    assert first.approved_at is not None
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_approved", AuditEvent.entity_id == str(first.id))).one()
    assert abs((expiry._aware(first.approved_at) - expiry._aware(ev.ts)).total_seconds()) < 5
    edit_draft(w.session, w.marketer, second.id, slots={"greeting": "Hello to everyone reading this."})
    w.session.commit()
    assert second.status == Status.IN_REVIEW and second.approved_at is None
    _sign(w, second)
    w.session.commit()
    stamped = first.approved_at
    publish(w.session, w.reviewer, w.campaign_id, tmp_path)
    w.session.commit()
    assert first.status == Status.PUBLISHED and first.approved_at == stamped
    withdraw(w.session, w.reviewer, first.id, comment="Offer ended.")
    w.session.commit()
    assert first.approved_at is None


def test_an_expired_approval_blocks_export_with_a_message_naming_the_date(approved, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    drafts = _drafts(w)
    oldest = min(drafts, key=lambda d: (_expires(d), d.id))
    expires = _expires(oldest)
    want = f"draft {oldest.id}'s approval expired on {expires:%Y-%m-%d} (Acme Pharma approvals last {VALID_DAYS} days); re-approve it"

    assert not readiness(w.session, w.campaign_id, now=expires - timedelta(seconds=1))
    assert want in readiness(w.session, w.campaign_id, now=expires)
    out = tmp_path / "out"
    with pytest.raises(ExportRefused) as refused:
        publish(w.session, w.reviewer, w.campaign_id, out, now=expires + timedelta(days=1))
    w.session.rollback()
    assert want in refused.value.problems
    assert not out.exists()  # nothing was written
    assert all(d.status == Status.APPROVED for d in _drafts(w))

    exp = publish(w.session, w.reviewer, w.campaign_id, out, now=expires - timedelta(minutes=1))
    w.session.commit()
    assert exp.row_count > 0


def test_a_brand_without_approval_valid_days_never_expires(approved, brand_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    brand = brand_root / "acme-pharma" / "brand.yaml"
    brand.write_text(brand.read_text().replace(f"approval_valid_days: {VALID_DAYS}\n", ""), encoding="utf-8")
    far = datetime(2099, 1, 1, tzinfo=UTC)
    assert readiness(w.session, w.campaign_id, now=far) == []
    d = _drafts(w)[0]
    with pytest.raises(NotReady, match="never expire"):
        expiry.renew(w.session, w.reviewer, d.id, now=far)
    w.session.rollback()
    assert expiry.expiring(w.session, w.reviewer, now=far).brands[0].approvals == []


def test_content_citing_an_expired_claim_gets_a_finding_and_cannot_ship(approved, brand_root, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    personalized = [d for d in _drafts(w) if w.session.get(Variant, d.variant_id).personalized]
    user = personalized[0]
    edit_draft(w.session, w.marketer, user.id, slots={"closing": "Trusted by 2 million patients."})
    w.session.commit()
    assert any(f.get("claim_id") == "AC-1" and f["level"] == "suggestion" for f in user.findings)
    _sign(w, user)
    w.session.commit()
    assert user.status == Status.APPROVED

    # Injected date: the day after valid_until, export refuses the draft citing it (and only it).
    after = datetime(2031, 7, 1, 9, 0, tzinfo=UTC)
    camp = w.session.get(Campaign, w.campaign_id)
    problems = expiry.export_problems(w.session, camp, _drafts(w), after)
    assert f"draft {user.id} cites claim AC-1, which expired on 2031-06-30 (valid_until in claims.yaml); re-check it to send it back" in problems
    assert not any(f"draft {d.id} cites" in p for p in problems for d in _drafts(w) if d.id != user.id)

    # The real clock: the claim's date moved into the past makes the rules report it.
    path = brand_root / "acme-pharma" / "claims.yaml"
    path.write_text(CLAIMS.replace("valid_until: 2031-06-30", "valid_until: 2020-06-30"), encoding="utf-8")
    forget_stamps()
    with pytest.raises(ExportRefused) as refused:
        publish(w.session, w.reviewer, w.campaign_id, tmp_path)
    w.session.rollback()
    text = " ".join(refused.value.problems)
    assert f"draft {user.id} cites claim AC-1, which expired on 2020-06-30" in text
    assert f"draft {user.id} breaks the brand's current rules" in text and "expired on 2020-06-30" in text

    # Renewing re-checks on the rules as they are: the expired claim is now an error, so the
    # draft goes to its author (checked) with a comment, not back to review.
    d = expiry.renew(w.session, w.reviewer, user.id, now=_expires(user) + timedelta(days=1))
    w.session.commit()
    assert d.status == Status.CHECKED and d.error_count >= 1
    assert any(f.get("claim_id") == "AC-1" and f["level"] == "error" for f in d.findings)
    note = w.session.exec(select(Comment).where(Comment.draft_id == d.id, Comment.kind == "system")).all()[-1]
    assert "expired on 2020-06-30" in note.text


# ------------------------------------------------------------------ renewal


def test_renew_is_offered_only_when_expired_or_expiring_and_sends_the_draft_back_to_review(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = _drafts(w)[0]
    expires = _expires(d)
    assert expiry.renewable(w.session, d, w.reviewer, now=expires - timedelta(days=31)) is False
    assert expiry.renewable(w.session, d, w.reviewer, now=expires - timedelta(days=29)) is True
    assert expiry.renewable(w.session, d, w.marketer, now=expires) is False
    # get_actions asks with the real clock: right after approval, a 30-day approval is "expiring".
    assert "renew" in {a.name for a in get_actions(w.session, d, w.reviewer)}
    assert "renew" not in {a.name for a in get_actions(w.session, d, w.marketer)}

    with pytest.raises(NotReady, match=f"holds until {expires:%Y-%m-%d}; it can be renewed from"):
        expiry.renew(w.session, w.reviewer, d.id, now=expires - timedelta(days=40))
    w.session.rollback()
    with pytest.raises(PermissionDenied):
        expiry.renew(w.session, w.marketer, d.id, now=expires)
    w.session.rollback()

    signed = {a.id for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id, Approval.valid == True)).all()}  # noqa: E712
    assert len(signed) == 2
    renewed = expiry.renew(w.session, w.reviewer, d.id, comment="Annual re-approval", now=expires + timedelta(hours=1))
    w.session.commit()
    assert renewed.status == Status.IN_REVIEW and renewed.approved_at is None
    voided = [w.session.get(Approval, i) for i in signed]
    assert all(not a.valid and a.void_reason == "approval expired" for a in voided)
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_renewed", AuditEvent.entity_id == str(d.id))).one()
    assert ev.actor == w.reviewer.username and ev.after["approvals_voided"] == 2 and ev.after["reason"] == "approval expired"
    assert ev.before["expires_at"].startswith(f"{expires:%Y-%m-%d}")
    assert w.session.exec(select(Comment).where(Comment.draft_id == d.id, Comment.kind == "note")).one().text == "Annual re-approval"

    # Back in review: it needs two fresh signatures, and then its approval runs again.
    with pytest.raises(InvalidTransition, match="only an approved draft can be renewed"):
        expiry.renew(w.session, w.reviewer, d.id)
    w.session.rollback()
    _sign(w, renewed)
    w.session.commit()
    assert renewed.status == Status.APPROVED and renewed.approved_at is not None


def test_renew_through_perform_and_early_renewal_reason(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = _drafts(w)[1]
    out = perform(w.session, w.reviewer, d.id, "renew")  # real clock: inside the 30-day window
    w.session.commit()
    assert out.status == Status.IN_REVIEW
    reasons = {a.void_reason for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all()}
    assert reasons == {f"approval expiring on {_expires_of_event(w, d):%Y-%m-%d}, renewed early"}


def _expires_of_event(w, d) -> datetime:  # type: ignore[no-untyped-def]
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_renewed", AuditEvent.entity_id == str(d.id))).one()
    return datetime.fromisoformat(ev.before["expires_at"])


def test_a_published_draft_is_not_renewed(approved, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    publish(w.session, w.reviewer, w.campaign_id, tmp_path)
    w.session.commit()
    d = _drafts(w)[0]
    with pytest.raises(InvalidTransition, match="a published draft stays published"):
        expiry.renew(w.session, w.reviewer, d.id, now=_expires(d) + timedelta(days=1))
    w.session.rollback()
    assert "renew" not in {a.name for a in get_actions(w.session, d, w.reviewer)}


# ------------------------------------------------------------------ the expiring list


def test_expiring_lists_approvals_and_claims_within_the_window(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    drafts = _drafts(w)
    first = min(_expires(d) for d in drafts)
    last = max(_expires(d) for d in drafts)

    early = expiry.expiring(w.session, w.reviewer, now=first - timedelta(days=31))
    (acme,) = [b for b in early.brands if b.slug == "acme-pharma"]
    assert acme.approval_valid_days == VALID_DAYS and acme.approvals == [] and acme.claims == []

    soon = expiry.expiring(w.session, w.admin, now=last - timedelta(days=10))
    (acme,) = [b for b in soon.brands if b.slug == "acme-pharma"]
    assert sorted(a.draft_id for a in acme.approvals) == [d.id for d in drafts]
    assert all(not a.expired and 9 <= a.days_left <= 10 for a in acme.approvals if a.expires_at == last)

    late = expiry.expiring(w.session, w.reviewer, now=last + timedelta(days=1))
    (acme,) = [b for b in late.brands if b.slug == "acme-pharma"]
    assert all(a.expired and a.days_left < 0 for a in acme.approvals) and len(acme.approvals) == len(drafts)

    claims = expiry.expiring(w.session, w.reviewer, now=datetime(2031, 6, 10, tzinfo=UTC))
    (acme,) = [b for b in claims.brands if b.slug == "acme-pharma"]
    assert [(c.claim_id, c.days_left, c.expired) for c in acme.claims] == [("AC-1", 20, False)]  # AC-2 is retired, AC-3 has no date
    gone = expiry.expiring(w.session, w.reviewer, now=datetime(2031, 8, 1, tzinfo=UTC))
    (acme,) = [b for b in gone.brands if b.slug == "acme-pharma"]
    assert [(c.claim_id, c.expired) for c in acme.claims] == [("AC-1", True)]

    with pytest.raises(PermissionDenied):
        expiry.expiring(w.session, w.marketer)


# ------------------------------------------------------------------ command line


def test_cli_lists_expiring_claims_and_fails_for_cron_when_something_expired(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from review.cli import cli

    demo = Path(__file__).parent.parent
    root = tmp_path / "brands"
    shutil.copytree(demo / "brand_guidelines", root)
    claims = root / "harbor-mutual" / "claims.yaml"
    text = claims.read_text(encoding="utf-8")
    assert "valid_until: 2027-03-31" in text
    claims.write_text(text.replace("valid_until: 2027-03-31", "valid_until: 2020-03-31"), encoding="utf-8")
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    monkeypatch.setenv("COUNTERSIGN_TEMPLATES_DIR", str(demo / "templates"))
    runner = CliRunner()

    def run(*args: str, password: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env={"COUNTERSIGN_PASSWORD": password}, catch_exceptions=False)

    assert runner.invoke(cli, ["seed-demo", "--no-generate"], catch_exceptions=False).exit_code == 0
    out = run("expiring", "--format", "json", "--as", "rita", password="rita-demo-pass")
    assert out.exit_code == 0, out.output
    brands = {b["brand"]: b for b in json.loads(out.output)["brands"]}
    assert brands["harbor-mutual"]["approval_valid_days"] == 365 and brands["northbank"]["approval_valid_days"] == 180
    assert {"claim_id": "HM-001", "valid_until": "2020-03-31", "expired": True} in brands["harbor-mutual"]["claims"]

    cron = run("expiring", "--fail-if-expired", "--as", "rita", password="rita-demo-pass")
    assert cron.exit_code == 1 and "claim HM-001\tEXPIRED 2020-03-31" in cron.output

    refused = run("expiring", "--as", "maria", password="maria-demo-pass")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    nothing = run("withdraw-campaign", "1", "--comment", "Stop the mailing.", "--as", "rita", password="rita-demo-pass")
    assert nothing.exit_code == 1 and "has nothing to withdraw" in nothing.output
