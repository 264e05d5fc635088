"""The examiner's record: written for a published campaign only, deterministic, and verified
offline so that any single changed byte, or a consistent-looking forgery, fails."""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import col, select

from review import audit
from review.auth import authenticate
from review.cli import cli
from review.errors import NotReady
from review.export import publish
from review.generation import generate_campaign
from review.models import Approval, AuditEvent, Draft
from review.record import build_record, write_record
from review.record_ai import COMPOSITE, HUMAN, HUMAN_EDITS, TRAINED
from review.record_pack import DIGEST, INDEX, check_integrity, pack, seal, unpack
from review.record_verify import verify_record


@pytest.fixture
def published(world, fake_filler, sign_all, tmp_path):  # type: ignore[no-untyped-def]
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    sign_all(world)
    authenticate(world.session, "admin", world.PASSWORDS["admin"])  # an event about no part of the campaign
    world.session.commit()
    exp = publish(world.session, world.marketer, world.campaign_id, tmp_path / "exports")
    world.session.commit()
    world.export = exp
    return world


@pytest.fixture
def record(published, tmp_path):  # type: ignore[no-untyped-def]
    result = write_record(published.session, published.campaign_id, tmp_path / "records")
    published.session.commit()
    return result


def members_of(path: Path) -> dict[str, bytes]:
    return unpack(path.read_bytes())


def doc(members: dict[str, bytes], name: str):  # type: ignore[no-untyped-def]
    return json.loads(members[name])


def test_record_verifies_and_any_zip_tool_reads_it(record) -> None:  # type: ignore[no-untyped-def]
    blob = record.path.read_bytes()
    report = verify_record(blob)
    assert report.ok, report.failures
    assert report.digest == record.digest
    with zipfile.ZipFile(io.BytesIO(blob)) as z:  # a standard reader agrees, CRCs included
        assert z.testzip() is None
        names = z.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
        assert z.read(DIGEST).decode().split()[0] == record.digest
    assert verify_record(blob, expected_digest=record.digest).ok
    wrong = verify_record(blob, expected_digest="0" * 64)
    assert not wrong.ok and any("expected" in f for f in wrong.failures)


