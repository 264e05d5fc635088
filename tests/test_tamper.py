"""Records that cannot be quietly rewritten: someone with write access to the database (but not
the audit key, and not the checkpoint file) edits rows; every case is detected or refused, with
the reason named. Also: brand files changed after approval stop export until re-review."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from review import audit
from review.checks import forget_stamps
from review.errors import ExportRefused
from review.export import publish, readiness
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, AuditHead, Comment, Draft, Export, Status, TemplateVersion, User
from review.templates import sha256_json
from review.workflow import content_hash, recheck_brand

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def brands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "brands"
    shutil.copytree(FIXTURES / "brands", root)
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(root))
    forget_stamps()
    return root


@pytest.fixture
def approved(brands: Path, build_world, fake_filler, sign_all):  # type: ignore[no-untyped-def]
    """A campaign whose every draft is signed by both reviewers (acme-pharma needs two)."""
    w = build_world()
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    w.session.expire_all()
    sign_all(w)
    assert readiness(w.session, w.campaign_id) == []
    return w


def refused(w, match: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ExportRefused) as e:
        publish(w.session, w.marketer, w.campaign_id)
    w.session.rollback()
    assert match in str(e.value), str(e.value)
    assert w.session.exec(select(Export)).all() == []
    return str(e.value)


def sql(w, statement: str, **params: Any) -> None:  # type: ignore[no-untyped-def]
    """A direct database write, as someone with write access but no app account would make."""
    with w.engine.begin() as c:
        c.execute(text(statement), params)
    w.session.expire_all()


def a_draft(w) -> Draft:  # type: ignore[no-untyped-def]
    return w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).first()


# ------------------------------------------------------------------------- the audit chain


def _rewrite_from(s: Session, seq: int, change: dict[str, Any]) -> None:
    """Edit event `seq`, then recompute every later hash and the head: a plain chain says OK."""
    events = list(s.exec(select(AuditEvent).where(AuditEvent.seq >= seq).order_by(col(AuditEvent.seq))).all())
    prev = events[0].prev_hash
    for ev in events:
        for k, v in (change if ev.seq == seq else {}).items():
            setattr(ev, k, v)
        ev.prev_hash = prev
        ev.hash = audit.recompute_hash(ev)
        prev = ev.hash
        s.add(ev)
    head = s.get(AuditHead, 1)
    assert head is not None
    head.hash = prev
    s.add(head)
    s.commit()


def test_rewritten_event_with_recomputed_chain_and_head_is_detected(world) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    assert audit.verify_chain(s).ok
    _rewrite_from(s, 3, {"actor": "mallory"})
    report = audit.verify_chain(s)
    assert not report.ok and report.first_broken_seq == 3
    assert "MAC does not verify" in report.reason


def test_a_mac_made_with_another_key_is_detected(world) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    ev = s.exec(select(AuditEvent).where(AuditEvent.seq == 2)).one()
    ev.mac = audit.event_mac(b"not-the-real-key-but-long-enough-000", ev.hash)
    s.add(ev)
    s.commit()
    assert "MAC does not verify" in audit.verify_chain(s).reason


def test_truncated_tail_with_reset_head_is_detected(world) -> None:  # type: ignore[no-untyped-def]
    s = world.session
    total = s.exec(select(AuditHead)).one().seq
    keep = total - 3
    last = s.exec(select(AuditEvent).where(AuditEvent.seq == keep)).one()
    sql(world, "DELETE FROM auditevent WHERE seq > :k", k=keep)
    sql(world, "UPDATE audithead SET seq = :k, hash = :h WHERE id = 1", k=keep, h=last.hash)
    report = audit.verify_chain(s)
    assert not report.ok and "head's MAC does not verify" in report.reason


def test_checkpoint_catches_truncation_even_with_a_replayed_head(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An insider who kept an old head row can restore it after cutting the tail: the head's MAC
    is then valid, and only a checkpoint written outside the database tells."""
    s = world.session
    old_head = s.exec(select(AuditHead)).one()
    old = (old_head.seq, old_head.hash, old_head.mac)
    audit.append(s, actor="rita", action="note", entity="draft", entity_id=1, after={"n": 1})
    audit.append(s, actor="rita", action="note", entity="draft", entity_id=1, after={"n": 2})
    s.commit()
    cp_file = audit.write_checkpoint(audit.current_checkpoint(s), tmp_path / "cp.jsonl")
    sql(world, "DELETE FROM auditevent WHERE seq > :k", k=old[0])
    sql(world, "UPDATE audithead SET seq = :k, hash = :h, mac = :m WHERE id = 1", k=old[0], h=old[1], m=old[2])
    assert audit.verify_chain(s).ok  # what the database alone can tell
    report = audit.verify_chain(s, checkpoints=audit.read_checkpoints(cp_file))
    assert not report.ok and "events deleted" in report.reason and report.checkpoints == 0


