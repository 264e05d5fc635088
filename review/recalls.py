"""Withdrawal reaches downstream: a recall for every withdrawn piece of published content.

When a published draft is withdrawn (workflow.withdraw) or a whole campaign is
(`withdraw_campaign`), the systems that took its export must stop using it. A recall names:
the campaign, each export that contained the withdrawn content (id and sha256 of its JSONL), the
drafts and their variant keys, the recipients who were sent it (their external ids, read from the
export file itself when its sha256 still matches, else every recipient of those variants), the
reason, who and when.

It is recorded three ways, all in the withdrawal's own transaction: a `recall` row (its
`payload` is the JSON file's content, so an API can serve it), an audit event
(`draft_recalled` / `campaign_recalled`, with the file's sha256) and, once the transaction has
committed, two files in the export folder, `campaign-<id>-recall-<n>.json` and `.csv`, each
written atomically (review.db.after_outcome: a rolled-back withdrawal writes nothing). Should
writing fail after the commit, the caller hears it naming the file, and `rewrite_recall_files`
(the Exports page's button) writes them again from the row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from . import audit
from .auth import require_role
from .config import settings
from .db import after_outcome
from .errors import ConfigError, InvalidInput, InvalidTransition, NotFound
from .locks import lock_campaign, lock_campaign_drafts, lock_one
from .models import (
    AuditEvent,
    Brand,
    Campaign,
    CampaignRecipient,
    Comment,
    Draft,
    Export,
    Recall,
    RecallScope,
    Recipient,
    Role,
    Status,
    User,
    Variant,
    pk,
    utcnow,
)
from .transitions import last_change, transition, void_approvals

log = logging.getLogger(__name__)
S = Status
CSV_COLUMNS = [
    "recall_id",
    "campaign_id",
    "campaign",
    "export_id",
    "export_sha256",
    "draft_id",
    "variant",
    "recipient_id",
    "reason",
    "recalled_by",
    "recalled_at",
]


# ------------------------------------------------------------------ what went out


def _export_ids(session: Session, camp: Campaign, drafts: list[Draft]) -> list[int]:
    """The exports that published these drafts (their `draft_published` audit events name the
    export); every export of the campaign when none is recorded."""
    ids: set[int] = set()
    names = [str(pk(d)) for d in drafts]
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "draft_published", AuditEvent.entity == "draft", col(AuditEvent.entity_id).in_(names))
    ).all()
    for ev in events:
        export_id = (ev.after or {}).get("export_id")
        if isinstance(export_id, int):
            ids.add(export_id)
    if not ids:
        ids = {i for i in session.exec(select(Export.id).where(Export.campaign_id == camp.id)).all() if i is not None}
    return sorted(ids)


def _sent_from_file(exp: Export, keys: set[str]) -> list[dict[str, str]] | None:
    """(recipient, variant) of each row of the export's JSONL with one of these variant keys;
    None when the file is missing or no longer the one exported (its sha256 differs)."""
    try:
        data = Path(exp.jsonl_path).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != exp.sha256:
        return None
    out = []
    for line in data.decode("utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("variant") in keys:
            out.append({"recipient_id": str(rec.get("recipient_id")), "variant": str(rec["variant"])})
    return out


def _audience_of(session: Session, camp: Campaign, variant_ids: list[int]) -> list[dict[str, str]]:
    """Every recipient of these variants (when the export file cannot tell who was sent what)."""
    rows = session.exec(
        select(Recipient.external_id, Variant.key)
        .join(CampaignRecipient, col(CampaignRecipient.recipient_id) == col(Recipient.id))
        .join(Variant, col(Variant.id) == col(CampaignRecipient.variant_id))
        .where(CampaignRecipient.campaign_id == camp.id, col(CampaignRecipient.variant_id).in_(variant_ids))
        .order_by(col(Recipient.external_id))
    ).all()
    return [{"recipient_id": ext, "variant": key} for ext, key in rows]


def _payload(session: Session, actor: User, camp: Campaign, drafts: list[Draft], reason: str, scope: str, recall_id: int) -> dict[str, Any]:
    key_of: dict[int, str] = {}
    for d in drafts:
        variant = session.get(Variant, d.variant_id)
        key_of[d.variant_id] = variant.key if variant is not None else str(d.variant_id)
    draft_of_key = {key_of[d.variant_id]: pk(d) for d in drafts}
    exports: list[dict[str, Any]] = []
    for export_id in _export_ids(session, camp, drafts):
        exp = session.get(Export, export_id)
        if exp is None:
            continue
        sent = _sent_from_file(exp, set(draft_of_key))
        source = "export file"
        if sent is None:
            sent = _audience_of(session, camp, [d.variant_id for d in drafts])
            source = "campaign audience (the export file is missing or altered: every recipient of these variants is listed)"
        exports.append(
            {
                "export_id": export_id,
                "sha256": exp.sha256,
                "created_at": exp.created_at.isoformat(),
                "files": [Path(p).name for p in (exp.jsonl_path, exp.csv_path) if p],
                "recipients_source": source,
                "recipients": [{**r, "draft_id": draft_of_key.get(r["variant"])} for r in sent],
            }
        )
    brand = session.get(Brand, camp.brand_id)
    return {
        "kind": "countersign.recall",
        "version": 1,
        "recall_id": recall_id,
        "scope": scope,
        "campaign": {"id": camp.id, "name": camp.name, "brand": brand.slug if brand else None, "channel": camp.channel},
        "drafts": [{"draft_id": pk(d), "variant": key_of[d.variant_id], "revision": d.revision, "content_hash": d.content_hash} for d in drafts],
        "exports": exports,
        "recipient_ids": sorted({r["recipient_id"] for e in exports for r in e["recipients"]}),
        "reason": reason,
        "recalled_by": {"username": actor.username, "full_name": actor.full_name},
        "recalled_at": utcnow().isoformat(),
    }


# ------------------------------------------------------------------ the files


def _json_bytes(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def _csv_bytes(payload: dict[str, Any]) -> bytes:
    from .export import safe_cell

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    camp, who = payload["campaign"], payload["recalled_by"]["username"]
    for exp in payload["exports"]:
        for r in exp["recipients"]:
            row = [payload["recall_id"], camp["id"], camp["name"], exp["export_id"], exp["sha256"], r.get("draft_id"), r["variant"], r["recipient_id"]]
            w.writerow([safe_cell(c) for c in [*row, payload["reason"], who, payload["recalled_at"]]])
    return out.getvalue().encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".recall-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(recall: Recall) -> None:
    """Write the recall's CSV, then its JSON (a reader that sees the JSON finds the CSV), each
    atomically, from the row's payload."""
    Path(recall.json_path).parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(Path(recall.csv_path), _csv_bytes(recall.payload))
    _atomic_write(Path(recall.json_path), _json_bytes(recall.payload))