def test_the_same_state_gives_the_same_bytes(published, record, tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = write_record(published.session, published.campaign_id, tmp_path / "again")
    published.session.commit()
    assert again.path.read_bytes() == record.path.read_bytes()
    # the record's writing is on the audit trail, under an entity no record includes
    written = published.session.exec(select(AuditEvent).where(AuditEvent.action == "record_written")).all()
    assert [e.after["digest"] for e in written] == [record.digest, record.digest]
    assert audit.verify_chain(published.session).ok


def test_record_contents(published, record) -> None:  # type: ignore[no-untyped-def]
    w = published
    m = members_of(record.path)
    summary = doc(m, "record.json")
    drafts = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).all()
    assert [d["draft_id"] for d in summary["drafts"]] == [d.id for d in drafts]
    assert summary["notes"] == []
    # template source and its hash
    t = summary["template"]
    assert m[t["member"]].decode() == (Path(__file__).parent / "fixtures" / "templates" / "acme-newsletter.j2").read_text()
    # guideline files in force, brand.yaml hash per signature
    assert "guidelines/acme-pharma/brand.yaml" in m and summary["guidelines"]["files"]
    # the export file exactly as written, its hash as recorded
    [exp] = summary["exports"]
    jsonl = next(f for f in exp["files"] if f["role"] == "messages_jsonl")
    assert jsonl["status"] == "included" and jsonl["sha256"] == w.export.sha256 == exp["jsonl_sha256_recorded"]
    assert m[jsonl["member"]] == Path(w.export.jsonl_path).read_bytes()
    shipped = [json.loads(line) for line in m[jsonl["member"]].decode().splitlines()]
    # every shipped message, grouped by variant, with its recipients and AI marker
    seen = []
    for entry in summary["drafts"]:
        v = doc(m, entry["messages_member"])
        d = doc(m, entry["member"])
        assert v["draft_id"] == d["draft"]["id"] and v["recipients"] == [x["recipient_id"] for x in v["messages"]]
        for msg in v["messages"]:
            row = next(r for r in shipped if r["recipient_id"] == msg["recipient_id"])
            assert (msg["subject"], msg["body"]) == (row["subject"], row["body"])
            assert msg["rendered_now_matches_export"] is True
            assert msg["ai_generated"] == v["ai_content"]["ai_generated"]
            seen.append(msg["recipient_id"])
        marker = d["ai_content"]
        sources = {n: meta["source"] for n, meta in d["draft"]["slot_meta"].items()}
        assert marker["model_written_slots"] == sorted(n for n, s in sources.items() if s == "model") or set(marker["model_written_slots"]) == {
            n for n, s in sources.items() if s == "model"
        }
        assert marker["ai_generated"] == any(s == "model" for s in sources.values())
        assert marker["digital_source_type"] == (COMPOSITE if marker["ai_generated"] else HUMAN)
        for s in marker["slots"]:
            assert s["digital_source_type"] == (TRAINED if sources[s["slot"]] == "model" else HUMAN)
        # check report, revisions, signatures with manifest and signer, regeneration inputs
        assert d["check_report"]["findings"] == next(x.findings for x in drafts if x.id == d["draft"]["id"])
        assert [r["revision"] for r in d["revisions"]] == list(range(1, d["draft"]["revision"] + 1))
        sigs = d["signatures"]
        assert {s["signer"]["username"] for s in sigs} == {"rita", "rob"}
        assert {s["printed_name"] for s in sigs} == {"Rita Reviewer", "Rob Reviewer"}
        for s in sigs:
            assert s["meaning"] and s["signed_at"] and s["signing_event_seq"] and s["brand_yaml_unchanged_since_signing"] is True
            assert s["manifest"]["draft_id"] == d["draft"]["id"] and "step" in s
        assert d["regenerate"]["model_fingerprint"] and "seed" in d["regenerate"]
    assert sorted(seen) == sorted(r["recipient_id"] for r in shipped)
    assert any(doc(m, e["member"])["ai_content"]["ai_generated"] for e in summary["drafts"])
    # audit: events of the campaign and every draft, the chain proof spans them
    events = [json.loads(line) for line in m["audit/events.jsonl"].decode().splitlines()]
    chain = [json.loads(line) for line in m["audit/chain.jsonl"].decode().splitlines()]
    actions = {e["action"] for e in events}
    assert {"campaign_created", "draft_signed", "draft_approved", "draft_published", "campaign_published"} <= actions
    assert [c["seq"] for c in chain] == list(range(events[0]["seq"], events[-1]["seq"] + 1))
    assert len(chain) > len(events)  # the admin's login sits in between: linked, not included
    assert "login" not in actions


def _header_fields(blob: bytes, members: dict[str, bytes]) -> tuple[set[int], list[int]]:
    """(every byte of every ZIP header, name and end record; one byte in each header field)."""
    every: set[int] = set()
    one_per_field: list[int] = []
    local_fields = (4, 2, 2, 2, 2, 2, 4, 4, 4, 2, 2)
    central_fields = (4, 2, 2, 2, 2, 2, 2, 4, 4, 4, 2, 2, 2, 2, 2, 4, 4)
    end_fields = (4, 2, 2, 2, 2, 4, 4, 2)

    def walk(start: int, widths: tuple[int, ...], name_len: int) -> int:
        at = start
        for width in widths:
            one_per_field.append(at + width - 1)
            at += width
        if name_len:
            one_per_field.extend((at, at + name_len - 1))
        every.update(range(start, at + name_len))
        return at + name_len

    offset = 0
    for name in sorted(members):
        offset = walk(offset, local_fields, len(name.encode())) + len(members[name])
    for name in sorted(members):
        offset = walk(offset, central_fields, len(name.encode()))
    walk(offset, end_fields, 0)
    assert offset + 22 == len(blob)
    return every, one_per_field


def test_any_single_changed_byte_fails(record) -> None:  # type: ignore[no-untyped-def]
    blob = record.path.read_bytes()
    members = unpack(blob)
    every, per_field = _header_fields(blob, members)
    # Every byte of every header, name and the end record, each bit pattern below, fails the
    # byte-level check verify_record starts with (fast enough to try them all) ...
    for pos in sorted(every):
        for flip in (0x01, 0x80):
            bad = bytearray(blob)
            bad[pos] ^= flip
            assert check_integrity(bytes(bad)).problems, f"flipping {flip:#x} at header byte {pos} went unnoticed"
    # ... and the whole verification fails for one byte in each header field and a few
    # hundred positions anywhere (members' contents included), each named in the report.
    rng = random.Random(14)
    sampled = sorted(set(per_field) | set(rng.sample(range(len(blob)), min(300, len(blob)))))
    for pos in sampled:
        bad = bytearray(blob)
        bad[pos] ^= 1 << (pos % 8)
        report = verify_record(bytes(bad))
        assert not report.ok and report.failures, f"changing byte {pos} went unnoticed"
    assert not verify_record(blob + b"\0").ok
    assert not verify_record(blob[:-1]).ok
    assert not verify_record(b"").ok


