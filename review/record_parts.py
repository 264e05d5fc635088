"""The pieces of the examiner's record (review.record assembles them): plain dicts and bytes.

Every value is written so the same rows and files give the same bytes: times as UTC ISO 8601
with microseconds, lists in a fixed order, JSON with sorted keys.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from . import audit, record_ai
from .checks import Hold
from .models import Approval, AuditEvent, Comment, Draft, DraftRevision, Export, User, Variant
from .signing import content_hash
from .templates import TemplateSpec, sha256_json

_CHUNK = 500


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iso(ts: datetime | None) -> str | None:
    """UTC, microseconds: the form the audit chain hashes (some drivers hand back naive UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def jsonl_line(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class People:
    """username and full name by user id, looked up once each."""

    def __init__(self, session: Session):
        self.session = session
        self._seen: dict[int, dict[str, Any]] = {}

    def ref(self, user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        if user_id not in self._seen:
            u = self.session.get(User, user_id)
            self._seen[user_id] = {"user_id": user_id, "username": u.username, "full_name": u.full_name} if u else {"user_id": user_id, "missing": True}
        return self._seen[user_id]


# ----------------------------------------------------------------------------- files


def guideline_members(root: Path, slug: str) -> dict[str, bytes]:
    """Every regular file under brand_guidelines/<brand>/ and brand_guidelines/_base/ as it is now."""
    out: dict[str, bytes] = {}
    for folder in (slug, "_base"):
        base = Path(root) / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[f"guidelines/{folder}/{path.relative_to(base).as_posix()}"] = path.read_bytes()
    return out


def export_members(
    session: Session, exports: list[Export], people: People, members: dict[str, bytes], notes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(an entry per export, the shipped rows by recipient id read from the export files whose
    hash matches the one recorded at export). Adds each file found to `members`."""
    entries: list[dict[str, Any]] = []
    shipped: dict[str, dict[str, Any]] = {}
    for exp in exports:
        files = []
        for role, p in (("messages_jsonl", exp.jsonl_path), ("messages_csv", exp.csv_path), ("held_back_csv", exp.held_path)):
            if not p:
                continue
            path = Path(p)
            entry: dict[str, Any] = {"role": role, "file": path.name, "member": None, "sha256": None}
            if not path.is_file():
                entry["status"] = "missing"
                notes.append(f"export {exp.id}: {path.name} is no longer at {path}; the messages below are re-rendered, not read from it")
                files.append(entry)
                continue
            data = path.read_bytes()
            member = f"exports/export-{exp.id}/{path.name}"
            members[member] = data
            entry.update(member=member, sha256=sha256(data), status="included")
            if role == "messages_jsonl":
                if sha256(data) != exp.sha256:
                    entry["status"] = "differs from the hash recorded at export"
                    notes.append(f"export {exp.id}: {path.name} does not match the SHA-256 recorded when it was written (changed since)")
                else:
                    for line in data.decode("utf-8").splitlines():
                        row = json.loads(line)
                        shipped[str(row.get("recipient_id"))] = {**row, "export_id": exp.id}
            files.append(entry)
        entries.append(
            {
                "export_id": exp.id,
                "created_at": iso(exp.created_at),
                "created_by": people.ref(exp.created_by),
                "rows": exp.row_count,
                "held_back": exp.held_back,
                "jsonl_sha256_recorded": exp.sha256,
                "files": files,
            }
        )
    return entries, shipped


# ----------------------------------------------------------------------------- audit


def _events_of(session: Session, entity: str, ids: Iterable[Any]) -> list[AuditEvent]:
    keys = sorted({str(i) for i in ids})
    out: list[AuditEvent] = []
    for i in range(0, len(keys), _CHUNK):
        q = select(AuditEvent).where(AuditEvent.entity == entity, col(AuditEvent.entity_id).in_(keys[i : i + _CHUNK]))
        out += session.exec(q).all()
    return out


def audit_evidence(session: Session, wanted: Mapping[str, Iterable[Any]], notes: list[str]) -> tuple[list[AuditEvent], list[tuple[int, str, str]]]:
    """(the events about these entities, in order; (seq, prev_hash, hash) of every event from the
    first to the last of them). Checks, with the key, what an offline reader cannot: each MAC."""
    by_seq: dict[int, AuditEvent] = {}
    for entity, ids in wanted.items():
        for ev in _events_of(session, entity, ids):
            by_seq[ev.seq] = ev
    events = [by_seq[s] for s in sorted(by_seq)]
    if not events:
        return [], []
    rows = session.exec(
        select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(AuditEvent.seq >= events[0].seq, AuditEvent.seq <= events[-1].seq)
        .order_by(col(AuditEvent.seq))
    ).all()
    links = [(int(s), str(p), str(h)) for s, p, h in rows]
    for (a, _, h), (b, p, _) in zip(links, links[1:], strict=False):
        if b != a + 1 or p != h:
            notes.append(f"audit trail: the chain breaks between events #{a} and #{b} in the database")
    key = audit.audit_key(create=False)
    if key is None:
        notes.append("audit trail: no audit key was available while recording, so no event's MAC was checked")
    else:
        for ev in events:
            problem = audit.event_problem(ev, key)
            if problem:
                notes.append(f"audit trail: {problem}")
    return events, links


def event_dict(ev: AuditEvent) -> dict[str, Any]:
    """An event's full content: what its hash covers, its links, and its MAC (checked with the key only)."""
    return {
        "seq": ev.seq,
        "ts": iso(ev.ts),
        "actor": ev.actor,
        "action": ev.action,
        "entity": ev.entity,
        "entity_id": ev.entity_id,
        "before": ev.before,
        "after": ev.after,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
        "mac": ev.mac,
    }


def signing_events(events: list[AuditEvent]) -> dict[int, int]:
    """approval id -> seq of the `draft_signed` event that recorded it."""
    out: dict[int, int] = {}
    for ev in events:
        approval_id = (ev.after or {}).get("approval_id")
        if ev.action == "draft_signed" and isinstance(approval_id, int):
            out[approval_id] = ev.seq
    return out


# ----------------------------------------------------------------------------- drafts


def marker_for(spec: TemplateSpec, draft: Draft, *, signed: bool) -> dict[str, Any]:
    names = list(spec.slot_order) + [n for n in draft.slots if n not in spec.slot_order]
    marker = record_ai.message_marker(names, draft.slot_meta, model_fingerprint=draft.model_fingerprint, model_settings=draft.settings)
    marker["human_reviewed"] = signed
    return marker


def signature_dict(a: Approval, people: People, brand_yaml_now: str, signing_seq: int | None, notes: list[str]) -> dict[str, Any]:
    signer = people.ref(a.reviewer_id) or {}
    recomputed = sha256_json(a.manifest)
    at_signing = (a.manifest.get("policy") or {}).get("brand_yaml_sha256")
    if recomputed != a.manifest_hash:
        notes.append(f"signature {a.id} on draft {a.draft_id}: its manifest does not match its manifest hash")
    if at_signing != brand_yaml_now:
        notes.append(
            f"signature {a.id} on draft {a.draft_id} was given under another brand.yaml (SHA-256 {at_signing}) than the one in force now ({brand_yaml_now})"
        )
    if signing_seq is None:
        notes.append(f"signature {a.id} on draft {a.draft_id}: no draft_signed event in the audit trail records it")
    return {
        "approval_id": a.id,
        "draft_id": a.draft_id,
        "revision": a.revision,
        "step": getattr(a, "step", None),
        "signer": {"username": signer.get("username"), "full_name": signer.get("full_name")},
        "printed_name": a.full_name,
        "meaning": a.meaning,
        "signed_at": iso(a.signed_at),
        "manifest": a.manifest,
        "manifest_hash": a.manifest_hash,
        "acknowledged_warnings": a.acknowledged,
        "valid": a.valid,
        "voided_at": iso(a.voided_at),
        "void_reason": a.void_reason,
        "brand_yaml_sha256_at_signing": at_signing,
        "brand_yaml_sha256_now": brand_yaml_now,
        "brand_yaml_unchanged_since_signing": at_signing == brand_yaml_now,
        "signing_event_seq": signing_seq,
    }


def draft_dict(
    session: Session, d: Draft, template_hash: str, people: People, signatures: list[dict[str, Any]], marker: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    if content_hash(template_hash, d.slots) != d.content_hash:
        notes.append(f"draft {d.id}: its slot texts do not match its content hash")
    revisions = session.exec(select(DraftRevision).where(DraftRevision.draft_id == d.id).order_by(col(DraftRevision.revision))).all()
    comments = session.exec(select(Comment).where(Comment.draft_id == d.id).order_by(col(Comment.created_at), col(Comment.id))).all()
    per_slot = {n: {k: m[k] for k in ("source", "seed", "prompt_fingerprint", "candidates", "mode") if k in m} for n, m in sorted(d.slot_meta.items())}
    return {
        "draft": {
            "id": d.id,
            "campaign_id": d.campaign_id,
            "variant_id": d.variant_id,
            "status": d.status,
            "revision": d.revision,
            "slots": d.slots,
            "slot_meta": d.slot_meta,
            "content_hash": d.content_hash,
            "template_hash": template_hash,
            "author": people.ref(d.author_id),
            "created_at": iso(d.created_at),
            "updated_at": iso(d.updated_at),
        },
        "check_report": {"findings": d.findings, "errors": d.error_count, "warnings": d.warning_count, "fallbacks": d.fallback_count},
        "revisions": [
            {
                "revision": r.revision,
                "slots": r.slots,
                "findings": r.findings,
                "content_hash": r.content_hash,
                "edited_by": people.ref(r.edited_by),
                "note": r.note,
                "created_at": iso(r.created_at),
            }
            for r in revisions
        ],
        "comments": [{"kind": c.kind, "text": c.text, "revision": c.revision, "by": people.ref(c.user_id), "at": iso(c.created_at)} for c in comments],
        "signatures": signatures,
        "ai_content": marker,
        "regenerate": {
            "model_fingerprint": d.model_fingerprint,
            "seed": d.seed,
            "settings": d.settings,
            "prompt_fingerprint": d.prompt_fingerprint,
            "slots": per_slot,
            "command": f"python -m review regenerate {d.id} --verify --model <the model whose fingerprint is above>",
        },
    }


_COMPARED = ("channel", "subject", "body", "variant", "content_hash")


def variant_dict(
    variant: Variant,
    d: Draft,
    draft_member: str,
    marker: dict[str, Any],
    rendered: list[dict[str, Any]],
    holds: list[Hold],
    shipped: dict[str, dict[str, Any]],
    notes: list[str],
) -> dict[str, Any]:
    """What shipped to this variant's recipients: from the export file when it is intact, else
    re-rendered by the export's own code; each message says whether the two agree."""
    now = {r["recipient_id"]: r for r in rendered if r["variant"] == variant.key}
    sent = {rid: row for rid, row in shipped.items() if row.get("variant") == variant.key}
    short = record_ai.per_message(marker)
    messages = []
    for rid in sorted(set(sent) | (set(now) if not shipped else set()), key=_natural):
        row = sent.get(rid) or now[rid]
        again = now.get(rid)
        agrees = None if rid not in sent else (again is not None and all(again.get(k) == row.get(k) for k in _COMPARED))
        if agrees is False:
            notes.append(f"variant {variant.id}: the message to {rid} rendered now differs from the one exported (or is held back now)")
        messages.append(
            {
                "recipient_id": rid,
                "channel": row.get("channel"),
                "subject": row.get("subject"),
                "body": row.get("body"),
                "content_hash": row.get("content_hash"),
                "text_from": f"export {row['export_id']}" if rid in sent else "re-rendered (no intact export file)",
                "rendered_now_matches_export": agrees,
                **short,
            }
        )
    return {
        "variant": {"id": variant.id, "key": variant.key, "label": variant.label, "inputs": variant.inputs, "personalized": variant.personalized},
        "draft_id": d.id,
        "draft_member": draft_member,
        "revision": d.revision,
        "content_hash": d.content_hash,
        "slots": d.slots,
        "ai_content": marker,
        "recipients": [m["recipient_id"] for m in messages],
        "messages": messages,
        "held_back_now": sorted(
            ({"recipient_id": h.external_id, "reason": h.reason} for h in holds if h.variant_id == variant.id), key=lambda h: _natural(h["recipient_id"])
        ),
    }


def _natural(text: str) -> tuple[Any, ...]:
    """P2 before P10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))
