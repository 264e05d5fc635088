"""What the read-only API serves, as plain dataclasses (the `api/` package turns them into JSON).

Only published campaigns are visible: their content passed export's verification at the door
(review/export.py verify_campaign). Messages are read from the export's JSONL file itself (the
exact text that ships, the same bytes a download gives), and only after checking it against the
export's recorded SHA-256 *and* against the `campaign_published` audit event, whose MAC needs the
key outside the database: a file or an export row edited since is refused, not served. Drafts in
review, approved but unpublished campaigns and held-back recipients are never visible.

Pages are cursor-based and stable: campaigns in id order, messages in the export file's order
(recipient order), so a client walking the pages sees every item exactly once even while
campaigns are published or drafts withdrawn meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from . import audit
from .api_tokens import Principal
from .errors import Conflict, InvalidInput, NotFound
from .models import ApiScope, AuditEvent, Brand, Campaign, CampaignRecipient, Comment, Draft, Export, Status, Variant, pk

MAX_PAGE = 500
MESSAGE_STATUSES = ("published", "withdrawn", "all")


# ------------------------------------------------------------------ cursors


# Cursors name the last position served: `c<campaign id>` (campaigns after that id) and
# `m<export id>.<index>` (the export file's records from that index). The patterns are part of
# the OpenAPI description, so any cursor that matches them is one the API can continue from.
CAMPAIGN_CURSOR = r"^c[0-9]{1,10}$"
MESSAGE_CURSOR = r"^m[0-9]{1,10}\.[0-9]{1,10}$"


def _encode(kind: str, *values: int) -> str:
    return kind + ".".join(str(v) for v in values)


def _decode(kind: str, cursor: str, n: int) -> list[int]:
    pattern = CAMPAIGN_CURSOR if kind == "c" else MESSAGE_CURSOR
    if not re.match(pattern, cursor):
        raise InvalidInput("the cursor is not one this API returned (pass back next_cursor unchanged)")
    values = [int(v) for v in cursor[1:].split(".")]
    assert len(values) == n
    return values


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# ------------------------------------------------------------------ campaigns


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    name: str
    brand: str
    channel: str
    status: str  # published | partially_withdrawn | withdrawn
    published_at: datetime
    export_id: int
    messages: int
    held_back: int
    withdrawn_variants: int
    variants: int
    jsonl_sha256: str


@dataclass(frozen=True)
class CampaignPage:
    items: list[CampaignSummary]
    next_cursor: str | None


def _latest_exports(session: Session, campaign_ids: list[int]) -> dict[int, Export]:
    out: dict[int, Export] = {}
    for exp in session.exec(select(Export).where(col(Export.campaign_id).in_(campaign_ids)).order_by(col(Export.id))).all():
        out[exp.campaign_id] = exp
    return out


def _summaries(session: Session, camps: list[Campaign]) -> list[CampaignSummary]:
    ids = [pk(c) for c in camps]
    exports = _latest_exports(session, ids)
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    q = select(Draft.campaign_id, Draft.status, func.count()).where(col(Draft.campaign_id).in_(ids)).group_by(col(Draft.campaign_id), col(Draft.status))
    for campaign_id, status, n in session.exec(q).all():
        counts[campaign_id][status] = int(n)
    slugs = {b.id: b.slug for b in session.exec(select(Brand).where(col(Brand.id).in_({c.brand_id for c in camps}))).all()}
    out = []
    for c in camps:
        exp = exports[pk(c)]
        total, withdrawn = sum(counts[pk(c)].values()), counts[pk(c)].get(Status.WITHDRAWN, 0)
        status = "published" if withdrawn == 0 else ("withdrawn" if withdrawn == total else "partially_withdrawn")
        out.append(
            CampaignSummary(
                pk(c),
                c.name,
                slugs.get(c.brand_id, "?"),
                c.channel,
                status,
                _aware(exp.created_at),
                pk(exp),
                exp.row_count,
                exp.held_back,
                withdrawn,
                total,
                exp.sha256,
            )
        )
    return out


def _visible(principal: Principal) -> Any:
    published = col(Campaign.id).in_(select(Export.campaign_id))
    return published if principal.brand_id is None else published & (col(Campaign.brand_id) == principal.brand_id)


def list_campaigns(session: Session, principal: Principal, *, cursor: str | None = None, limit: int = 50) -> CampaignPage:
    """Published campaigns the token may see, oldest first."""
    principal.require(ApiScope.CAMPAIGNS_READ)
    limit = _limit(limit)
    after = _decode("c", cursor, 1)[0] if cursor else 0
    q = select(Campaign).where(_visible(principal), col(Campaign.id) > after).order_by(col(Campaign.id)).limit(limit + 1)
    camps = list(session.exec(q).all())
    more = len(camps) > limit
    camps = camps[:limit]
    return CampaignPage(_summaries(session, camps), _encode("c", pk(camps[-1])) if more else None)


def _campaign(session: Session, principal: Principal, campaign_id: int) -> Campaign:
    """A published campaign the token may see; anything else is 'not found' (another brand's
    campaign is not confirmed to exist)."""
    camp = session.exec(select(Campaign).where(_visible(principal), col(Campaign.id) == campaign_id)).first()
    if camp is None:
        raise NotFound(f"campaign {campaign_id} not found (or not published)")
    return camp


def get_campaign(session: Session, principal: Principal, campaign_id: int) -> CampaignSummary:
    principal.require(ApiScope.CAMPAIGNS_READ)
    return _summaries(session, [_campaign(session, principal, campaign_id)])[0]


# ------------------------------------------------------------------ messages


@dataclass(frozen=True)
class MessagePage:
    campaign_id: int
    export_id: int
    jsonl_sha256: str
    items: list[dict[str, Any]]  # the export's records, each with its "status" added
    next_cursor: str | None


_cache: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 8


def _published_event(session: Session, exp: Export) -> AuditEvent | None:
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "campaign_published", AuditEvent.entity == "campaign", AuditEvent.entity_id == str(exp.campaign_id))
    ).all()
    return next((ev for ev in events if (ev.after or {}).get("export_id") == exp.id), None)


def verified_records(session: Session, exp: Export) -> list[dict[str, Any]]:
    """The export's records, after checking the file and the export row against the keyed
    audit event. Parsed files are cached by (path, size, mtime, recorded hash)."""
    refuse = f"export {exp.id} of campaign {exp.campaign_id} does not verify"
    ev = _published_event(session, exp)
    key = audit.audit_key()
    assert key is not None
    if ev is None:
        raise Conflict(f"{refuse}: no publishing event in the audit trail; it is not served")
    problem = audit.event_problem(ev, key)
    if problem or ev.after.get("jsonl_sha256") != exp.sha256:
        raise Conflict(f"{refuse}: its record differs from the audit trail ({problem or 'hash changed'}); it is not served")
    path = Path(exp.jsonl_path)
    try:
        st = path.stat()
    except OSError:
        raise Conflict(f"{refuse}: its file {path.name} is missing; it is not served") from None
    cache_key = (exp.id, str(path), st.st_size, st.st_mtime_ns, exp.sha256)
    with _cache_lock:
        if cache_key in _cache:
            _cache.move_to_end(cache_key)
            return _cache[cache_key]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != exp.sha256:
        raise Conflict(f"{refuse}: its file {path.name} changed since it was published; it is not served")
    records = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    with _cache_lock:
        _cache[cache_key] = records
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return records


def list_messages(
    session: Session, principal: Principal, campaign_id: int, *, cursor: str | None = None, limit: int = 100, status: str = "published"
) -> MessagePage:
    """A page of a published campaign's messages, one per recipient, in the export's order.
    `status`: `published` (what may be sent), `withdrawn` (recalled: do not send), or `all`."""
    principal.require(ApiScope.MESSAGES_READ)
    limit = _limit(limit)
    if status not in MESSAGE_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(MESSAGE_STATUSES)}")
    camp = _campaign(session, principal, campaign_id)
    exp = _latest_exports(session, [pk(camp)])[pk(camp)]
    start = 0
    if cursor:
        export_id, start = _decode("m", cursor, 2)
        if export_id != exp.id:
            raise Conflict(f"the cursor belongs to export {export_id}; campaign {camp.id} now serves export {exp.id}: start again without a cursor")
    records = verified_records(session, exp)
    by_key = dict(
        session.exec(select(Variant.key, Draft.status).join(Draft, col(Draft.variant_id) == col(Variant.id)).where(Variant.campaign_id == camp.id)).all()
    )
    items: list[dict[str, Any]] = []
    next_cursor = None
    for i in range(start, len(records)):
        rec = records[i]
        state = "withdrawn" if by_key.get(rec["variant"]) == Status.WITHDRAWN else "published"
        if status != "all" and state != status:
            continue
        if len(items) == limit:
            next_cursor = _encode("m", pk(exp), i)
            break
        items.append({**rec, "status": state})
    return MessagePage(pk(camp), pk(exp), exp.sha256, items, next_cursor)


# ------------------------------------------------------------------ recalls


@dataclass(frozen=True)
class Recall:
    draft_id: int
    variant: str
    recipients: int
    withdrawn_at: datetime
    reason: str


def list_recalls(session: Session, principal: Principal, campaign_id: int) -> list[Recall]:
    """The campaign's withdrawn drafts: their recipients' messages must not be sent (or must be
    stopped). Each names its audience group (`variant`, as on every message) and the reason."""
    principal.require(ApiScope.CAMPAIGNS_READ)
    camp = _campaign(session, principal, campaign_id)
    drafts = session.exec(select(Draft).where(Draft.campaign_id == camp.id, Draft.status == Status.WITHDRAWN).order_by(col(Draft.id))).all()
    out = []
    for d in drafts:
        variant = session.get(Variant, d.variant_id)
        assert variant is not None
        note = session.exec(select(Comment).where(Comment.draft_id == d.id, Comment.kind == "withdraw").order_by(col(Comment.id).desc())).first()
        n = session.exec(select(func.count()).select_from(CampaignRecipient).where(CampaignRecipient.variant_id == variant.id)).one()
        when = _aware(note.created_at) if note else _aware(d.updated_at)
        out.append(Recall(pk(d), variant.key, int(n), when, note.text if note else ""))
    return out
