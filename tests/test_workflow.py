"""The approval workflow: every rule and every refusal, checked in the database too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from review import audit
from review.errors import AuthenticationError, ExportRefused, InvalidTransition, PermissionDenied, WorkflowError
from review.export import publish, readiness
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, Draft, Status, User, Variant
from review.templates import sha256_json
from review.workflow import (
    SIGNATURE_MEANINGS,
    TRANSITIONS,
    approve,
    edit_draft,
    get_actions,
    manifest,
    reject,
    request_changes,
    submit_for_review,
    transition,
    withdraw,
)

MEANING = SIGNATURE_MEANINGS[0]


@pytest.fixture
def generated(world, fake_filler):  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    return world


def drafts_of(w) -> list[Draft]:  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all())


def personalized_draft(w) -> Draft:  # type: ignore[no-untyped-def]
    for d in drafts_of(w):
        if w.session.get(Variant, d.variant_id).personalized:
            return d
    raise AssertionError("no personalized draft")


def in_review(w) -> Draft:  # type: ignore[no-untyped-def]
    d = personalized_draft(w)
    submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()
    return d


def sign(w, who, d: Draft, **kw) -> Approval:  # type: ignore[no-untyped-def]
    from review.checks import warning_ids

    kw.setdefault("acknowledged", warning_ids(d.findings))
    kw.setdefault("expected_content_hash", d.content_hash)
    a = approve(w.session, who, d.id, password=w.PASSWORDS[who.username], meaning=MEANING, **kw)
    w.session.commit()
    return a


def actions(w, d: Draft, user) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.name for a in get_actions(w.session, d, user)}


def test_generation_makes_one_checked_draft_per_variant(generated) -> None:  # type: ignore[no-untyped-def]
    drafts = drafts_of(generated)
    variants = generated.session.exec(select(Variant).where(Variant.campaign_id == generated.campaign_id)).all()
    assert len(drafts) == len(variants) == 4  # 3 consenting groups + the no-consent group
    assert {d.status for d in drafts} == {Status.CHECKED}
    no_consent = [d for d in drafts if not generated.session.get(Variant, d.variant_id).personalized]
    assert len(no_consent) == 1
    assert no_consent[0].slots == {"greeting": "Hello from all of us at Acme.", "closing": "With best wishes from Acme."}
    assert {m["source"] for m in no_consent[0].slot_meta.values()} == {"no_consent"}


def test_no_consent_recipients_never_reach_the_model(world, fake_filler) -> None:  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    seen = json.dumps([p.messages for p, _ in fake_filler.history])
    assert "York" in seen and "Leeds" in seen
    # Dev (no consent) and everyone's sensitive data and names stay out of every prompt.
    for forbidden in ("Dev", "asthma", "diabetes", "Ana", "Ben", "Cara", "Eve"):
        assert forbidden not in seen


def test_submit_refused_while_errors_exist(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = personalized_draft(w)
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "A guaranteed miracle for Leeds."})
    w.session.commit()
    assert d.error_count >= 1
    assert "submit" not in actions(w, d, w.marketer)
    with pytest.raises(WorkflowError, match="error-level finding"):
        submit_for_review(w.session, w.marketer, d.id)
    w.session.rollback()
    assert w.session.get(Draft, d.id).status == Status.CHECKED


def test_two_distinct_reviewers_are_needed_for_pharma(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    sign(w, w.reviewer, d)
    assert w.session.get(Draft, d.id).status == Status.IN_REVIEW  # 1 of 2
    with pytest.raises(PermissionDenied, match="already approved"):
        sign(w, w.reviewer, d)
    w.session.rollback()
    sign(w, w.reviewer2, d)
    assert w.session.get(Draft, d.id).status == Status.APPROVED
    appr = w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all()
    assert {a.full_name for a in appr} == {"Rita Reviewer", "Rob Reviewer"}


def test_an_author_never_approves_their_own_draft(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    maria = w.session.get(User, w.marketer.id)
    maria.role = "reviewer"  # even after a role change, the author stays the author
    w.session.add(maria)
    w.session.commit()
    assert "approve" not in actions(w, d, maria)
    with pytest.raises(PermissionDenied, match="cannot review it"):
        approve(w.session, maria, d.id, password=w.PASSWORDS["maria"], meaning=MEANING, acknowledged=[], expected_content_hash=d.content_hash)


def test_marketers_cannot_decide(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    with pytest.raises(PermissionDenied):
        approve(w.session, w.marketer, d.id, password=w.PASSWORDS["maria"], meaning=MEANING, expected_content_hash=d.content_hash)
    with pytest.raises(PermissionDenied):
        reject(w.session, w.marketer, d.id, comment="nope nope")


def test_signature_needs_password_meaning_and_acknowledged_warnings(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = personalized_draft(w)
    # "cheap" draws a substitution warning that must be acknowledged.
    edit_draft(w.session, w.marketer, d.id, slots={"closing": "Cheap tips for staying well."})
    submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()
    assert d.warning_count >= 1
    with pytest.raises(AuthenticationError):
        approve(w.session, w.reviewer, d.id, password="wrong", meaning=MEANING, acknowledged=[], expected_content_hash=d.content_hash)
    with pytest.raises(WorkflowError, match="signature means"):
        approve(w.session, w.reviewer, d.id, password=w.PASSWORDS["rita"], meaning="looks fine", acknowledged=[], expected_content_hash=d.content_hash)
    with pytest.raises(WorkflowError, match="acknowledge each warning"):
        approve(w.session, w.reviewer, d.id, password=w.PASSWORDS["rita"], meaning=MEANING, acknowledged=[], expected_content_hash=d.content_hash)
    with pytest.raises(WorkflowError, match="changed while you were reviewing"):
        approve(w.session, w.reviewer, d.id, password=w.PASSWORDS["rita"], meaning=MEANING, acknowledged=None, expected_content_hash="stale")
    w.session.rollback()
    assert w.session.exec(select(Approval)).all() == []
    a = sign(w, w.reviewer, d)
    assert a.acknowledged and a.meaning == MEANING


def test_manifest_binds_what_was_signed(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    a = sign(w, w.reviewer, d)
    m = a.manifest
    for key in ("slots", "check_report", "model_fingerprint", "seed", "prompt_fingerprint", "content_hash", "template_hash", "settings"):
        assert key in m
    assert m["slots"] == d.slots and m["model_fingerprint"] == d.model_fingerprint
    # The manifest is the draft's content now, plus the brand policy the signature was taken under.
    assert a.manifest_hash == sha256_json(m)
    assert {k: v for k, v in m.items() if k != "policy"} == manifest(w.session, d)
    assert m["policy"]["approvals_required"] == 2 and len(m["policy"]["brand_yaml_sha256"]) == 64
    assert a.signed_at is not None and a.full_name == "Rita Reviewer"


@pytest.mark.parametrize("decide", [request_changes, reject])
def test_rejecting_or_requesting_changes_needs_a_comment(generated, decide) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    with pytest.raises(WorkflowError, match="needs a comment"):
        decide(w.session, w.reviewer, d.id, comment="  ")
    w.session.rollback()
    decide(w.session, w.reviewer, d.id, comment="The tone is off for this audience.")
    w.session.commit()
    assert w.session.get(Draft, d.id).status == (Status.NEEDS_CHANGES if decide is request_changes else Status.REJECTED)


def test_needs_changes_then_edit_and_resubmit(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    request_changes(w.session, w.reviewer, d.id, comment="Please mention the city warmly.")
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Warm greetings to all our readers in Leeds."})
    assert d.status == Status.NEEDS_CHANGES
    submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()
    assert d.status == Status.IN_REVIEW and d.revision == 2


def test_needs_changes_cannot_be_resubmitted_unchanged_without_a_reply(generated) -> None:  # type: ignore[no-untyped-def]
    from review.models import Comment
    from review.workflow import submit_ready

    w = generated
    d = in_review(w)
    request_changes(w.session, w.reviewer, d.id, comment="Please mention the city warmly.")
    w.session.commit()
    with pytest.raises(WorkflowError, match="has not changed since"):
        submit_for_review(w.session, w.marketer, d.id)
    w.session.rollback()
    report = submit_ready(w.session, w.marketer, w.campaign_id)  # the campaign's bulk submit skips it, saying why
    assert d.id not in report.submitted and any(i == d.id and "has not changed since" in why for i, why in report.skipped)
    w.session.rollback()
    submit_for_review(w.session, w.marketer, d.id, reply="The city is in the greeting already; kept as is.")
    w.session.commit()
    assert w.session.get(Draft, d.id).status == Status.IN_REVIEW
    reply = w.session.exec(select(Comment).where(Comment.draft_id == d.id, Comment.kind == "reply")).one()
    assert reply.text.startswith("The city is in the greeting")


def test_the_loser_of_a_decision_is_told_who_decided(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    reject(w.session, w.reviewer, d.id, comment="Off-brand entirely.")
    w.session.commit()
    with pytest.raises(InvalidTransition, match=f"draft {d.id} was rejected by rita a moment ago"):
        request_changes(w.session, w.reviewer2, d.id, comment="Needs a softer tone.")


def test_an_edit_of_a_revision_someone_replaced_is_refused(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Warm greetings to all our readers."}, expected_revision=1)
    w.session.commit()
    with pytest.raises(WorkflowError, match="edited by maria .*now revision 2, you edited revision 1"):
        edit_draft(w.session, w.admin, d.id, slots={"greeting": "Hello to all our readers."}, expected_revision=1)


def test_edit_after_approval_voids_it_and_returns_to_review(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    sign(w, w.reviewer, d)
    sign(w, w.reviewer2, d)
    assert d.status == Status.APPROVED
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Hello again to everyone in Leeds."})
    w.session.commit()
    assert d.status == Status.IN_REVIEW
    assert all(not a.valid for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all())
    assert readiness(w.session, w.campaign_id)  # not publishable


def test_rejected_is_final_and_published_cannot_be_edited(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    reject(w.session, w.reviewer, d.id, comment="Off-brand entirely.")
    w.session.commit()
    with pytest.raises(InvalidTransition):
        edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Hello Leeds readers."})
    with pytest.raises(InvalidTransition):
        submit_for_review(w.session, w.marketer, d.id)


ALL_PAIRS = [(a, b) for a in Status.ALL for b in Status.ALL]


@pytest.mark.parametrize("src, dst", ALL_PAIRS)
def test_transition_table_is_enforced(src: str, dst: str) -> None:
    # A bare SQLite engine (foreign keys off) so one draft row can stand alone.
    from sqlmodel import create_engine

    from review.db import migrate

    bare = create_engine("sqlite://")
    migrate(bare)
    with Session(bare) as s:
        actor = User(id=1, username="u", full_name="U", role="admin", password_hash="x")
        d = Draft(id=1, campaign_id=1, variant_id=1, status=src, author_id=1)
        if dst in TRANSITIONS[src]:
            transition(s, d, dst, actor)
            assert d.status == dst
            ev = s.exec(select(AuditEvent)).one()
            assert ev.before["status"] == src and ev.after["status"] == dst
        else:
            with pytest.raises(InvalidTransition):
                transition(s, d, dst, actor)
            assert d.status == src


def test_export_only_when_everything_is_approved_and_unchanged(generated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = generated
    with pytest.raises(ExportRefused, match="not approved"):
        publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.rollback()
    for d in drafts_of(w):
        submit_for_review(w.session, w.marketer, d.id)
        w.session.commit()
        sign(w, w.reviewer, d)
        sign(w, w.reviewer2, d)
    # Tamper with one approved draft behind the workflow's back: the hash no longer matches.
    victim = drafts_of(w)[0]
    original = dict(victim.slots)
    victim.slots = {**victim.slots, "greeting": "Totally different text."}
    w.session.add(victim)
    w.session.commit()
    with pytest.raises(ExportRefused, match="changed since it was approved"):
        publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.rollback()
    victim.slots = original
    w.session.add(victim)
    w.session.commit()
    exp = publish(w.session, w.reviewer, w.campaign_id, tmp_path)
    w.session.commit()
    rows = [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]
    assert exp.row_count == len(rows) == 5
    ana = next(r for r in rows if r["recipient_id"] == "P1")
    assert ana["subject"] == "News for Ana" and ana["body"].startswith("Dear Ana,")
    assert "asthma" not in json.dumps(rows)
    assert {len(r["approvals"]) for r in rows} == {2}
    assert set(rows[0]) == {"recipient_id", "channel", "subject", "body", "variant", "content_hash", "approvals"}
    header = Path(exp.csv_path).read_text(encoding="utf-8").splitlines()[0]
    assert header == "recipient_id,channel,subject,body,variant,content_hash,approvals"
    assert {d.status for d in drafts_of(w)} == {Status.PUBLISHED}
    # Withdrawing after publication is possible and recorded; a second export is refused.
    withdraw(w.session, w.reviewer, victim.id, comment="Recalled: offer ended.")
    w.session.commit()
    with pytest.raises(ExportRefused):
        publish(w.session, w.marketer, w.campaign_id, tmp_path)
    w.session.rollback()
    assert audit.verify_chain(w.session).ok
    actions_logged = {e.action for e in w.session.exec(select(AuditEvent)).all()}
    for a in (
        "draft_generated",
        "draft_in_review",
        "draft_signed",
        "draft_approved",
        "draft_published",
        "campaign_published",
        "draft_withdrawn",
        "approval_voided",
    ):
        assert a in actions_logged


def test_a_new_template_version_never_alters_existing_drafts(generated) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from review.template_versions import save_template

    FIXTURES = Path(__file__).parent / "fixtures"

    w = generated
    before = {d.id: (d.content_hash, d.slots) for d in drafts_of(w)}
    src = (FIXTURES / "templates" / "acme-newsletter.j2").read_text().replace("store your medicines safely", "store medicines safely")
    tv2 = save_template(w.session, w.marketer, brand_slug="acme-pharma", source=src)
    w.session.commit()
    assert tv2.version == 2 and tv2.id != w.template_version_id
    assert {d.id: (d.content_hash, d.slots) for d in drafts_of(w)} == before


def _refusals(w) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    w.session.expire_all()
    return list(w.session.exec(select(AuditEvent).where(AuditEvent.action == "refused").order_by(AuditEvent.seq)).all())


def test_security_refusals_are_audited_in_their_own_transaction(generated) -> None:  # type: ignore[no-untyped-def]
    """Failed signature, self-review, wrong role, failed login: the refused work rolls back, the attempt stays."""
    from review.auth import authenticate
    from review.db import session_scope

    w = generated
    d = in_review(w)
    before = w.session.exec(select(AuditEvent)).all()
    attempts = [
        (
            AuthenticationError,
            lambda s: approve(s, s.get(User, w.reviewer.id), d.id, password="not-my-password", meaning=MEANING, expected_content_hash=d.content_hash),
        ),
        (
            PermissionDenied,
            lambda s: approve(s, s.get(User, w.marketer.id), d.id, password=w.PASSWORDS["maria"], meaning=MEANING, expected_content_hash=d.content_hash),
        ),
        (AuthenticationError, lambda s: authenticate(s, "rita\x1b[2J", "guess")),
    ]
    for error, attempt in attempts:
        with pytest.raises(error), session_scope(w.engine) as s:
            attempt(s)
    events = _refusals(w)
    assert [(e.actor, e.entity, e.after["refusal"], e.after["attempted"]) for e in events] == [
        ("rita", "draft", "AuthenticationError", "sign"),
        ("maria", "user", "PermissionDenied", "an action for reviewer"),  # the role check knows the user, not the draft
        ("rita[2J", "user", "AuthenticationError", "login"),  # control characters dropped
    ]
    assert events[0].entity_id == str(d.id) and "password does not match" in events[0].after["reason"]
    assert len(w.session.exec(select(AuditEvent)).all()) == len(before) + 3  # nothing else was written
    w.session.refresh(d)
    assert d.status == Status.IN_REVIEW and not w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all()
    assert audit.verify_chain(w.session).ok


def test_rule_refusals_are_not_security_events(generated) -> None:  # type: ignore[no-untyped-def]
    """A missing comment is a form error, not an attempt worth an examiner's time: nothing is audited."""
    from review.db import session_scope

    w = generated
    d = in_review(w)
    with pytest.raises(WorkflowError), session_scope(w.engine) as s:
        reject(s, s.get(User, w.reviewer.id), d.id, comment="")
    assert _refusals(w) == []