def test_a_consistent_forgery_fails_on_the_manifest_or_the_chain(record) -> None:  # type: ignore[no-untyped-def]
    members = members_of(record.path)
    content = {n: b for n, b in members.items() if n not in (INDEX, DIGEST)}
    summary = json.loads(content["record.json"])
    name = summary["drafts"][0]["member"]
    d = json.loads(content[name])
    sig = d["signatures"][0]

    def forged(change) -> bytes:  # type: ignore[no-untyped-def]
        copy = json.loads(json.dumps(d))
        change(copy)
        blob, _ = seal({**content, name: json.dumps(copy).encode()})
        return blob

    # 1. the manifest edited, its hash left: the manifest hash no longer matches
    def edit_manifest(x):  # type: ignore[no-untyped-def]
        x["signatures"][0]["manifest"]["slots"] = {k: "Guaranteed cure." for k in sig["manifest"]["slots"]}

    report = verify_record(forged(edit_manifest))
    assert not report.ok and any("does not hash to its manifest hash" in f for f in report.failures), report.failures

    # 2. the manifest and its hash both recomputed: the signing event in the chain disagrees
    from review.templates import sha256_json

    def edit_both(x):  # type: ignore[no-untyped-def]
        edit_manifest(x)
        x["signatures"][0]["manifest_hash"] = sha256_json(x["signatures"][0]["manifest"])

    report = verify_record(forged(edit_both))
    assert not report.ok and any("manifest hash differ from the signing event" in f for f in report.failures), report.failures

    # 3. ... and the signing event rewritten to match: its hash no longer matches its content
    events = content["audit/events.jsonl"].decode().splitlines()
    fixed = []
    for line in events:
        ev = json.loads(line)
        if ev["seq"] == sig["signing_event_seq"]:
            copy = json.loads(json.dumps(d))
            edit_both(copy)
            ev["after"]["manifest_hash"] = copy["signatures"][0]["manifest_hash"]
        fixed.append(json.dumps(ev))
    copy = json.loads(json.dumps(d))
    edit_both(copy)
    blob, _ = seal({**content, name: json.dumps(copy).encode(), "audit/events.jsonl": ("\n".join(fixed) + "\n").encode()})
    report = verify_record(blob)
    assert not report.ok and any(f"audit event #{sig['signing_event_seq']}" in f and "does not match its hash" in f for f in report.failures), report.failures

    # 4. an event dropped from the chain proof: the link is broken
    chain = content["audit/chain.jsonl"].decode().splitlines()
    blob, _ = seal({**content, "audit/chain.jsonl": ("\n".join(chain[:1] + chain[2:]) + "\n").encode()})
    report = verify_record(blob)
    assert not report.ok and any("missing from the chain proof" in f for f in report.failures), report.failures


def test_unpublished_campaign_is_refused(world, fake_filler, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotReady, match="is not published"):
        build_record(world.session, world.campaign_id)
    generate_campaign(world.engine, world.marketer, world.campaign_id, fake_filler)
    world.session.expire_all()
    sign_all(world)
    with pytest.raises(NotReady, match=r"not published \(no export; drafts: \d+ approved\)"):
        write_record(world.session, world.campaign_id, tmp_path)
    assert not list(tmp_path.glob("*.zip"))