def test_checkpoint_catches_a_rewrite_made_with_the_key(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Even someone holding the key cannot rewrite history a checkpoint has already recorded."""
    s = world.session
    cp_file = audit.write_checkpoint(audit.current_checkpoint(s), tmp_path / "cp.jsonl")
    key = audit.audit_key()
    assert key
    _rewrite_from(s, 2, {"actor": "mallory"})
    for ev in s.exec(select(AuditEvent)).all():
        ev.mac = audit.event_mac(key, ev.hash)
        s.add(ev)
    head = s.exec(select(AuditHead)).one()
    head.mac = audit.head_mac(key, head.seq, head.hash)
    s.add(head)
    s.commit()
    assert audit.verify_chain(s).ok
    report = audit.verify_chain(s, checkpoints=audit.read_checkpoints(cp_file))
    assert not report.ok and "differs from the checkpoint" in report.reason


def test_verifying_without_the_key_says_so(world, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COUNTERSIGN_AUDIT_KEY_FILE", str(tmp_path / "nowhere" / "audit.key"))
    report = audit.verify_chain(world.session)
    assert not report.ok and "no audit key" in report.reason


def test_checkpoint_file_lines_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "cp.jsonl"
    bad.write_text('{"seq": 3, "hash": "ab"}\nnot json\n')
    from review.errors import ConfigError

    with pytest.raises(ConfigError, match="cp.jsonl:2"):
        audit.read_checkpoints(bad)


def test_every_export_leaves_a_checkpoint(approved) -> None:  # type: ignore[no-untyped-def]
    from review.config import settings

    w = approved
    publish(w.session, w.marketer, w.campaign_id)
    w.session.commit()
    cps = audit.read_checkpoints(settings().audit_checkpoint_file)
    head = w.session.exec(select(AuditHead)).one()
    assert cps[-1]["seq"] == head.seq and cps[-1]["hash"] == head.hash
    assert audit.verify_chain(w.session, checkpoints=cps).ok


def test_a_rolled_back_export_leaves_no_checkpoint(approved) -> None:  # type: ignore[no-untyped-def]
    from review.config import settings

    w = approved
    publish(w.session, w.marketer, w.campaign_id)
    w.session.rollback()
    audit.append(w.session, actor="rita", action="note", entity="draft", entity_id=1)
    w.session.commit()  # a later commit in the same session must not write the dead export's head
    assert not settings().audit_checkpoint_file.exists()


# ------------------------------------------------------------------- re-verify at the door


def test_forged_text_with_matching_hash_and_manifest_is_refused(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    tv = w.session.exec(select(TemplateVersion)).first()
    forged = {**d.slots, "closing": "Guaranteed results, call 0800 123 456."}
    new_hash = content_hash(tv.content_hash, forged)
    for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all():
        m = {**a.manifest, "slots": forged, "content_hash": new_hash}
        a.manifest, a.manifest_hash = m, sha256_json(m)
        w.session.add(a)
    d.slots, d.content_hash = forged, new_hash
    w.session.add(d)
    w.session.commit()
    refused(w, "is not the one recorded when it was signed")


def test_edited_text_alone_is_refused(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    sql(w, "UPDATE draft SET slots = :s WHERE id = :i", s='{"greeting": "Hi", "closing": "Bye"}', i=d.id)
    refused(w, "changed since it was approved")


def test_swapped_signer_is_refused(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    a = w.session.exec(select(Approval).where(Approval.draft_id == d.id)).first()
    sql(w, "UPDATE approval SET reviewer_id = :u WHERE id = :i", u=w.marketer.id, i=a.id)
    msg = refused(w, "names a signer other than the one the audit trail recorded")
    assert f"draft {d.id}" in msg


def test_edited_signing_event_is_refused(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_signed", AuditEvent.entity_id == str(d.id))).first()
    ev.actor = "maria"
    w.session.add(ev)
    w.session.commit()
    refused(w, "its signing event does not verify")


def test_deactivated_signer_no_longer_counts(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    rob = w.session.get(User, w.reviewer2.id)
    rob.active = False
    w.session.add(rob)
    w.session.commit()
    refused(w, "rob is no longer an active reviewer")


def test_altered_template_version_is_refused(approved) -> None:  # type: ignore[no-untyped-def]
    w = approved
    tv = w.session.exec(select(TemplateVersion)).first()
    sql(w, "UPDATE templateversion SET source = :s WHERE id = :i", s=tv.source.replace("store your medicines", "double your dose"), i=tv.id)
    refused(w, "was altered after it was saved")


def test_tightened_brand_yaml_stops_export(approved, brands: Path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    path = brands / "acme-pharma" / "brand.yaml"
    path.write_text(path.read_text().replace("approvals_required: 2", "approvals_required: 3"))
    forget_stamps()
    refused(w, "brand.yaml requires 3")


def test_new_error_rule_stops_export_and_recheck_sends_drafts_back(approved, brands: Path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    word = d.slots["closing"].split()[0].strip(".,").lower()
    (brands / "acme-pharma" / "rules" / "new-ban.yaml").write_text(
        f"extends: existence\nmessage: \"Do not say '%s'.\"\nlevel: error\nscope: slot\ntokens:\n  - {word}\n"
    )
    forget_stamps()
    refused(w, "breaks the brand's current rules")
    changed = recheck_brand(w.session, w.reviewer, "acme-pharma", reason="new rule new-ban")
    w.session.commit()
    assert d.id in changed
    d = w.session.get(Draft, d.id)
    assert d.status == Status.NEEDS_CHANGES and d.error_count >= 1
    note = w.session.exec(select(Comment).where(Comment.draft_id == d.id, Comment.kind == "system")).one()
    assert "new rule new-ban" in note.text
    assert not any(a.valid for a in w.session.exec(select(Approval).where(Approval.draft_id == d.id)).all())
    assert audit.verify_chain(w.session).ok


def test_new_warning_rule_needs_acknowledging_again(approved, brands: Path) -> None:  # type: ignore[no-untyped-def]
    w = approved
    d = a_draft(w)
    word = d.slots["closing"].split()[0].strip(".,").lower()
    (brands / "acme-pharma" / "rules" / "new-warn.yaml").write_text(
        f"extends: existence\nmessage: \"Avoid '%s'.\"\nlevel: warning\nscope: slot\ntokens:\n  - {word}\n"
    )
    forget_stamps()
    refused(w, "a warning its signers did not acknowledge")


def test_the_app_checks_the_checkpoint_file(world) -> None:  # type: ignore[no-untyped-def]
    from review.dashboard import audit_verify

    s = world.session
    audit.write_checkpoint(audit.current_checkpoint(s))  # the configured file
    assert audit_verify(s, world.reviewer).checkpoints == 1
    head = s.exec(select(AuditHead)).one()
    keep = head.seq - 2
    last = s.exec(select(AuditEvent).where(AuditEvent.seq == keep)).one()
    sql(world, "DELETE FROM auditevent WHERE seq > :k", k=keep)
    sql(world, "UPDATE audithead SET seq = :k, hash = :h, mac = :m WHERE id = 1", k=keep, h=last.hash, m=audit.head_mac(audit.audit_key(), keep, last.hash))
    report = audit_verify(s, world.reviewer)
    assert not report.ok and "events deleted" in report.reason


def test_verify_audit_command_reads_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from review.cli import cli
    from review.db import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as s:
        for n in range(3):
            audit.append(s, actor="rita", action="note", entity="draft", entity_id=n)
        s.commit()
        cp = audit.current_checkpoint(s)
    other = tmp_path / "elsewhere.jsonl"
    audit.write_checkpoint(cp, other)
    ok = CliRunner().invoke(cli, ["verify-audit", "--checkpoint", str(other)])
    assert ok.exit_code == 0 and "1 checkpoint(s) held" in ok.output
    with engine.begin() as c:
        c.execute(text("DELETE FROM auditevent WHERE seq = 3"))
    bad = CliRunner().invoke(cli, ["verify-audit", "--checkpoint", str(other)])
    assert bad.exit_code != 0 and "BROKEN" in bad.output
    missing = CliRunner().invoke(cli, ["verify-audit", "--checkpoint", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    engine.dispose()
