"""The examiner's record: everything about one published campaign, in one verifiable archive.

`write_record(session, campaign_id, out_dir)` gathers, from the database and the files, what an
examiner asks for (README, "The examiner's record"): every shipped message with its recipients
and its AI-content marker, the template version, the brand's guideline files in force, each
draft's check report, revisions, comments and signatures (manifest, hash, signer, meaning,
time), the audit events of the campaign with the chain proof, and what regenerates each draft.
Members are built here (review.record_parts), packed by review.record_pack, and checked offline
by review.record_verify.

The same database and files always give the same bytes: nothing in the record says when it was
written. What looks wrong while recording (an export file gone or changed, a signature whose
brand.yaml differs from today's, an event whose MAC does not verify) is written into the
record's `notes`, never left out.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from . import audit, record_ai, record_parts
from .brands import policy_for
from .campaigns import campaign_template, get_campaign
from .config import settings
from .errors import NotReady
from .export import rendered_messages
from .models import Approval, Brand, Campaign, Draft, Export, Recall, Status, Template, Variant, pk
from .record_pack import FORMAT, canonical, readme_text, seal

PUBLISHED_STATES = (Status.PUBLISHED, Status.WITHDRAWN)


@dataclass(frozen=True)
class RecordResult:
    path: Path
    digest: str
    members: int
    size: int
    notes: list[str]


def _require_published(session: Session, camp: Campaign) -> tuple[list[Draft], list[Export]]:
    drafts = list(session.exec(select(Draft).where(Draft.campaign_id == camp.id).order_by(col(Draft.id))).all())
    exports = list(session.exec(select(Export).where(Export.campaign_id == camp.id).order_by(col(Export.id))).all())
    if not exports or not drafts:
        counts: dict[str, int] = {}
        for d in drafts:
            counts[d.status] = counts.get(d.status, 0) + 1
        state = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no drafts yet"
        raise NotReady(f"campaign {camp.id} ('{camp.name}') is not published (no export; drafts: {state}): a record is written only for a published campaign")
    unshipped = [d for d in drafts if d.status not in PUBLISHED_STATES]
    if unshipped:
        d = unshipped[0]
        raise NotReady(
            f"campaign {camp.id} ('{camp.name}') has an export but draft {d.id} is {d.status}, not published: the record would not match what shipped"
        )
    return drafts, exports


def build_record(session: Session, campaign_id: int) -> tuple[dict[str, bytes], list[str]]:
    """(members by name, notes) of the record of a published campaign."""
    camp = get_campaign(session, campaign_id)
    drafts, exports = _require_published(session, camp)
    brand = session.get(Brand, camp.brand_id)
    assert brand is not None
    policy = policy_for(brand)
    spec, tv = campaign_template(session, camp)
    template = session.get(Template, tv.template_id)
    assert template is not None
    notes: list[str] = []
    members: dict[str, bytes] = {}
    people = record_parts.People(session)
    variants = {pk(v): v for v in session.exec(select(Variant).where(Variant.campaign_id == campaign_id)).all()}
    approvals = {
        pk(d): list(session.exec(select(Approval).where(Approval.draft_id == d.id).order_by(col(Approval.signed_at), col(Approval.id))).all()) for d in drafts
    }

    # the template version and the guideline files in force
    tmember = f"template/template-version-{tv.id}.j2"
    members[tmember] = tv.source.encode("utf-8")
    if spec.content_hash != tv.content_hash:
        notes.append(f"template version {tv.id}: its source no longer matches the content hash recorded when it was saved")
    guideline_files = record_parts.guideline_members(settings().guidelines_dir, brand.slug)
    members.update(guideline_files)

    # exports, exactly as written, beside the hashes recorded when they were written
    export_entries, shipped_rows = record_parts.export_members(session, exports, people, members, notes)
    rendered, holds = rendered_messages(session, campaign_id)

    # the audit events of the campaign, its drafts, signatures, template, audience, exports and recalls
    approval_ids = [pk(a) for rows in approvals.values() for a in rows]
    events, links = record_parts.audit_evidence(
        session,
        {
            "campaign": [campaign_id],
            "draft": [pk(d) for d in drafts],
            "approval": approval_ids,
            "template_version": [pk(tv)],
            "template": [pk(template)],
            "audience": [camp.audience_id],
            "export": [pk(e) for e in exports],
            "recall": list(session.exec(select(Recall.id).where(Recall.campaign_id == campaign_id)).all()),
        },
        notes,
    )
    members["audit/events.jsonl"] = b"".join(record_parts.jsonl_line(record_parts.event_dict(ev)) for ev in events)
    members["audit/chain.jsonl"] = b"".join(record_parts.jsonl_line({"seq": s, "prev_hash": p, "hash": h}) for s, p, h in links)
    signing_seq = record_parts.signing_events(events)

    # per draft: its check report, history and signatures; per variant: what shipped, to whom
    draft_entries = []
    for d in drafts:
        variant = variants[d.variant_id]
        marker = record_parts.marker_for(spec, d, signed=record_ai.shipped_signed(d.revision, [(a.revision, a.valid, a.void_reason) for a in approvals[pk(d)]]))
        sigs = [record_parts.signature_dict(a, people, policy.sha256, signing_seq.get(pk(a)), notes) for a in approvals[pk(d)]]
        dmember = f"drafts/draft-{d.id}.json"
        members[dmember] = canonical(record_parts.draft_dict(session, d, tv.content_hash, people, sigs, marker, notes))
        vmember = f"messages/variant-{variant.id}.json"
        members[vmember] = canonical(record_parts.variant_dict(variant, d, dmember, marker, rendered, holds, shipped_rows, notes))
        draft_entries.append(
            {"draft_id": d.id, "status": d.status, "revision": d.revision, "member": dmember, "messages_member": vmember, "signatures": len(sigs)}
        )

    summary: dict[str, Any] = {
        "format": FORMAT,
        "campaign": {
            "id": camp.id,
            "name": camp.name,
            "channel": camp.channel,
            "brand": {"slug": brand.slug, "name": policy.name, "industry": policy.industry},
            "created_by": people.ref(camp.created_by),
            "created_at": record_parts.iso(camp.created_at),
            "audience_id": camp.audience_id,
        },
        "template": {
            "template_id": template.id,
            "name": template.name,
            "version_id": tv.id,
            "version": tv.version,
            "content_hash": tv.content_hash,
            "member": tmember,
            "created_by": people.ref(tv.created_by),
            "created_at": record_parts.iso(tv.created_at),
        },
        "guidelines": {
            "brand_yaml_member": f"guidelines/{brand.slug}/brand.yaml",
            "brand_yaml_sha256_now": policy.sha256,
            "approvals_required_now": policy.approvals_required,
            "files": [{"member": n, "sha256": record_parts.sha256(b), "size": len(b)} for n, b in sorted(guideline_files.items())],
        },
        "exports": export_entries,
        "drafts": draft_entries,
        "audit": {
            "events_member": "audit/events.jsonl",
            "chain_member": "audit/chain.jsonl",
            "events": len(events),
            "first_seq": links[0][0] if links else None,
            "last_seq": links[-1][0] if links else None,
        },
        "notes": sorted(set(notes)),
    }
    members["record.json"] = canonical(summary)
    members["README.txt"] = readme_text(summary)
    return members, summary["notes"]


def write_record(session: Session, campaign_id: int, out_dir: Path | None = None) -> RecordResult:
    """Write the record of a published campaign into `out_dir` (default: <data dir>/records) as
    `campaign-<id>-record-<digest prefix>.zip`, and note its digest in the audit trail."""
    members, notes = build_record(session, campaign_id)
    blob, digest = seal(members)
    directory = Path(out_dir or settings().data_dir / "records")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"campaign-{campaign_id}-record-{digest[:16]}.zip"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".record-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    # Its own entity, never one a record includes: writing a record does not change the next one.
    audit.append(
        session,
        actor="system",
        action="record_written",
        entity="record",
        entity_id=f"campaign-{campaign_id}",
        after={"campaign_id": campaign_id, "digest": digest, "file": path.name, "members": len(members) + 2, "size": len(blob), "notes": len(notes)},
    )
    return RecordResult(path, digest, len(members) + 2, len(blob), notes)