def test_a_changed_brand_yaml_and_a_lost_export_are_noted_not_hidden(published, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from review.brands import policy_for

    guidelines = tmp_path / "guidelines"
    shutil.copytree(Path(__file__).parent / "fixtures" / "brands", guidelines)
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(guidelines))
    (guidelines / "_base" / "vocab").mkdir(parents=True)
    (guidelines / "_base" / "vocab" / "accept.txt").write_text("Acme\n")
    brand_yaml = guidelines / "acme-pharma" / "brand.yaml"
    brand_yaml.write_text(brand_yaml.read_text() + "\n# tightened after signing\n")
    Path(published.export.jsonl_path).unlink()
    result = write_record(published.session, published.campaign_id, tmp_path / "records")
    assert any("another brand.yaml" in n for n in result.notes)
    assert any("no longer at" in n for n in result.notes)
    m = members_of(result.path)
    assert m["guidelines/_base/vocab/accept.txt"] == b"Acme\n" and m["guidelines/acme-pharma/brand.yaml"] == brand_yaml.read_bytes()
    listed = {f["member"] for f in doc(m, "record.json")["guidelines"]["files"]}
    assert listed == {n for n in m if n.startswith("guidelines/")}
    d = doc(m, doc(m, "record.json")["drafts"][0]["member"])
    assert {s["brand_yaml_unchanged_since_signing"] for s in d["signatures"]} == {False}
    assert {s["brand_yaml_sha256_now"] for s in d["signatures"]} == {policy_for("acme-pharma").sha256}
    v = doc(m, doc(m, "record.json")["drafts"][0]["messages_member"])
    assert v["messages"] and {x["text_from"] for x in v["messages"]} == {"re-rendered (no intact export file)"}
    report = verify_record(result.path.read_bytes())
    assert report.ok, report.failures  # the record is faithful; what it found is in its notes
    assert any("another brand.yaml" in n for n in report.notes)


