"""Offline verification of an examiner's record: no database, no settings, no network.

`verify_record(blob)` checks, from the file's bytes alone:

1. the archive is exactly the canonical packing of its members (review.record_pack), so any
   single changed byte anywhere fails; every member's SHA-256 and size match `index.json`, and
   `index.sha256` holds the index's digest (and, when given, the digest the examiner was sent);
2. the audit chain: each included event's hash recomputed from its content with the trail's
   own function (review.audit.event_hash), and the (seq, prev_hash, hash) links unbroken from
   the first included event to the last, through the events not included; checkpoints kept
   outside the database, when given, must lie on those links;
3. every signature: its manifest hashes to its manifest hash, the manifest is about the draft
   and revision it signs, and the `draft_signed` event in the chain names the same signer,
   printed name, meaning and manifest hash (the signature/record link of 21 CFR 11.70);
4. each draft's content hash recomputed from its slot texts and the template version, and the
   template version's source hashes to its content hash;
5. the exports: the included files match the hashes recorded at export and in the
   `campaign_published` event; each shipped message matches its export file's row;
6. the guideline files match their listed hashes, and each signature's brand.yaml hash is
   compared with the included brand.yaml (a difference was noted when recording, never hidden).

It cannot check the events' MACs: the audit key is not in the record (README).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .audit import GENESIS, event_hash
from .record_ai import message_marker, per_message, shipped_signed
from .record_pack import check_integrity, readme_text, sha256
from .signing import content_hash
from .templates import sha256_json


@dataclass
class VerifyReport:
    digest: str = ""
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = [f"record digest {self.digest or '(none)'}"]
        out += [f"  ok    {p}" for p in self.passed]
        out += [f"  FAIL  {f}" for f in self.failures]
        if self.notes:
            out.append(f"notes written into the record when it was made ({len(self.notes)}):")
            out += [f"  note  {n}" for n in self.notes]
        out.append("VERIFIED: every check passed" if self.ok else f"NOT VERIFIED: {len(self.failures)} check(s) failed")
        return out


class _Reader:
    def __init__(self, members: dict[str, bytes], report: VerifyReport):
        self.members, self.report = members, report

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.members[name].decode("utf-8"))
        except KeyError:
            self.report.failures.append(f"{name}: missing from the record")
        except (UnicodeDecodeError, ValueError) as e:
            self.report.failures.append(f"{name}: not valid JSON ({e})")
        return None

    def obj(self, name: str) -> dict[str, Any] | None:
        """A member holding one JSON object; anything else is a failure naming it."""
        failures = len(self.report.failures)
        data = self.json(name)
        if isinstance(data, dict):
            return data
        if len(self.report.failures) == failures:
            self.report.failures.append(f"{name}: not a JSON object")
        return None

    def jsonl(self, name: str) -> list[Any] | None:
        try:
            return [json.loads(line) for line in self.members[name].decode("utf-8").splitlines() if line.strip()]
        except KeyError:
            self.report.failures.append(f"{name}: missing from the record")
        except (UnicodeDecodeError, ValueError) as e:
            self.report.failures.append(f"{name}: not valid JSON lines ({e})")
        return None


def _brand_yaml_hash(raw: bytes) -> str:
    """The hash review.brands records for a brand.yaml: its UTF-8 text, a leading BOM dropped."""
    return sha256(raw.decode("utf-8-sig").encode("utf-8"))


def verify_record(blob: bytes, *, expected_digest: str | None = None, checkpoints: list[dict[str, Any]] | None = None) -> VerifyReport:
    report = VerifyReport()
    integrity = check_integrity(blob)
    report.digest = integrity.digest
    if integrity.problems:
        report.failures += integrity.problems
    else:
        report.passed.append(
            f"archive is the canonical packing of its {len(integrity.members)} members; {integrity.checked} SHA-256 and sizes match index.json"
        )
        report.passed.append("index.sha256 holds the digest of index.json")
    if expected_digest is not None:
        if expected_digest.strip().lower() == integrity.digest:
            report.passed.append("the digest is the one you expected")
        else:
            report.failures.append(f"digest: the record's digest {integrity.digest or '(none)'} is not the expected {expected_digest.strip()}")
    if not integrity.members:
        return report
    read = _Reader(integrity.members, report)
    summary = read.obj("record.json")
    if summary is None:
        return report
    notes = summary.get("notes")
    report.notes = [str(n) for n in notes] if isinstance(notes, list) else []
    _guard(report, "README.txt", lambda: _check_readme(integrity.members, summary, report))
    _guard(report, "audit chain", lambda: _check_chain(read, summary, report, checkpoints or []))
    events: dict[int, dict[str, Any]] = {}

    def index_events() -> None:
        for e in read.jsonl(summary["audit"]["events_member"]) or []:
            events[e["seq"]] = e

    _guard(report, "audit events", index_events)
    _guard(report, "template", lambda: _check_template(integrity.members, summary, report))
    _guard(report, "guidelines", lambda: _check_guidelines(integrity.members, summary, report))
    _guard(report, "drafts and signatures", lambda: _check_drafts(read, summary, events, report))
    _guard(report, "exports and messages", lambda: _check_exports(read, integrity.members, summary, events, report))
    return report


def _guard(report: VerifyReport, label: str, fn: Callable[[], str | None]) -> None:
    """Run one group of checks; a record too malformed to read fails the group, naming it."""
    before = len(report.failures)
    try:
        done = fn()
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        report.failures.append(f"{label}: the record's structure is not as expected ({type(e).__name__}: {e})")
        return
    if done and len(report.failures) == before:
        report.passed.append(done)


def _check_chain(read: _Reader, summary: dict[str, Any], report: VerifyReport, checkpoints: list[dict[str, Any]]) -> str | None:
    audit = summary["audit"]
    events = read.jsonl(audit["events_member"])
    links = read.jsonl(audit["chain_member"])
    if events is None or links is None:
        return None
    fails = report.failures
    if len(events) != audit["events"]:
        fails.append(f"audit: record.json counts {audit['events']} events, {audit['events_member']} holds {len(events)}")
    by_seq = {int(link["seq"]): link for link in links}
    for prev, link in zip(links, links[1:], strict=False):
        if link["seq"] != prev["seq"] + 1:
            fails.append(f"audit chain: event #{prev['seq'] + 1} is missing from the chain proof (next is #{link['seq']})")
        elif link["prev_hash"] != prev["hash"]:
            fails.append(f"audit chain: event #{link['seq']}'s prev_hash is not event #{prev['seq']}'s hash (the link is broken)")
    if links and links[0]["seq"] == 1 and links[0]["prev_hash"] != GENESIS:
        fails.append("audit chain: event #1 does not start from the genesis hash")
    if links and (links[0]["seq"] != audit["first_seq"] or links[-1]["seq"] != audit["last_seq"]):
        fails.append("audit chain: the proof does not span the events record.json names")
    for ev in events:
        seq = ev["seq"]
        recomputed = event_hash(
            ev["prev_hash"], seq, datetime.fromisoformat(ev["ts"]), ev["actor"], ev["action"], ev["entity"], ev["entity_id"], ev["before"], ev["after"]
        )
        if recomputed != ev["hash"]:
            fails.append(f"audit event #{seq} ({ev['action']}): its content does not match its hash")
        link = by_seq.get(seq)
        if link is None:
            fails.append(f"audit event #{seq}: not on the chain proof")
        elif (link["prev_hash"], link["hash"]) != (ev["prev_hash"], ev["hash"]):
            fails.append(f"audit event #{seq}: its hashes differ from its link in the chain proof")
    held = 0
    for cp in checkpoints:
        link = by_seq.get(int(cp["seq"]))
        if link is None:
            continue
        if link["hash"] != cp.get("hash"):
            fails.append(f"audit chain: event #{cp['seq']} differs from the checkpoint written {cp.get('written_at', '')}")
        held += 1
    span = f"#{links[0]['seq']}..#{links[-1]['seq']}" if links else "(empty)"
    cps = f"; {held} outside checkpoint(s) lie on it" if held else ("; no checkpoint given falls in its span" if checkpoints else "")
    return f"audit chain: {len(events)} included events recomputed, {len(links)} links {span} unbroken{cps} (MACs need the audit key: not checked)"


def _check_template(members: dict[str, bytes], summary: dict[str, Any], report: VerifyReport) -> str | None:
    t = summary["template"]
    source = members.get(t["member"])
    if source is None:
        report.failures.append(f"template: {t['member']} is missing")
    elif sha256(source) != t["content_hash"]:
        report.failures.append(f"template: the source in {t['member']} does not hash to the version's content hash")
    return f"template version {t['version_id']}: source hashes to its content hash"


def _check_guidelines(members: dict[str, bytes], summary: dict[str, Any], report: VerifyReport) -> str | None:
    g = summary["guidelines"]
    for f in g["files"]:
        data = members.get(f["member"])
        if data is None or sha256(data) != f["sha256"] or len(data) != f["size"]:
            report.failures.append(f"guidelines: {f['member']} is missing or does not match its listed hash")
    raw = members.get(g["brand_yaml_member"])
    if raw is None or _brand_yaml_hash(raw) != g["brand_yaml_sha256_now"]:
        report.failures.append("guidelines: the included brand.yaml does not hash to the brand.yaml hash recorded")
    return f"guidelines: {len(g['files'])} files match their hashes; brand.yaml hash recomputed"


def _check_drafts(read: _Reader, summary: dict[str, Any], events: dict[int, dict[str, Any]], report: VerifyReport) -> str | None:
    fails = report.failures
    tpl_hash = summary["template"]["content_hash"]
    yaml_now = summary["guidelines"]["brand_yaml_sha256_now"]
    n_sigs = 0
    for entry in summary["drafts"]:
        doc = read.obj(entry["member"])
        if doc is None:
            continue
        d = doc["draft"]
        where = f"draft {d['id']}"
        if d["template_hash"] != tpl_hash or content_hash(d["template_hash"], d["slots"]) != d["content_hash"]:
            fails.append(f"{where}: its slot texts and template do not hash to its content hash")
        for r in doc["revisions"]:
            if content_hash(d["template_hash"], r["slots"]) != r["content_hash"]:
                fails.append(f"{where}: revision {r['revision']}'s slot texts do not hash to its content hash")
        regen = doc["regenerate"]
        names = [s["slot"] for s in doc["ai_content"]["slots"]]
        marker = message_marker(names, d["slot_meta"], model_fingerprint=regen["model_fingerprint"], model_settings=regen["settings"])
        marker["human_reviewed"] = shipped_signed(d["revision"], [(sig["revision"], sig["valid"], sig["void_reason"]) for sig in doc["signatures"]])
        if sorted(names) != sorted(d["slots"]) or marker != doc["ai_content"]:
            fails.append(f"{where}: its AI-content marker does not follow from its slots' recorded sources")
        for sig in doc["signatures"]:
            n_sigs += 1
            _check_signature(sig, d, regen, yaml_now, events, fails)
    return f"{len(summary['drafts'])} drafts' content hashes recomputed; {n_sigs} signatures' manifest hashes recomputed and matched to their signing events"


_REGENERATE = ("model_fingerprint", "seed", "settings", "prompt_fingerprint")


def _check_signature(sig: dict[str, Any], d: dict[str, Any], regen: dict[str, Any], yaml_now: str, events: dict[int, dict[str, Any]], fails: list[str]) -> None:
    who = f"signature {sig['approval_id']} ({sig['printed_name']}) on draft {d['id']}"
    m = sig["manifest"]
    if sha256_json(m) != sig["manifest_hash"]:
        fails.append(f"{who}: its manifest does not hash to its manifest hash")
    if m.get("draft_id") != d["id"] or m.get("revision") != sig["revision"]:
        fails.append(f"{who}: its manifest is about another draft or revision")
    if sig["valid"] and sig["revision"] == d["revision"]:
        if m.get("content_hash") != d["content_hash"] or m.get("slots") != d["slots"] or m.get("slot_meta") != d["slot_meta"]:
            fails.append(f"{who}: a standing signature whose manifest covers other text or slot sources than the draft's")
        if any(m.get(k) != regen.get(k) for k in _REGENERATE):
            fails.append(f"{who}: its manifest names another model, seed, settings or prompt than the draft's regeneration inputs")
    if sig["brand_yaml_unchanged_since_signing"] != (sig["brand_yaml_sha256_at_signing"] == yaml_now == sig["brand_yaml_sha256_now"]):
        fails.append(f"{who}: says brand.yaml is {'un' if sig['brand_yaml_unchanged_since_signing'] else ''}changed, its hashes say otherwise")
    ev = events.get(sig["signing_event_seq"]) if sig["signing_event_seq"] is not None else None
    if ev is None:
        fails.append(f"{who}: its signing event is not in the record")
        return
    after = ev.get("after") or {}
    expected = {
        "action": (ev.get("action"), "draft_signed"),
        "draft": (ev.get("entity_id"), str(d["id"])),
        "approval id": (after.get("approval_id"), sig["approval_id"]),
        "signer": (ev.get("actor"), sig["signer"]["username"]),
        "printed name": (after.get("full_name"), sig["printed_name"]),
        "meaning": (after.get("meaning"), sig["meaning"]),
        "manifest hash": (after.get("manifest_hash"), sig["manifest_hash"]),
    }
    differ = [k for k, (a, b) in expected.items() if a != b]
    if differ:
        fails.append(f"{who}: its {', '.join(differ)} differ from the signing event #{ev['seq']}")


def _check_exports(read: _Reader, members: dict[str, bytes], summary: dict[str, Any], events: dict[int, dict[str, Any]], report: VerifyReport) -> str | None:
    fails = report.failures
    published = {(e.get("after") or {}).get("export_id"): e for e in events.values() if e.get("action") == "campaign_published"}
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for exp in summary["exports"]:
        ev = published.get(exp["export_id"])
        if ev is None:
            fails.append(f"export {exp['export_id']}: no campaign_published event in the record")
        elif (ev.get("after") or {}).get("jsonl_sha256") != exp["jsonl_sha256_recorded"]:
            fails.append(f"export {exp['export_id']}: the JSONL hash differs from the one its campaign_published event #{ev['seq']} recorded")
        for f in exp["files"]:
            if f["member"] is None:
                continue
            data = members.get(f["member"])
            if data is None or sha256(data) != f["sha256"]:
                fails.append(f"export {exp['export_id']}: {f['member']} is missing or does not match its listed hash")
            elif f["role"] == "messages_jsonl" and f["status"] == "included":
                if sha256(data) != exp["jsonl_sha256_recorded"]:
                    fails.append(f"export {exp['export_id']}: {f['member']} does not match the hash recorded at export")
                for line in data.decode("utf-8").splitlines():
                    row = json.loads(line)
                    rows[(exp["export_id"], str(row["recipient_id"]))] = row
    n = 0
    accounted: set[tuple[int, str]] = set()
    for entry in summary["drafts"]:
        doc = read.obj(entry["messages_member"])
        if doc is None:
            continue
        draft_doc = read.obj(entry["member"])
        if draft_doc is None:
            continue
        d = draft_doc["draft"]
        facts = {
            "draft": (doc["draft_id"], entry["draft_id"]),
            "variant id": (doc["variant"]["id"], d["variant_id"]),
            "revision": (doc["revision"], d["revision"]),
            "content hash": (doc["content_hash"], d["content_hash"]),
            "slot texts": (doc["slots"], d["slots"]),
            "AI-content marker": (doc["ai_content"], draft_doc["ai_content"]),
            "recipients": (doc["recipients"], [msg["recipient_id"] for msg in doc["messages"]]),
        }
        for sig in draft_doc["signatures"]:
            if sig["valid"] and sig["revision"] == d["revision"]:
                facts["variant key"] = (doc["variant"]["key"], sig["manifest"].get("variant_key"))
                facts["variant inputs"] = (doc["variant"]["inputs"], sig["manifest"].get("variant_inputs"))
        differ = [k for k, (a, b) in facts.items() if a != b]
        if differ:
            fails.append(f"{entry['messages_member']}: its {', '.join(differ)} differ from {entry['member']}")
        short = per_message(doc["ai_content"])
        for msg in doc["messages"]:
            n += 1
            if any(msg.get(k) != v for k, v in short.items()):
                fails.append(f"{entry['messages_member']}: the message to {msg['recipient_id']} carries another AI marker than its variant")
            if not msg["text_from"].startswith("export "):
                if rows:
                    fails.append(f"{entry['messages_member']}: the message to {msg['recipient_id']} is not taken from the intact export file the record holds")
                continue
            key = (int(msg["text_from"].split()[1]), msg["recipient_id"])
            row = rows.get(key)
            accounted.add(key)
            if row is None or any(row.get(k) != msg.get(k) for k in ("subject", "body", "channel", "content_hash")):
                fails.append(f"{entry['messages_member']}: the message to {msg['recipient_id']} is not the one in its export file")
    for export_id, recipient in sorted(set(rows) - accounted):
        fails.append(f"export {export_id}: the message to {recipient} is in the export file but in no variant's messages")
    return f"{len(summary['exports'])} export(s) match their recorded hashes and events; {n} shipped messages match their export rows"


def _check_readme(members: dict[str, bytes], summary: dict[str, Any], report: VerifyReport) -> str | None:
    if members.get("README.txt") != readme_text(summary):
        report.failures.append("README.txt: not the one record.json gives (it was edited)")
    return "README.txt is the one record.json gives"