def _write_after_commit(session: Session, recall: Recall) -> None:
    def committed() -> None:
        try:
            write_files(recall)
        except OSError as e:
            log.exception("recall files not written after commit")
            raise ConfigError(
                f"{recall.json_path}: recall {recall.id} is recorded (see the audit trail) but its files could not be written "
                f"({e.strerror or e}); write them again from the Exports page"
            ) from e

    after_outcome(session, committed=committed)


# ------------------------------------------------------------------ recording a recall


def _record(session: Session, actor: User, camp: Campaign, drafts: list[Draft], reason: str, scope: str) -> Recall:
    """The recall row, its audit event and (after commit) its files, for published `drafts`."""
    rec = Recall(campaign_id=pk(camp), scope=scope, draft_ids=[pk(d) for d in drafts], reason=reason, created_by=pk(actor))
    session.add(rec)
    session.flush()
    payload = _payload(session, actor, camp, drafts, reason, scope, pk(rec))
    directory = Path(settings().export_dir)
    stem = f"campaign-{camp.id}-recall-{rec.id}"
    rec.payload = payload
    rec.export_ids = [e["export_id"] for e in payload["exports"]]
    rec.recipient_count = len(payload["recipient_ids"])
    rec.json_path, rec.csv_path = str(directory / f"{stem}.json"), str(directory / f"{stem}.csv")
    rec.sha256 = hashlib.sha256(_json_bytes(payload)).hexdigest()
    session.add(rec)
    campaign_wide = scope == RecallScope.CAMPAIGN
    audit.append(
        session,
        actor=actor.username,
        action="campaign_recalled" if campaign_wide else "draft_recalled",
        entity="campaign" if campaign_wide else "draft",
        entity_id=camp.id if campaign_wide else drafts[0].id,
        after={
            "recall_id": rec.id,
            "campaign_id": camp.id,
            "draft_ids": rec.draft_ids,
            "export_ids": rec.export_ids,
            "recipients": rec.recipient_count,
            "reason": reason,
            "sha256": rec.sha256,
            "files": [Path(rec.json_path).name, Path(rec.csv_path).name],
        },
    )
    _write_after_commit(session, rec)
    audit.checkpoint_after_commit(session)
    return rec


