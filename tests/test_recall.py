"""Withdrawal reaches downstream: recall rows, audit events and files (review.recalls), and m012."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from review import db
from review.db import session_scope
from review.errors import InvalidInput, InvalidTransition, PermissionDenied
from review.export import publish
from review.generation import generate_campaign
from review.models import AuditEvent, Draft, Export, Recall, RecallScope, Status, Variant
from review.recalls import CSV_COLUMNS, list_recalls, rewrite_recall_files, withdraw_campaign
from review.workflow import perform, withdraw


@pytest.fixture
def published(world, fake_filler, sign_all, tmp_path):  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    sign_all(world)
    exp = publish(world.session, world.reviewer, world.campaign_id)
    world.session.commit()
    return world, exp


def _drafts(w):  # type: ignore[no-untyped-def]
    return list(w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(Draft.id)).all())


def _exported(exp: Export) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in Path(exp.jsonl_path).read_text(encoding="utf-8").splitlines()]


def _files(rec: Recall) -> tuple[dict, list[dict[str, str]], bytes]:  # type: ignore[type-arg]
    raw = Path(rec.json_path).read_bytes()
    rows = list(csv.DictReader(io.StringIO(Path(rec.csv_path).read_text(encoding="utf-8"))))
    return json.loads(raw), rows, raw


def test_withdrawing_a_published_draft_writes_a_recall_listing_exports_and_recipients(published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    victim = _drafts(w)[0]
    key = w.session.get(Variant, victim.variant_id).key
    sent_to = sorted(r["recipient_id"] for r in _exported(exp) if r["variant"] == key)
    assert sent_to

    withdraw(w.session, w.reviewer, victim.id, comment="Offer ended early.")
    (rec,) = w.session.exec(select(Recall)).all()
    assert not Path(rec.json_path).exists()  # not before the commit
    w.session.commit()

    assert rec.scope == RecallScope.DRAFT and rec.draft_ids == [victim.id] and rec.export_ids == [exp.id]
    assert rec.recipient_count == len(sent_to)
    payload, rows, raw = _files(rec)
    assert payload == rec.payload and hashlib.sha256(raw).hexdigest() == rec.sha256
    assert payload["campaign"]["id"] == w.campaign_id and payload["reason"] == "Offer ended early."
    assert payload["recalled_by"]["username"] == w.reviewer.username
    assert payload["drafts"] == [{"draft_id": victim.id, "variant": key, "revision": victim.revision, "content_hash": victim.content_hash}]
    (shipped,) = payload["exports"]
    assert shipped["export_id"] == exp.id and shipped["sha256"] == exp.sha256 and shipped["recipients_source"] == "export file"
    assert payload["recipient_ids"] == sent_to
    assert list(rows[0]) == CSV_COLUMNS
    assert sorted(r["recipient_id"] for r in rows) == sent_to
    assert {(r["export_id"], r["export_sha256"], r["draft_id"], r["variant"]) for r in rows} == {(str(exp.id), exp.sha256, str(victim.id), key)}

    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_recalled")).one()
    assert ev.entity == "draft" and ev.entity_id == str(victim.id) and ev.actor == w.reviewer.username
    assert ev.after["recall_id"] == rec.id and ev.after["sha256"] == rec.sha256 and ev.after["export_ids"] == [exp.id]
    assert list_recalls(w.session, w.marketer, w.campaign_id) == [rec]


def test_withdrawing_an_approved_draft_recalls_nothing(world, fake_filler, sign_all) -> None:  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    sign_all(world)
    d = _drafts(world)[0]
    perform(world.session, world.reviewer, d.id, "withdraw", comment="Not needed any more.")
    world.session.commit()
    assert d.status == Status.WITHDRAWN
    assert world.session.exec(select(Recall)).all() == []
    assert not world.session.exec(select(AuditEvent).where(AuditEvent.action.in_(["draft_recalled", "campaign_recalled"]))).all()  # type: ignore[attr-defined]


def test_withdrawing_a_campaign_recalls_every_published_draft_once(published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    drafts = _drafts(w)
    first = drafts[0]
    withdraw(w.session, w.reviewer, first.id, comment="Wrong city named.")
    w.session.commit()

    with pytest.raises(PermissionDenied):
        withdraw_campaign(w.session, w.marketer, w.campaign_id, "Stop it all.")
    w.session.rollback()
    with pytest.raises(InvalidInput, match="needs a comment"):
        withdraw_campaign(w.session, w.admin, w.campaign_id, " ")
    w.session.rollback()

    result = withdraw_campaign(w.session, w.admin, w.campaign_id, "Regulator asked us to stop the campaign.")
    w.session.commit()
    rest = [d for d in drafts if d.id != first.id]
    assert sorted(result.withdrawn) == [d.id for d in rest]
    assert all(d.status == Status.WITHDRAWN for d in _drafts(w))
    rec = result.recall
    assert rec is not None and rec.scope == RecallScope.CAMPAIGN and sorted(rec.draft_ids) == [d.id for d in rest]
    keys = {w.session.get(Variant, d.variant_id).key for d in rest}
    sent_to = sorted(r["recipient_id"] for r in _exported(exp) if r["variant"] in keys)
    payload, rows, raw = _files(rec)
    assert payload["recipient_ids"] == sent_to and sorted(r["recipient_id"] for r in rows) == sent_to
    assert hashlib.sha256(raw).hexdigest() == rec.sha256 and payload["exports"][0]["export_id"] == exp.id
    ev = w.session.exec(select(AuditEvent).where(AuditEvent.action == "campaign_recalled")).one()
    assert ev.entity == "campaign" and ev.entity_id == str(w.campaign_id) and ev.after["recall_id"] == rec.id
    done = w.session.exec(select(AuditEvent).where(AuditEvent.action == "campaign_withdrawn")).one()
    assert sorted(done.after["published"]) == [d.id for d in rest] and done.after["recall_id"] == rec.id
    assert len(list_recalls(w.session, w.reviewer, w.campaign_id)) == 2

    # The loser of a second withdrawal is told what happened.
    with pytest.raises(InvalidTransition, match="has nothing to withdraw: draft .* was withdrawn by admin"):
        withdraw_campaign(w.session, w.reviewer, w.campaign_id, "Again, to be sure.")
    w.session.rollback()


def test_nothing_is_written_when_the_withdrawal_rolls_back(published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    export_dir = Path(exp.jsonl_path).parent
    before = sorted(p.name for p in export_dir.iterdir())

    class Boom(Exception):
        pass

    with pytest.raises(Boom), session_scope(w.engine) as s:
        withdraw_campaign(s, w.reviewer, w.campaign_id, "About to fail.")
        assert s.exec(select(Recall)).all()  # recorded in the transaction ...
        raise Boom
    assert sorted(p.name for p in export_dir.iterdir()) == before  # ... and no file left behind
    with Session(w.engine) as s:
        assert s.exec(select(Recall)).all() == []
        assert {d.status for d in s.exec(select(Draft)).all()} == {Status.PUBLISHED}


def test_a_missing_or_altered_export_file_falls_back_to_the_variants_recipients(published) -> None:  # type: ignore[no-untyped-def]
    w, exp = published
    victim = _drafts(w)[0]
    key = w.session.get(Variant, victim.variant_id).key
    sent_to = sorted(r["recipient_id"] for r in _exported(exp) if r["variant"] == key)
    Path(exp.jsonl_path).write_text("", encoding="utf-8")  # altered: its sha256 no longer matches
    withdraw(w.session, w.reviewer, victim.id, comment="Recalled after a complaint.")
    w.session.commit()
    (rec,) = w.session.exec(select(Recall)).all()
    (shipped,) = rec.payload["exports"]
    assert shipped["recipients_source"].startswith("campaign audience")
    assert set(sent_to) <= set(rec.payload["recipient_ids"])  # every recipient of the variant is listed


def test_recall_files_can_be_written_again_byte_for_byte(published) -> None:  # type: ignore[no-untyped-def]
    w, _ = published
    victim = _drafts(w)[0]
    withdraw(w.session, w.reviewer, victim.id, comment="Offer ended early.")
    w.session.commit()
    (rec,) = w.session.exec(select(Recall)).all()
    original = Path(rec.json_path).read_bytes()
    Path(rec.json_path).unlink()
    Path(rec.csv_path).unlink()
    with pytest.raises(PermissionDenied):
        rewrite_recall_files(w.session, w.marketer, rec.id)
    w.session.rollback()
    rewrite_recall_files(w.session, w.admin, rec.id)
    w.session.commit()
    assert Path(rec.json_path).read_bytes() == original and Path(rec.csv_path).is_file()
    assert w.session.exec(select(AuditEvent).where(AuditEvent.action == "recall_files_written")).one().entity_id == str(rec.id)


def test_m012_upgrades_a_database_built_without_it(engine: Engine, world, fake_filler, sign_all) -> None:  # type: ignore[no-untyped-def]
    """A database from before m012 (no draft.approved_at, no recall table) gains both; drafts
    approved before the upgrade get the time of their approval from the audit trail."""
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    sign_all(world)
    approved_when = {int(e.entity_id): e.ts for e in world.session.exec(select(AuditEvent).where(AuditEvent.action == "draft_approved")).all()}
    world.session.close()
    with engine.begin() as c:
        c.execute(text("DROP INDEX IF EXISTS ix_draft_approved_at"))
        c.execute(text("ALTER TABLE draft DROP COLUMN approved_at"))
        c.execute(text("DROP TABLE recall"))
        c.execute(text("DELETE FROM schema_migrations WHERE name = 'm012_approval_expiry_and_recalls'"))
    assert "approved_at" not in {col["name"] for col in inspect(engine).get_columns("draft")}

    assert db.migrate(engine) == ["m012_approval_expiry_and_recalls"]
    assert db.migrate(engine) == []
    insp = inspect(engine)
    assert insp.has_table("recall") and "approved_at" in {col["name"] for col in insp.get_columns("draft")}
    assert "ix_draft_approved_at" in {ix["name"] for ix in insp.get_indexes("draft")}
    with Session(engine) as s:
        drafts = s.exec(select(Draft)).all()
        assert drafts and {d.id for d in drafts if d.status == Status.APPROVED} == set(approved_when)
        for d in drafts:
            assert d.approved_at == approved_when[d.id]


class TestRace:
    """Two reviewers withdraw the same campaign at the same moment (threads, a SQLite file: each
    has its own connection, as two app processes would)."""

    @pytest.fixture
    def engine(self, tmp_path):  # type: ignore[no-untyped-def]
        eng = db.make_engine(f"sqlite:///{tmp_path / 'race.db'}")
        db.migrate(eng)
        yield eng
        eng.dispose()

    def test_two_campaign_withdrawals_at_once_recall_once(self, published) -> None:  # type: ignore[no-untyped-def]
        import threading

        from review.errors import CountersignError
        from review.models import User

        w, _ = published
        barrier = threading.Barrier(2)
        outcomes: list[tuple[str, str]] = []

        def racer(name: str) -> None:
            try:
                with session_scope(w.engine) as s:
                    who = s.exec(select(User).where(User.username == name)).one()
                    barrier.wait(timeout=30)
                    withdraw_campaign(s, who, w.campaign_id, f"Stop the mailing, says {name}.")
                outcomes.append(("ok", name))
            except CountersignError as e:
                outcomes.append(("refused", str(e)))

        threads = [threading.Thread(target=racer, args=(n,)) for n in ("rita", "rob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(o for o, _ in outcomes) == ["ok", "refused"], outcomes
        winner = next(who for o, who in outcomes if o == "ok")
        loser = next(msg for o, msg in outcomes if o == "refused")
        assert "has nothing to withdraw" in loser and f"was withdrawn by {winner} a moment ago" in loser
        with Session(w.engine) as s:
            (rec,) = s.exec(select(Recall)).all()
            assert rec.reason == f"Stop the mailing, says {winner}."
            assert len(s.exec(select(AuditEvent).where(AuditEvent.action == "campaign_recalled")).all()) == 1
        assert Path(rec.json_path).is_file()