def test_cli_record_then_verify_without_any_database(published, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    from sqlalchemy import create_engine

    if published.engine.dialect.name == "sqlite":
        # the in-memory world is invisible to the CLI's own engine: copy it into a file database
        target = create_engine(f"sqlite:///{db}")
        raw = published.engine.raw_connection()
        dest = target.raw_connection()
        raw.driver_connection.backup(dest.driver_connection)  # type: ignore[union-attr]
        dest.close()
        raw.close()
        url = f"sqlite:///{db}"
    else:  # a server database: the CLI opens the same one, in the test's own schema
        from sqlalchemy import text

        published.session.commit()
        schema = published.session.connection().execute(text("select current_schema()")).scalar_one()
        published.session.commit()
        url = published.engine.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", url)
    runner = CliRunner()
    out = runner.invoke(cli, ["record", str(published.campaign_id), "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    [path] = list((tmp_path / "out").glob("campaign-*-record-*.zip"))
    digest = out.output.split("record digest (SHA-256 of index.json): ")[1].split()[0]
    refused = runner.invoke(cli, ["record", "999"], catch_exceptions=False)
    assert refused.exit_code == 1 and "campaign 999 not found" in refused.output and "Traceback" not in refused.output

    # verification touches no database: none configured that could open, and opening one fails loudly
    import review.db

    def no_db(*a, **kw):  # type: ignore[no-untyped-def]
        raise AssertionError("verify-record opened a database")

    monkeypatch.setattr(review.db, "make_engine", no_db)
    monkeypatch.setenv("COUNTERSIGN_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    monkeypatch.delenv("COUNTERSIGN_AUDIT_KEY", raising=False)
    monkeypatch.setenv("COUNTERSIGN_DATA_DIR", str(tmp_path / "missing"))
    ok = runner.invoke(cli, ["verify-record", str(path), "--digest", digest], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert "VERIFIED: every check passed" in ok.output and "FAIL" not in ok.output
    assert not (tmp_path / "missing").exists()
    bad = tmp_path / "bad.zip"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x20
    bad.write_bytes(bytes(blob))
    failed = runner.invoke(cli, ["verify-record", str(bad)], catch_exceptions=False)
    assert failed.exit_code == 1 and "NOT VERIFIED" in failed.output and "FAIL" in failed.output


def test_checkpoints_outside_the_database_must_lie_on_the_chain_proof(published, record, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from review.audit import current_checkpoint, read_checkpoints, write_checkpoint

    m = members_of(record.path)
    chain = [json.loads(line) for line in m["audit/chain.jsonl"].decode().splitlines()]
    published_seq = max(json.loads(line)["seq"] for line in m["audit/events.jsonl"].decode().splitlines())
    ev = published.session.exec(select(AuditEvent).where(AuditEvent.seq == published_seq)).one()
    good = tmp_path / "cp.jsonl"
    write_checkpoint({"seq": ev.seq, "hash": ev.hash, "mac": ev.mac, "written_at": "t"}, good)
    report = verify_record(record.path.read_bytes(), checkpoints=read_checkpoints(good))
    assert report.ok and any("1 outside checkpoint(s) lie on it" in p for p in report.passed)
    forged = tmp_path / "forged.jsonl"
    write_checkpoint({"seq": chain[1]["seq"], "hash": "f" * 64, "written_at": "t"}, forged)
    report = verify_record(record.path.read_bytes(), checkpoints=read_checkpoints(forged))
    assert not report.ok and any("differs from the checkpoint" in f for f in report.failures)
    assert current_checkpoint(published.session)["seq"] > published_seq


def test_a_voided_signature_is_kept_and_marked(world, fake_filler, sign_all, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from review.checks import warning_ids
    from review.workflow import SIGNATURE_MEANINGS, approve, edit_draft, request_changes, submit_for_review

    w = world
    generate_campaign(w.engine, w.marketer, w.campaign_id, fake_filler)
    w.session.expire_all()
    first = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).first()
    submit_for_review(w.session, w.marketer, first.id)
    approve(
        w.session,
        w.reviewer,
        first.id,
        password=w.PASSWORDS["rita"],
        meaning=SIGNATURE_MEANINGS[1],
        acknowledged=warning_ids(first.findings),
        expected_content_hash=first.content_hash,
    )
    request_changes(w.session, w.reviewer2, first.id, comment="Please soften the closing.")
    w.session.commit()
    edit_draft(w.session, w.marketer, first.id, slots={"closing": "With warm wishes from all of us at Acme."})
    w.session.commit()
    sign_all(w)
    publish(w.session, w.marketer, w.campaign_id, tmp_path / "exports")
    w.session.commit()
    result = write_record(w.session, w.campaign_id, tmp_path / "records")
    m = members_of(result.path)
    d = doc(m, f"drafts/draft-{first.id}.json")
    voided = [s for s in d["signatures"] if not s["valid"]]
    assert len(voided) == 1 and voided[0]["void_reason"] == "changes requested" and voided[0]["meaning"] == SIGNATURE_MEANINGS[1]
    assert [c["kind"] for c in d["comments"]] == ["request_changes"] and d["comments"][0]["by"]["username"] == "rob"
    events = [json.loads(line) for line in m["audit/events.jsonl"].decode().splitlines()]
    assert any(e["action"] == "approval_voided" and e["entity_id"] == str(voided[0]["approval_id"]) for e in events)
    assert [r["revision"] for r in d["revisions"]] == [1, 2] and d["revisions"][1]["edited_by"]["username"] == "maria"
    closing = next(s for s in d["ai_content"]["slots"] if s["slot"] == "closing")
    assert closing["source"] == "edited" and closing["digital_source_type"] == HUMAN_EDITS and closing["model_written"] is False
    assert "closing" not in d["ai_content"]["model_written_slots"]
    assert verify_record(result.path.read_bytes()).ok
    assert len(w.session.exec(select(Approval).where(Approval.draft_id == first.id)).all()) == len(d["signatures"])


def test_pack_is_canonical() -> None:
    a = pack({"b.txt": b"2", "a/x.json": b"{}"})
    assert a == pack({"a/x.json": b"{}", "b.txt": b"2"})
    assert unpack(a) == {"a/x.json": b"{}", "b.txt": b"2"}
    with pytest.raises(ValueError, match="reserved"):
        seal({INDEX: b"x"})
    with pytest.raises(ValueError, match="'..'"):
        seal({"../evil": b"x"})


CHECKED = ("record.json", "README.txt", "audit/events.jsonl", "audit/chain.jsonl")


def test_a_resealed_record_with_any_checked_member_replaced_fails_without_a_traceback(record) -> None:  # type: ignore[no-untyped-def]
    """Someone who re-seals the archive (new index, new digest) still fails on what ties the
    members together; malformed JSON of any shape is a named failure, never an exception."""
    members = members_of(record.path)
    content = {n: b for n, b in members.items() if n not in (INDEX, DIGEST)}
    summary = json.loads(content["record.json"])
    targets = [*CHECKED, summary["template"]["member"], summary["drafts"][0]["member"], summary["drafts"][0]["messages_member"]]
    targets.append(next(f["member"] for f in summary["exports"][0]["files"] if f["role"] == "messages_jsonl"))
    shapes = [b"", b"[]", b"{}", b"null", b'"text"', b'{"seq": 1}\n', b'{"draft": [], "messages": 5, "audit": 3}', b"\xff\xfe"]
    for name in targets:
        for shape in shapes:
            blob, digest = seal({**content, name: shape})
            report = verify_record(blob)
            assert not report.ok, f"{name} replaced by {shape!r} went unnoticed"
            assert report.digest == digest
    # Members whose every byte is hashed or derived: one changed character anywhere, re-sealed, fails.
    for name in ("README.txt", "audit/chain.jsonl", summary["template"]["member"], targets[-1]):
        original = content[name]
        for i in sorted({0, len(original) // 3, len(original) // 2, len(original) - 2}):
            changed = original[:i] + (b"X" if original[i : i + 1] != b"X" else b"Y") + original[i + 1 :]
            blob, _ = seal({**content, name: changed})
            assert not verify_record(blob).ok, f"a changed byte at {i} in {name} went unnoticed after re-sealing"
    # Within events, every field the hash covers (all but the MAC, which needs the key).
    lines = content["audit/events.jsonl"].decode().splitlines()
    for field in ("ts", "actor", "action", "entity", "entity_id", "before", "after", "prev_hash", "hash", "seq"):
        ev = json.loads(lines[1])
        ev[field] = (
            {"x": 1} if field in ("before", "after") else (ev[field] + 1 if field == "seq" else ev[field][:-1] + ("0" if ev[field][-1:] != "0" else "1"))
        )
        blob, _ = seal({**content, "audit/events.jsonl": "\n".join([lines[0], json.dumps(ev), *lines[2:]]).encode() + b"\n"})
        assert not verify_record(blob).ok, f"event field {field} changed unnoticed"
    # In the messages and drafts: a message's text, a slot's source, a signer, a marker.
    variant_member = summary["drafts"][0]["messages_member"]
    draft_member = summary["drafts"][0]["member"]
    edits = {
        "a message body": (variant_member, lambda v: v["messages"][0].update(body=v["messages"][0]["body"] + " Guaranteed.")),
        "a message passed off as re-rendered": (
            variant_member,
            lambda v: v["messages"][0].update(body="Other.", text_from="re-rendered (no intact export file)"),
        ),
        "a message left out": (variant_member, lambda v: (v["messages"].pop(), v["recipients"].pop())),
        "a recipient": (variant_member, lambda v: v["recipients"].append("P99")),
        "the AI marker": (variant_member, lambda v: v["ai_content"].update(ai_generated=not v["ai_content"]["ai_generated"])),
        "a message's marker": (variant_member, lambda v: v["messages"][0].update(ai_generated=not v["messages"][0]["ai_generated"])),
        "the variant inputs": (variant_member, lambda v: v["variant"]["inputs"].update(city="Atlantis")),
        "a slot source": (draft_member, lambda d: next(iter(d["draft"]["slot_meta"].values())).update(source="fallback")),
        "a signer": (draft_member, lambda d: d["signatures"][0]["signer"].update(username="mallory")),
        "a meaning": (draft_member, lambda d: d["signatures"][0].update(meaning="Approved for use (not really)")),
        "the seed": (draft_member, lambda d: d["regenerate"].update(seed=d["regenerate"]["seed"] + 1)),
        "a revision's text": (draft_member, lambda d: d["revisions"][0]["slots"].update(greeting="Other text.")),
    }
    for what, (name, edit) in edits.items():
        data = json.loads(content[name])
        edit(data)
        blob, _ = seal({**content, name: json.dumps(data).encode()})
        assert not verify_record(blob).ok, f"{what} changed unnoticed"
    # an index of the wrong shape, sealed by hand
    bad_index = b'{"format": "countersign-record/1", "members": [["a", 1]]}\n'
    blob = pack({**content, INDEX: bad_index, DIGEST: f"{__import__('hashlib').sha256(bad_index).hexdigest()}  index.json\n".encode()})
    report = verify_record(blob)
    assert not report.ok and any("not a valid index" in f for f in report.failures)


def test_a_campaign_withdrawn_after_publication_keeps_its_evidence(published, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from review.workflow import withdraw

    w = published
    first = w.session.exec(select(Draft).where(Draft.campaign_id == w.campaign_id).order_by(col(Draft.id))).first()
    withdraw(w.session, w.reviewer, first.id, comment="Recalled: the offer ended.")
    w.session.commit()
    result = write_record(w.session, w.campaign_id, tmp_path / "records")
    m = members_of(result.path)
    d = doc(m, f"drafts/draft-{first.id}.json")
    assert d["draft"]["status"] == "withdrawn"
    assert {s["void_reason"] for s in d["signatures"]} == {"withdrawn"} and d["ai_content"]["human_reviewed"] is True
    assert [c["kind"] for c in d["comments"]] == ["withdraw"]
    events = [json.loads(line) for line in m["audit/events.jsonl"].decode().splitlines()]
    assert any(e["action"] == "draft_withdrawn" and e["entity_id"] == str(first.id) for e in events)
    report = verify_record(result.path.read_bytes())
    assert report.ok, report.failures