def record_draft_withdrawal(session: Session, actor: User, draft: Draft, reason: str) -> Recall | None:
    """workflow.withdraw's hook, called under the draft's lock before its status changes: a
    published draft's content went out, so its withdrawal is recalled. None for any other draft."""
    if draft.status != S.PUBLISHED:
        return None
    camp = session.get(Campaign, draft.campaign_id)
    if camp is None:
        raise NotFound(f"draft {draft.id}'s campaign is gone")
    return _record(session, actor, camp, [draft], reason, RecallScope.DRAFT)


@dataclass(frozen=True)
class CampaignWithdrawal:
    campaign_id: int
    withdrawn: list[int]  # draft ids
    recall: Recall | None  # None when nothing of it had been published
    left: dict[str, int]  # drafts in other statuses, by status (not approved: nothing to withdraw)


def withdraw_campaign(session: Session, actor: User, campaign_id: int, comment: str) -> CampaignWithdrawal:
    """Withdraw every approved or published draft of a campaign (reviewer or admin, with a
    reason). Published content is recalled: one recall for the campaign, listing its exports
    and recipients. Taken under the campaign's and its drafts' locks: of two at once, the second
    finds nothing left to withdraw and is told who did it."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    text = (comment or "").strip()
    if len(text) < 3:
        raise InvalidInput("Withdrawing a campaign needs a comment saying why")
    camp = lock_campaign(session, campaign_id)
    drafts = lock_campaign_drafts(session, campaign_id)
    targets = [d for d in drafts if d.status in (S.APPROVED, S.PUBLISHED)]
    if not targets:
        gone = [d for d in drafts if d.status == S.WITHDRAWN]
        why = last_change(session, gone[-1]) if gone else "none of its drafts is approved or published"
        raise InvalidTransition(f"campaign '{camp.name}' has nothing to withdraw: {why}")
    published = [d for d in targets if d.status == S.PUBLISHED]
    recall = _record(session, actor, camp, published, text, RecallScope.CAMPAIGN) if published else None
    for d in targets:
        session.add(Comment(draft_id=pk(d), user_id=pk(actor), kind="withdraw", text=text, revision=d.revision))
        void_approvals(session, actor, d, "withdrawn")
        transition(session, d, S.WITHDRAWN, actor, reason=text, extra={"campaign_withdrawn": True, "recall_id": recall.id if recall else None})
    left = dict(Counter(d.status for d in drafts if d not in targets))
    audit.append(
        session,
        actor=actor.username,
        action="campaign_withdrawn",
        entity="campaign",
        entity_id=camp.id,
        after={
            "drafts": [pk(d) for d in targets],
            "published": [pk(d) for d in published],
            "recall_id": recall.id if recall else None,
            "reason": text,
            "left": left,
        },
    )
    return CampaignWithdrawal(pk(camp), [pk(d) for d in targets], recall, left)


# ------------------------------------------------------------------ reading and repairing


def list_recalls(session: Session, actor: User, campaign_id: int | None = None) -> list[Recall]:
    """Recalls, newest first (of one campaign, or all)."""
    require_role(actor, *Role.ALL)
    q = select(Recall).order_by(col(Recall.id).desc())
    if campaign_id is not None:
        q = q.where(Recall.campaign_id == campaign_id)
    return list(session.exec(q).all())


def rewrite_recall_files(session: Session, actor: User, recall_id: int) -> Recall:
    """Write a recall's files again from its row (after a failed write, or a lost folder); the
    JSON is byte for byte the one recorded (its sha256 is checked before anything is written)."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    rec = lock_one(session, Recall, recall_id, "recall")
    if hashlib.sha256(_json_bytes(rec.payload)).hexdigest() != rec.sha256:
        raise ConfigError(f"recall {recall_id}'s stored content no longer matches its recorded sha256; it is not written")
    audit.append(
        session,
        actor=actor.username,
        action="recall_files_written",
        entity="recall",
        entity_id=rec.id,
        after={"files": [Path(rec.json_path).name, Path(rec.csv_path).name]},
    )
    _write_after_commit(session, rec)
    return rec