@pytest.mark.parametrize("ch", ["\u200b", "\u202e", "\u2066", "\x1b", "\u00ad"])
def test_slot_edits_refuse_characters_a_reviewer_cannot_see(generated, ch: str) -> None:  # type: ignore[no-untyped-def]
    from review.textsafety import UnsafeText

    w = generated
    d = personalized_draft(w)
    before = (d.revision, dict(d.slots))
    with pytest.raises(UnsafeText, match=r"slot 'greeting'.*U\+"):
        edit_draft(w.session, w.marketer, d.id, slots={"greeting": f"Hello to every{ch}one in Leeds."})
    w.session.rollback()
    d = w.session.get(Draft, d.id)
    assert (d.revision, d.slots) == before


# ------------------------------------------------------------------ get_actions and perform


def test_get_actions_says_what_each_form_asks(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = personalized_draft(w)
    by_name = {a.name: a for a in get_actions(w.session, d, w.marketer)}
    assert set(by_name) == {"edit", "submit"}
    assert by_name["submit"].label == "Submit for review" and by_name["submit"].style == "primary"
    assert not by_name["submit"].takes_comment
    submit_for_review(w.session, w.marketer, d.id)
    w.session.commit()
    decide = {a.name: a for a in get_actions(w.session, d, w.reviewer)}
    assert list(decide) == ["approve", "request_changes", "reject"]
    assert decide["approve"].needs_password and decide["approve"].meanings == SIGNATURE_MEANINGS
    assert decide["reject"].needs_comment and decide["request_changes"].needs_comment and not decide["reject"].needs_password
    assert get_actions(w.session, d, w.admin) == []  # admins withdraw, they do not review


def test_a_sent_back_draft_offers_a_resubmit_that_needs_a_reply_until_it_changes(generated) -> None:  # type: ignore[no-untyped-def]
    w = generated
    d = in_review(w)
    request_changes(w.session, w.reviewer, d.id, comment="Please mention the city warmly.")
    w.session.commit()
    (resubmit,) = [a for a in get_actions(w.session, d, w.marketer) if a.name == "submit"]
    assert (resubmit.label, resubmit.style, resubmit.takes_comment, resubmit.needs_comment) == ("Resubmit unchanged", "secondary", True, True)
    edit_draft(w.session, w.marketer, d.id, slots={"greeting": "Warm greetings to all our readers in Leeds."})
    w.session.commit()
    (resubmit,) = [a for a in get_actions(w.session, d, w.marketer) if a.name == "submit"]
    assert (resubmit.label, resubmit.takes_comment, resubmit.needs_comment) == ("Resubmit for review", True, False)


def test_perform_takes_each_action_through_its_service(generated) -> None:  # type: ignore[no-untyped-def]
    from review.checks import warning_ids
    from review.workflow import perform

    w = generated
    d = personalized_draft(w)
    perform(w.session, w.marketer, d.id, "edit", slots={"greeting": "Warm greetings to all our readers in Leeds."}, note="warmer", expected_revision=1)
    perform(w.session, w.marketer, d.id, "submit")
    w.session.commit()
    assert (d.status, d.revision) == (Status.IN_REVIEW, 2)
    appr = perform(
        w.session,
        w.reviewer,
        d.id,
        "approve",
        password=w.PASSWORDS["rita"],
        meaning=MEANING,
        expected_content_hash=d.content_hash,
        acknowledged=warning_ids(d.findings),
    )
    assert isinstance(appr, Approval) and appr.revision == 2
    perform(w.session, w.reviewer2, d.id, "request_changes", comment="Shorter, please.")
    w.session.commit()
    assert d.status == Status.NEEDS_CHANGES
    events = w.session.exec(select(AuditEvent).where(AuditEvent.entity_id == str(d.id)).order_by(AuditEvent.seq)).all()
    # (review assignments and notifications, recorded beside these, are tests/test_assignments.py's)
    assert [e.action for e in events if not e.action.startswith(("assignment_", "notif"))][-4:] == [
        "draft_in_review",
        "draft_signed",
        "approval_voided",
        "draft_needs_changes",
    ]


def test_perform_keeps_every_guard_and_refuses_unknown_actions_and_inputs(generated) -> None:  # type: ignore[no-untyped-def]
    from review.errors import InvalidInput
    from review.workflow import perform

    w = generated
    d = in_review(w)
    with pytest.raises(PermissionDenied):  # the service's own guard, not a second copy of it
        perform(w.session, w.marketer, d.id, "reject", comment="not mine to reject")
    w.session.rollback()
    with pytest.raises(InvalidInput, match="unknown action 'publish'"):
        perform(w.session, w.reviewer, d.id, "publish")
    with pytest.raises(InvalidInput, match="approve needs expected_content_hash, meaning, password"):
        perform(w.session, w.reviewer, d.id, "approve")
    with pytest.raises(InvalidInput, match="reject does not take password"):
        perform(w.session, w.reviewer, d.id, "reject", comment="No, thank you.", password="x")
    with pytest.raises(InvalidInput, match="needs a comment"):
        perform(w.session, w.reviewer, d.id, "reject", comment=" ")
    w.session.rollback()
    assert w.session.get(Draft, d.id).status == Status.IN_REVIEW
